-- Pauses one enrollment, if it is still in the state it was read in; its due time stays.
-- $1: the new state (paused). $2: reason. $3: now. $4: the enrollment. $5: its state as read.
UPDATE enrollments
SET state = $1, reason = $2, updated_at = $3
WHERE id = $4 AND state = $5

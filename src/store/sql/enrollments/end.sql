-- Ends one enrollment in a final state, which is also its outcome, if it is still in the
-- state it was read in; nothing is due any more.
-- $1: the new state. $2: reason. $3: now. $4: the enrollment. $5: its state as read.
UPDATE enrollments
SET state = $1, reason = $2, updated_at = $3, next_due_at = NULL, finished_at = $3, outcome = $1
WHERE id = $4 AND state = $5

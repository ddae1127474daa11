-- Resumes one enrollment, if it is still in the state it was read in: a past due time becomes
-- now, a pause's end is forgotten.
-- $1: the new state (active). $2: reason. $3: now. $4: the enrollment. $5: its state as read.
UPDATE enrollments
SET state = $1, reason = $2, updated_at = $3, paused_until = NULL,
    next_due_at = CASE WHEN next_due_at IS NULL OR next_due_at < $3 THEN $3 ELSE next_due_at END
WHERE id = $4 AND state = $5

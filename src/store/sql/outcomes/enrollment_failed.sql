-- An open enrollment whose step failed for good becomes failed, paused or bounced; a pause
-- keeps its outcome, any other state is the outcome.
-- $1: now. $2: the new state. $3: the error. $4: the enrollment.
-- $5: when it finished (NULL unless the new state is final).
UPDATE enrollments
SET state = $2, reason = $3, updated_at = $1, next_due_at = NULL,
    lease_owner = NULL, lease_until = NULL, finished_at = $5,
    outcome = CASE WHEN $2 IN ('paused') THEN outcome ELSE $2 END
WHERE id = $4 AND state IN ('active', 'paused')

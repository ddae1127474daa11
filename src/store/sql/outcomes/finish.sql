-- An open enrollment ran its last step: it is finished (a stopped one stays put).
-- $1: now. $2: the enrollment.
UPDATE enrollments
SET state = 'finished', outcome = 'finished', next_step_id = NULL, next_due_at = NULL,
    lease_owner = NULL, lease_until = NULL, finished_at = $1, updated_at = $1
WHERE id = $2 AND state IN ('active', 'paused')

-- A leased enrollment whose step cannot be rendered pauses at that step, for the rep to see.
-- $1: the reason. $2: now. $3: the step. $4: the enrollment. $5: this daemon.
UPDATE enrollments
SET state = 'paused', reason = $1, updated_at = $2, lease_owner = NULL, lease_until = NULL,
    next_step_id = $3
WHERE id = $4 AND state = 'active' AND lease_owner = $5

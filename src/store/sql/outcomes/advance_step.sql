-- An open enrollment moves to its next step, without a lease (a stopped one stays put).
-- $1: the step. $2: when due. $3: now. $4: the enrollment.
UPDATE enrollments
SET next_step_id = $1, next_due_at = $2, lease_owner = NULL, lease_until = NULL, updated_at = $3
WHERE id = $4 AND state IN ('active', 'paused')

-- Gives a leased enrollment back without doing its step: it becomes due at its new time, with
-- its new step when one is given.
-- $1: the step, or NULL to keep it. $2: when due. $3: now. $4: the enrollment. $5: this daemon.
UPDATE enrollments
SET next_step_id = COALESCE($1, next_step_id), next_due_at = $2,
    lease_owner = NULL, lease_until = NULL, updated_at = $3
WHERE id = $4 AND state = 'active' AND lease_owner = $5

-- An approved draft's enrollment is due now at the draft's step: the daemon's next tick sends
-- it (inside the send window) through the normal claim.
-- $1: the step. $2: now. $3: the enrollment.
UPDATE enrollments SET next_step_id = $1, next_due_at = $2, updated_at = $2
WHERE id = $3 AND state = 'active'

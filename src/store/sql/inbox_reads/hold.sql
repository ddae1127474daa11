-- Gives a leased follow-up back to wait for its mailbox's inbox: due again at $2, marked held
-- (since the first time it was held).
-- $1: the step, or NULL to keep it. $2: when due. $3: now. $4: the enrollment. $5: this daemon.
UPDATE enrollments
SET next_step_id = COALESCE($1, next_step_id), next_due_at = $2,
    inbox_held_at = COALESCE(inbox_held_at, $3),
    lease_owner = NULL, lease_until = NULL, updated_at = $3
WHERE id = $4 AND state = 'active' AND lease_owner = $5

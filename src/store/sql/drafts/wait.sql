-- An enrollment leased by this daemon waits for its draft: without a lease, due at the
-- draft's deadline (NULL: until the rep acts).
-- $1: when due, or NULL. $2: now. $3: the enrollment. $4: this daemon.
UPDATE enrollments
SET next_due_at = $1, lease_owner = NULL, lease_until = NULL, updated_at = $2
WHERE id = $3 AND state = 'active' AND lease_owner = $4

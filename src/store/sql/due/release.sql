-- Drops an enrollment's lease.
-- $1: now. $2: the enrollment.
UPDATE enrollments SET lease_owner = NULL, lease_until = NULL, updated_at = $1 WHERE id = $2

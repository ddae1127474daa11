-- An open enrollment becomes due again (a retry, a send resolved as not sent), without a lease.
-- $1: when due. $2: now. $3: the enrollment.
UPDATE enrollments
SET next_due_at = $1, lease_owner = NULL, lease_until = NULL, updated_at = $2
WHERE id = $3 AND state IN ('active', 'paused')

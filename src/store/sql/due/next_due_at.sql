-- When the earliest active enrollment that nobody holds is due.
-- $1: now.
SELECT MIN(next_due_at) AS t FROM enrollments
WHERE state = 'active' AND next_due_at IS NOT NULL AND (lease_until IS NULL OR lease_until < $1)

-- Whether another daemon's lease ran out (one indexed look).
-- $1: this daemon. $2: now.
SELECT id FROM enrollments
WHERE lease_owner IS NOT NULL AND lease_owner <> $1 AND lease_until < $2
LIMIT 1

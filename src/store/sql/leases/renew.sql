-- Extends every lease a daemon holds (it is alive and still on them).
-- $1: the new lease end. $2: the daemon.
UPDATE enrollments SET lease_until = $1
WHERE lease_owner = $2 AND lease_until IS NOT NULL AND lease_until < $1

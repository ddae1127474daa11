-- An enrollment whose address is suppressed stops, without its lease.
-- $1: now. $2: the enrollment.
UPDATE enrollments
SET state = 'stopped', outcome = 'suppressed', reason = 'the address is on the suppression list',
    finished_at = $1, lease_owner = NULL, lease_until = NULL
WHERE id = $2

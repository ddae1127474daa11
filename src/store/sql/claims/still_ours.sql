-- Of these enrollments, those still active and leased by this daemon.
-- $1: this daemon. $2: the enrollments (a list).
SELECT id FROM enrollments WHERE state = 'active' AND lease_owner = $1 AND id IN $2

-- Leaves a leased enrollment to the daemon that holds the mailbox its next email goes from:
-- the lease ends and `sender` names that mailbox, so its holder leases it (still due now).
-- $1: the mailbox. $2: now. $3: the enrollment. $4: this daemon.
UPDATE enrollments SET sender = $1, lease_owner = NULL, lease_until = NULL, updated_at = $2
WHERE id = $3 AND lease_owner = $4

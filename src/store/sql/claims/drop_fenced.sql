-- Drops this daemon's lease of an enrollment whose email claim the fence refused (the mailbox
-- moved to another daemon): still due, it is leased again by the mailbox's holder.
-- $1: the enrollment. $2: this daemon.
UPDATE enrollments SET lease_owner = NULL, lease_until = NULL WHERE id = $1 AND lease_owner = $2

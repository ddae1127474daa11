-- Short, renewed leases, and touches known unsent. Keep in step with
-- migrations/postgres/0011_leases.sql.

-- A claimed touch is `sending` from its claim until its outcome is recorded, but the server can
-- only have the message once it was ready for the body. handed_at says that moment may have
-- come (set at the claim while the mailbox's connections work, or just before the first body
-- after they did not). After a crash a `sending` touch without it goes back to the queue with
-- its Message-ID; one with it is uncertain. Touches already sending keep the old rule.
ALTER TABLE touches ADD COLUMN handed_at BIGINT;
UPDATE touches SET handed_at = claimed_at WHERE state = 'sending';

-- Leases are short and renewed by their holder every few seconds; a daemon that stops renewing
-- is dead and its leases are taken over. The leased rows are few: this finds them.
CREATE INDEX enrollments_leased ON enrollments (lease_owner, lease_until) WHERE lease_owner IS NOT NULL;

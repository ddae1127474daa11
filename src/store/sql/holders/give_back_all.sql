-- Gives back every mailbox lease of a daemon (at its start, so that it takes them again under
-- new epochs; at a clean stop, so that others take them at once).
-- $1: the new end. $2: the daemon.
UPDATE mailbox_holders SET until = $1 WHERE owner = $2

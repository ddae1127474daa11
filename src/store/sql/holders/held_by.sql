-- The mailboxes a daemon holds, with their epochs (a claim refused by the fence is told apart
-- from one refused by a suppression).
-- $1: the daemon.
SELECT mailbox, epoch FROM mailbox_holders WHERE owner = $1

-- Every mailbox lease, for `status` and `/metrics`.
SELECT mailbox, owner, epoch, since, until FROM mailbox_holders ORDER BY mailbox

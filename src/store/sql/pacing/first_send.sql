-- The first email a mailbox ever sent: one probe of the (mailbox, sent_at) index.
-- $1: the mailbox.
SELECT MIN(sent_at) FROM touches WHERE mailbox = $1 AND sent_at IS NOT NULL

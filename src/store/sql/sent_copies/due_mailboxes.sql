-- The mailboxes with a pending Sent-folder copy due for an attempt.
-- $1: now.
SELECT DISTINCT mailbox FROM sent_copies WHERE state = 'pending' AND next_at <= $1
ORDER BY mailbox

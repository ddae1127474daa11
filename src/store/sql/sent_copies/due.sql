-- The pending Sent-folder copies of a mailbox due for an attempt, oldest first.
-- $1: the mailbox. $2: now. $3: how many at most.
SELECT id, touch_id, mailbox, message_id, message, attempts
FROM sent_copies
WHERE state = 'pending' AND mailbox = $1 AND next_at <= $2
ORDER BY next_at, id
LIMIT $3

-- Queues the Sent-folder copy of each touch still to record (before `mark_sent`); a touch
-- recorded already, or whose copy is queued, queues nothing.
-- v: (touch, message): the message as sent. $1: when sent.
INSERT INTO sent_copies (touch_id, mailbox, message_id, message, state, next_at, created_at)
SELECT t.id, t.mailbox, t.message_id, v.message, 'pending', $1, $1
FROM v JOIN touches t ON t.id = v.touch
WHERE t.state IN ('sending', 'uncertain') AND t.mailbox IS NOT NULL AND t.message_id IS NOT NULL
ON CONFLICT (touch_id) DO NOTHING

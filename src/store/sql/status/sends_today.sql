-- Emails sent per mailbox since the start of today.
-- $1: the start of today (the config's time zone).
SELECT mailbox, COUNT(*) AS n FROM touches
WHERE state = 'sent' AND sent_at >= $1 AND mailbox IS NOT NULL
GROUP BY mailbox

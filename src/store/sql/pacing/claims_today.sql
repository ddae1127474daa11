-- Emails claimed per mailbox since the start of its day, and its last claim. Reads only
-- today's touches (the `touches_mailbox_claimed` index).
-- $1: the start of the day.
SELECT mailbox, COUNT(*) AS n, MAX(claimed_at) AS last
FROM touches
WHERE kind = 'email' AND claimed_at >= $1 AND mailbox IS NOT NULL
  AND state IN ('sending', 'sent', 'uncertain')
GROUP BY mailbox

-- Emails failed and uncertain per mailbox: the partial index of touches that need attention.
SELECT mailbox, state, COUNT(*) AS n FROM touches
WHERE state IN ('failed', 'uncertain') AND mailbox IS NOT NULL
GROUP BY mailbox, state

-- Hand-overs after the first, per mailbox.
SELECT mailbox, CAST(SUM(attempt - 1) AS BIGINT) AS n FROM touches
WHERE attempt > 1 AND mailbox IS NOT NULL
GROUP BY mailbox

-- Per mailbox, the copies waiting and given up, with the latest error.
SELECT mailbox,
       SUM(CASE WHEN state = 'pending' THEN 1 ELSE 0 END) AS pending,
       SUM(CASE WHEN state = 'failed' THEN 1 ELSE 0 END) AS failed,
       MAX(error) AS error
FROM sent_copies
WHERE state IN ('pending', 'failed')
GROUP BY mailbox
ORDER BY mailbox

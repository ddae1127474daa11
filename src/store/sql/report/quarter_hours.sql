-- Emails sent and replies per quarter-hour of a period, oldest first; quarter-hours with
-- neither are left out.
-- $1: since. $2: until (excluded).
SELECT at / 900 AS q,
       CAST(SUM(CASE WHEN kind = 'sent' THEN 1 ELSE 0 END) AS BIGINT) AS sent,
       CAST(SUM(CASE WHEN kind = 'replied' THEN 1 ELSE 0 END) AS BIGINT) AS replied
FROM events
WHERE kind IN ('sent', 'replied') AND at >= $1 AND at < $2
GROUP BY at / 900
ORDER BY q

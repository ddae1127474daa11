-- How many leads of each of these accounts have an open (active or paused) enrollment.
-- $1: the accounts (a list).
SELECT l.account_id AS k, COUNT(DISTINCT l.id) AS n
FROM leads l JOIN enrollments e ON e.lead_id = l.id
WHERE l.account_id IN $1 AND e.state IN ('active', 'paused')
GROUP BY l.account_id

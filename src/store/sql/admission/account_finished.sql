-- The same for anyone at these accounts.
-- $1: the accounts (a list).
SELECT l.account_id AS k, MAX(e.finished_at) AS at
FROM leads l JOIN enrollments e ON e.lead_id = l.id
WHERE l.account_id IN $1 AND e.finished_at IS NOT NULL AND e.state NOT IN ('active', 'paused')
  AND EXISTS (SELECT 1 FROM touches t WHERE t.enrollment_id = e.id AND t.sent_at IS NOT NULL)
GROUP BY l.account_id

-- The accounts of these leads (a free-mail lead has none).
-- $1: the leads (a list).
SELECT l.id AS lead_id, a.id AS account_id, a.domain
FROM leads l JOIN accounts a ON a.id = l.account_id
WHERE l.id IN $1

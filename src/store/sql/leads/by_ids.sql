-- Leads by id, with their account's domain; forgotten leads are left out.
-- $1: the ids (a list).
SELECT id, email, first_name, last_name, company, title, timezone, phone, owner, custom,
       source, created_at, updated_at, fingerprint,
       (SELECT domain FROM accounts a WHERE a.id = leads.account_id) AS account
FROM leads
WHERE forgotten_at IS NULL AND id IN $1

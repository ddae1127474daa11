-- The lead with this address, with its account's domain.
-- $1: the address, normalized as `Email` stores it.
SELECT id, email, first_name, last_name, company, title, timezone, phone, owner, custom,
       source, created_at, updated_at, fingerprint,
       (SELECT domain FROM accounts a WHERE a.id = leads.account_id) AS account
FROM leads
WHERE email = $1

-- What the store holds for these addresses: an upsert folds its records over it.
-- $1: the addresses (a list).
SELECT id, email, first_name, last_name, company, title, timezone, phone, owner, custom,
       source, created_at, updated_at, fingerprint
FROM leads
WHERE email IN $1

-- Writes leads: a new address is inserted; a stored one takes the record folded over it (an
-- empty field of an import was filled from the stored lead before, so nothing is erased).
-- Where a lead came from, and when it first came, stay as they were. Returns each one's id.
-- v: (email, first_name, last_name, company, title, timezone, phone, owner, account_id,
--     custom, fingerprint), one row per address. $1: source. $2: now.
-- `WHERE true`: without it SQLite would read `ON CONFLICT` as the `ON` of a join.
INSERT INTO leads (email, first_name, last_name, company, title, timezone, phone, owner,
                   account_id, custom, fingerprint, source, created_at, updated_at)
SELECT v.email, v.first_name, v.last_name, v.company, v.title, v.timezone, v.phone, v.owner,
       v.account_id, v.custom, v.fingerprint, $1, $2, $2
FROM v WHERE true
ON CONFLICT (email) DO UPDATE SET
    first_name = excluded.first_name, last_name = excluded.last_name,
    company = excluded.company, title = excluded.title, timezone = excluded.timezone,
    phone = excluded.phone, owner = excluded.owner, account_id = excluded.account_id,
    custom = excluded.custom, fingerprint = excluded.fingerprint,
    updated_at = excluded.updated_at
RETURNING id, email

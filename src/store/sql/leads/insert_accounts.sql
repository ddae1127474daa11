-- One account per company domain; an account stored already keeps its name.
-- v: (domain, name), one row per domain. $1: now.
-- `WHERE true`: without it SQLite would read `ON CONFLICT` as the `ON` of a join.
INSERT INTO accounts (domain, name, created_at)
SELECT v.domain, v.name, $1 FROM v WHERE true
ON CONFLICT (domain) DO NOTHING

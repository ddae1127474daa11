-- One account per company domain; an account stored already keeps its name.
-- v: (domain, name), one row per domain. $1: now.
-- `WHERE true`: without it SQLite would read `ON CONFLICT` as the `ON` of a join. In domain
-- order: two batches creating the same new accounts wait on each other in one order instead
-- of deadlocking (leads sorted by address are not sorted by domain).
INSERT INTO accounts (domain, name, created_at)
SELECT v.domain, v.name, $1 FROM v WHERE true ORDER BY v.domain
ON CONFLICT (domain) DO NOTHING

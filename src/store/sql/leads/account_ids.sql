-- The ids of the accounts of these domains.
-- $1: the domains (a list).
SELECT id, domain FROM accounts WHERE domain IN $1

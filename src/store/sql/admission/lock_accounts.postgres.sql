-- Holds these accounts until the enrolling transaction ends, so that two transactions
-- enrolling leads of one capped account count one after the other (SQLite's write
-- transactions are one at a time already). Always in id order: no deadlock between them.
-- $1: the accounts (a list).
SELECT id FROM accounts WHERE id IN $1 ORDER BY id FOR UPDATE

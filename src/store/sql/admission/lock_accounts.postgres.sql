-- Holds these accounts until the enrolling transaction ends, so that two transactions
-- enrolling leads of one capped account count one after the other (SQLite's write
-- transactions are one at a time already). Always in id order: no deadlock between them.
-- NO KEY UPDATE: a lead being written with this account (its foreign key takes KEY SHARE)
-- does not wait for this transaction.
-- $1: the accounts (a list).
SELECT id FROM accounts WHERE id IN $1 ORDER BY id FOR NO KEY UPDATE

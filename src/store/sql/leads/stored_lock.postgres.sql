
-- Appended to stored.sql on PostgreSQL: the rows read stay locked until the upsert's
-- transaction ends, taken in id order as the admission takes them (lock_leads), so an upsert
-- and an enrollment sharing leads queue instead of deadlocking. NO KEY UPDATE, not UPDATE: a
-- touch or an enrollment being written for one of these leads (its foreign key takes KEY
-- SHARE) does not wait for this transaction while this one waits for it.
ORDER BY id FOR NO KEY UPDATE

-- Holds these leads until the enrolling transaction ends, so that two transactions enrolling
-- one lead into two exclusive sequences see each other's enrollment. In id order, as an
-- upsert locks them (stored_lock). NO KEY UPDATE: a touch being written for one of these
-- leads by the scheduler (its foreign key takes KEY SHARE) does not wait for this
-- transaction while this one waits for the scheduler's enrollment update.
-- $1: the leads (a list).
SELECT id FROM leads WHERE id IN $1 ORDER BY id FOR NO KEY UPDATE

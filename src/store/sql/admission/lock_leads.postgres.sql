-- Holds these leads until the enrolling transaction ends, so that two transactions enrolling
-- one lead into two exclusive sequences see each other's enrollment. In id order.
-- $1: the leads (a list).
SELECT id FROM leads WHERE id IN $1 ORDER BY id FOR UPDATE

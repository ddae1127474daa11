-- Forgotten people keep an anonymous row. Keep in step with migrations/postgres/0009_forgotten.sql.

-- `drumbeat forget` used to delete the lead, which cut its events loose (lead_id set to NULL):
-- a past report then counted each of its emails as a different person and lost its first touch.
-- Now the row stays with every personal field erased (email 'forgotten:ID', names, company,
-- phone, time zone, custom fields, account) and the time it was forgotten, so that its events
-- keep one anonymous lead and reports keep their numbers. Their events' enrollment and touch
-- ids are negated (see Store::forget). Every lookup of current leads skips these rows.
ALTER TABLE leads ADD COLUMN forgotten_at BIGINT;

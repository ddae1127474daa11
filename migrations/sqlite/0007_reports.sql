-- Reports count from the events table alone, so a report for a past period never changes.
-- Keep in step with migrations/postgres/0007_reports.sql.

-- A lead's events by kind: when it was first emailed, how many touches it got.
DROP INDEX events_lead;
CREATE INDEX events_lead_kind ON events (lead_id, kind, at);

-- Leads stored before this migration arrived when they were created, owned by their owner of
-- today (the best there is).
INSERT INTO events (at, kind, lead_id, mailbox, data)
SELECT created_at, 'received', id, owner, json_object('source', source, 'backfilled', json('true'))
FROM leads ORDER BY id;

-- `drumbeat stop` wrote its stops with the state they came from; the report counts them as
-- stopped by hand.
UPDATE events SET data = json_set(data, '$.by', 'hand')
WHERE kind = 'stopped' AND json_extract(data, '$.from') IS NOT NULL;

-- Replies a rep already dealt with, and what came of them.
INSERT INTO events (at, kind, lead_id, enrollment_id, touch_id, mailbox, data)
SELECT handled_at, 'reply-handled', lead_id, enrollment_id, touch_id, mailbox,
       json_object('reply', id, 'outcome', outcome)
FROM inbound WHERE handled_at IS NOT NULL ORDER BY handled_at, id;

-- Emails sent before this migration: the A/B variant each carried, for the report by variant.
UPDATE events SET data = json_set(data, '$.variant', (SELECT t.variant FROM touches t WHERE t.id = events.touch_id))
WHERE kind = 'sent' AND touch_id IS NOT NULL;

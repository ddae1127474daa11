-- A lead's timeline, oldest first.
-- $1: the lead.
SELECT id, at, kind, sequence_id, step_id, mailbox, data
FROM events
WHERE lead_id = $1
ORDER BY at, id

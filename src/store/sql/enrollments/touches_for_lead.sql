-- A lead's touches, oldest first.
-- $1: the lead.
SELECT id, sequence_id, step_id, kind, variant, state, mailbox, message_id, subject, sent_at, error
FROM touches
WHERE lead_id = $1
ORDER BY created_at, id

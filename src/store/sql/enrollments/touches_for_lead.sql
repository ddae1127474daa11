-- A lead's touches, oldest first, with the state of a task step's task (open, done, skipped).
-- $1: the lead.
SELECT t.id, t.sequence_id, t.step_id, t.kind, t.variant, t.state, t.mailbox, t.message_id,
       t.subject, t.sent_at, t.error, k.state AS task_state
FROM touches t
LEFT JOIN tasks k ON k.touch_id = t.id
WHERE t.lead_id = $1
ORDER BY t.created_at, t.id

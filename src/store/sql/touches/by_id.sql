-- One touch, as recovery and `resolve` see it.
-- $1: the touch.
SELECT id, enrollment_id, lead_id, sequence_id, step_id, kind, state, mailbox, message_id,
       subject, claimed_at, error
FROM touches
WHERE id = $1

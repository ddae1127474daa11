-- The email with this Message-ID, as recovery and `resolve` see a touch.
-- $1: the Message-ID (`<id@domain>`).
SELECT id, enrollment_id, lead_id, sequence_id, step_id, kind, state, mailbox, message_id,
       subject, claimed_at, error
FROM touches
WHERE message_id = $1

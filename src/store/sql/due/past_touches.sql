-- The touches these enrollments already have, oldest first.
-- $1: the enrollments (a list).
SELECT id, enrollment_id, step_id, kind, state, message_id, subject, sent_at, attempt, mailbox
FROM touches
WHERE enrollment_id IN $1
ORDER BY id

-- Moves each enrollment past its touch still to record. The first email of a thread names it
-- (subject, Message-ID, mailbox); later threaded steps fill in only what is missing. An open
-- (active or paused) enrollment goes to its next step or finishes, without its lease; one
-- stopped meanwhile (by a reply that raced the send) stays as it is. Every right-hand side
-- reads the row as it was before this update.
-- v: (touch, response, fresh, step, due, finish): `fresh` = 1 for a thread's first email,
--    `finish` = 1 for a last step (`step` and `due` are then NULL). $1: when sent.
UPDATE enrollments SET
    mailbox = CASE WHEN t.kind = 'email' THEN COALESCE(enrollments.mailbox, t.mailbox)
                   ELSE enrollments.mailbox END,
    thread_subject = CASE WHEN t.kind <> 'email' THEN enrollments.thread_subject
                          WHEN v.fresh = 1 THEN t.subject
                          ELSE COALESCE(enrollments.thread_subject, t.subject) END,
    thread_message_id = CASE WHEN t.kind <> 'email' THEN enrollments.thread_message_id
                             WHEN v.fresh = 1 THEN t.message_id
                             ELSE COALESCE(enrollments.thread_message_id, t.message_id) END,
    next_step_id = CASE WHEN enrollments.state IN ('active', 'paused') THEN v.step
                        ELSE enrollments.next_step_id END,
    next_due_at = CASE WHEN enrollments.state IN ('active', 'paused') THEN v.due
                       ELSE enrollments.next_due_at END,
    lease_owner = CASE WHEN enrollments.state IN ('active', 'paused') THEN NULL
                       ELSE enrollments.lease_owner END,
    lease_until = CASE WHEN enrollments.state IN ('active', 'paused') THEN NULL
                       ELSE enrollments.lease_until END,
    state = CASE WHEN enrollments.state IN ('active', 'paused') AND v.finish = 1 THEN 'finished'
                 ELSE enrollments.state END,
    outcome = CASE WHEN enrollments.state IN ('active', 'paused') AND v.finish = 1 THEN 'finished'
                   ELSE enrollments.outcome END,
    updated_at = CASE WHEN enrollments.state IN ('active', 'paused') THEN $1
                      ELSE enrollments.updated_at END,
    finished_at = CASE WHEN enrollments.state IN ('active', 'paused') AND v.finish = 1 THEN $1
                       ELSE enrollments.finished_at END
FROM v JOIN touches t ON t.id = v.touch
WHERE enrollments.id = t.enrollment_id AND t.state IN ('sending', 'uncertain')

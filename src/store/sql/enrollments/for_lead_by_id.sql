-- A lead's enrollments, with its address, in the order they were made (ids), for a change of
-- state inside a write transaction.
-- $1: the lead.
SELECT e.id, e.lead_id, l.email, e.sequence_id, e.state, e.next_step_id, e.next_due_at,
       e.mailbox, e.paused_until, e.outcome, e.reason, e.enrolled_at, e.finished_at
FROM enrollments e JOIN leads l ON l.id = e.lead_id
WHERE e.lead_id = $1
ORDER BY e.id

-- The next steps of active enrollments, soonest first.
-- $1: how many.
SELECT l.email, e.sequence_id, e.next_step_id, e.next_due_at, e.mailbox
FROM enrollments e JOIN leads l ON l.id = e.lead_id
WHERE e.state = 'active' AND e.next_due_at IS NOT NULL
ORDER BY e.next_due_at, e.id
LIMIT $1

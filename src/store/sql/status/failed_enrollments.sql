-- Enrollments that failed and wait for a person, most recent first.
SELECT l.email, e.sequence_id, e.next_step_id, e.updated_at, e.reason
FROM enrollments e JOIN leads l ON l.id = e.lead_id
WHERE e.state = 'failed'
ORDER BY e.updated_at DESC
LIMIT 100

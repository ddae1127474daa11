-- Open tasks past due, most overdue first.
-- $1: now.
SELECT t.id, l.email, e.sequence_id, t.kind, t.due_at, t.note
FROM tasks t
JOIN leads l ON l.id = t.lead_id
JOIN enrollments e ON e.id = t.enrollment_id
WHERE t.state = 'open' AND t.due_at < $1
ORDER BY t.due_at
LIMIT 100

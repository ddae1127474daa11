-- Open tasks past due, most overdue first, with the step and touch they belong to.
-- $1: now.
SELECT t.id, l.email, e.sequence_id, t.kind, t.due_at, t.note, t.touch_id, th.step_id
FROM tasks t
JOIN leads l ON l.id = t.lead_id
JOIN enrollments e ON e.id = t.enrollment_id
LEFT JOIN touches th ON th.id = t.touch_id
WHERE t.state = 'open' AND t.due_at < $1
ORDER BY t.due_at
LIMIT 100

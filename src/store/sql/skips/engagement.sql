-- Which steps' emails of these enrollments were opened or clicked (for step conditions).
-- $1: the enrollments (a list).
SELECT DISTINCT t.enrollment_id, t.step_id, e.kind
FROM touches t
JOIN events e ON e.lead_id = t.lead_id AND e.touch_id = t.id
WHERE t.enrollment_id IN $1 AND t.kind = 'email' AND e.kind IN ('opened', 'clicked')

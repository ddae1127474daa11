-- The opens and clicks of these enrollments' emails (for step conditions), with their data
-- (`human` false: a link scanner's click or a privacy proxy's open).
-- $1: the enrollments (a list).
SELECT t.enrollment_id, t.step_id, e.kind, e.data
FROM touches t
JOIN events e ON e.lead_id = t.lead_id AND e.touch_id = t.id
WHERE t.enrollment_id IN $1 AND t.kind = 'email' AND e.kind IN ('opened', 'clicked')

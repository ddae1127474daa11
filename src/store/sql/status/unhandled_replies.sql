-- Replies the rep has not marked handled (they owe an answer), newest first.
SELECT i.id, i.kind, i.received_at, i.evidence, l.email, e.sequence_id
FROM inbound i
LEFT JOIN leads l ON l.id = i.lead_id
LEFT JOIN enrollments e ON e.id = i.enrollment_id
WHERE i.handled_at IS NULL
ORDER BY i.received_at DESC
LIMIT 100

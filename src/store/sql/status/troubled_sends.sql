-- Sends that need a person (uncertain or failed), newest first.
SELECT t.id, t.state, t.sequence_id, t.step_id, t.error,
       COALESCE(t.claimed_at, t.created_at) AS at, l.email
FROM touches t JOIN leads l ON l.id = t.lead_id
WHERE t.state IN ('uncertain', 'failed')
ORDER BY at DESC
LIMIT 100

-- The sequences of a lead's open (active or paused) enrollments, in the order they were made.
-- $1: the lead.
SELECT sequence_id FROM enrollments
WHERE lead_id = $1 AND state IN ('active', 'paused')
ORDER BY id

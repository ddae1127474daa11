-- The enrollments that matter to enrolling these leads into a sequence: the open (active or
-- paused) ones, and any in that sequence.
-- $1: the leads (a list). $2: the sequence.
SELECT lead_id, sequence_id FROM enrollments
WHERE lead_id IN $1 AND (state IN ('active', 'paused') OR sequence_id = $2)

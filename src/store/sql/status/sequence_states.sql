-- Enrollments per sequence and state.
SELECT sequence_id, state, COUNT(*) AS n FROM enrollments GROUP BY sequence_id, state

-- Enrolls leads into a sequence; a lead already in it (in any state) is left alone. Returns
-- the enrollments made.
-- v: (lead_id, first_step, due_at), one row per lead. $1: the sequence. $2: the state
--    (active). $3: now.
-- `WHERE true`: without it SQLite would read `ON CONFLICT` as the `ON` of a join.
INSERT INTO enrollments (lead_id, sequence_id, state, next_step_id, next_due_at, enrolled_at,
                         updated_at)
SELECT v.lead_id, $1, $2, v.first_step, v.due_at, $3, $3 FROM v WHERE true
ON CONFLICT (lead_id, sequence_id) DO NOTHING
RETURNING id, lead_id

-- The touch of a task step, `scheduled` until the rep does or skips the task; nothing when the
-- step has a touch already. Returns its id.
-- $1: the enrollment. $2: the lead. $3: the sequence. $4: the step. $5: when due. $6: now.
INSERT INTO touches (enrollment_id, lead_id, sequence_id, step_id, kind, state, due_at,
                     claimed_at, created_at)
VALUES ($1, $2, $3, $4, 'task', 'scheduled', $5, $6, $6)
ON CONFLICT (enrollment_id, step_id) DO NOTHING
RETURNING id

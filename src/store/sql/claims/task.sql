-- An open task for the rep.
-- $1: its touch. $2: the enrollment. $3: the lead. $4: call, linkedin or custom. $5: the note.
-- $6: whose task. $7: now (also when due). $8: the sequence. $9: the step.
INSERT INTO tasks (touch_id, enrollment_id, lead_id, kind, note, owner, state, due_at,
                   created_at, sequence_id, step_id)
VALUES ($1, $2, $3, $4, $5, $6, 'open', $7, $7, $8, $9)

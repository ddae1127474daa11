-- The rep's task for a draft past its deadline: not a step of the sequence (no touch), so
-- doing it moves nothing; sending or skipping the draft does. Returns its id.
-- $1: the enrollment. $2: the lead. $3: the note. $4: whose task. $5: now. $6: the sequence.
-- $7: the step.
INSERT INTO tasks (touch_id, enrollment_id, lead_id, kind, note, owner, state, due_at,
                   created_at, sequence_id, step_id)
VALUES (NULL, $1, $2, 'draft', $3, $4, 'open', $5, $5, $6, $7)
RETURNING id

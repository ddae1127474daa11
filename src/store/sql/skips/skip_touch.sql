-- A step whose condition does not hold: its touch is `skipped`, with why, so the lead's
-- timeline shows it and the step never runs for this enrollment.
-- $1: the enrollment. $2: the lead. $3: the sequence. $4: the step. $5: email or task.
-- $6: why. $7: now.
INSERT INTO touches (enrollment_id, lead_id, sequence_id, step_id, kind, state, error, attempt,
                     due_at, created_at)
VALUES ($1, $2, $3, $4, $5, 'skipped', $6, 0, $7, $7)
ON CONFLICT (enrollment_id, step_id) DO NOTHING

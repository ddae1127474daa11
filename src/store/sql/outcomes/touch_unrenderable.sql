-- The touch of a step that cannot be rendered is failed, with no Message-ID (so a fixed
-- template and `drumbeat resume` retry it); one that has a Message-ID stays as it is.
-- $1: the enrollment. $2: the lead. $3: the sequence. $4: the step. $5: the error. $6: now.
INSERT INTO touches (enrollment_id, lead_id, sequence_id, step_id, kind, state, error, attempt,
                     due_at, created_at)
VALUES ($1, $2, $3, $4, 'email', 'failed', $5, 0, $6, $6)
ON CONFLICT (enrollment_id, step_id) DO UPDATE SET state = 'failed', error = excluded.error
WHERE touches.message_id IS NULL

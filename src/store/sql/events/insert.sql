-- Records one event; returns its id.
-- $1: at. $2: kind. $3: lead. $4: enrollment. $5: touch. $6: sequence. $7: step. $8: mailbox.
-- $9: data (JSON text).
INSERT INTO events (at, kind, lead_id, enrollment_id, touch_id, sequence_id, step_id, mailbox, data)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
RETURNING id

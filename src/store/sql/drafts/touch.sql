-- The touch of a review step while its draft waits for the rep: an email, `scheduled` (the
-- lead waits at the step), with the Message-ID the draft carries; attempt 0, so the daemon's
-- claim of the approved draft is its first hand-over. Nothing when the step has a touch
-- already. Returns its id.
-- $1: the enrollment. $2: the lead. $3: the sequence. $4: the step. $5: the variant.
-- $6: the mailbox. $7: the Message-ID. $8: the subject. $9: when due. $10: now.
-- $11: the recipient's domain.
INSERT INTO touches (enrollment_id, lead_id, sequence_id, step_id, kind, variant, state, mailbox,
                     message_id, subject, attempt, due_at, claimed_at, created_at,
                     recipient_domain)
VALUES ($1, $2, $3, $4, 'email', $5, 'scheduled', $6, $7, $8, 0, $9, $10, $10, $11)
ON CONFLICT (enrollment_id, step_id) DO NOTHING
RETURNING id

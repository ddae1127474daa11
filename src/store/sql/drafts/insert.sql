-- A new draft, open. Returns its id.
-- $1: its touch. $2: the enrollment. $3: the lead. $4: the sequence. $5: the step.
-- $6: the mailbox. $7: the Message-ID. $8: In-Reply-To. $9: subject. $10: text. $11: HTML.
-- $12: the whole message. $13: the deadline. $14: task or skip. $15: `append` or NULL.
-- $16: now.
INSERT INTO drafts (touch_id, enrollment_id, lead_id, sequence_id, step_id, mailbox, message_id,
                    in_reply_to, subject, body, html, message, state, deadline_at, then_action,
                    imap, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'open', $13, $14, $15, $16)
RETURNING id

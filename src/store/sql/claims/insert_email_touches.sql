-- The touch rows of email claims, `sending`, under the same guard as `hold.sql`. A step whose
-- touch exists and is not waiting for a retry is left out; a retry (or a render failure fixed
-- and resumed) re-claims its row and keeps the Message-ID it was given the first time.
-- `handed_at` is set when the mailbox's connections were working at the claim (the server may
-- have the message from now on). Returns the touches claimed. The lease is compared as in
-- `hold.sql`, through COALESCE, so that the join goes from v to the enrollments by id.
-- v: (enrollment, lead, sequence, step, variant, mailbox, message_id, subject, due, recipient,
--     handed, address, domain, hash, epoch), one row per claim. $1: now. $2: this daemon.
INSERT INTO touches (enrollment_id, lead_id, sequence_id, step_id, kind, variant, state, mailbox,
                     message_id, subject, attempt, due_at, claimed_at, created_at,
                     recipient_domain, handed_at)
SELECT v.enrollment, v.lead, v.sequence, v.step, 'email', v.variant, 'sending', v.mailbox,
       v.message_id, v.subject, 1, v.due, $1, $1, v.recipient,
       CASE WHEN v.handed = 1 THEN $1 END
FROM v JOIN enrollments e ON e.id = v.enrollment
WHERE e.state = 'active' AND COALESCE(e.lease_owner, '') = $2
  AND NOT EXISTS (SELECT 1 FROM suppressions s WHERE s.value IN (v.address, v.domain, v.hash))
  AND EXISTS (SELECT 1 FROM mailbox_holders h
              WHERE h.mailbox = v.mailbox AND h.owner = $2 AND h.epoch = v.epoch)
ON CONFLICT (enrollment_id, step_id) DO UPDATE SET
    state = 'sending', attempt = touches.attempt + 1, claimed_at = excluded.claimed_at,
    mailbox = COALESCE(touches.mailbox, excluded.mailbox),
    message_id = COALESCE(touches.message_id, excluded.message_id),
    subject = excluded.subject, variant = excluded.variant, error = NULL,
    recipient_domain = excluded.recipient_domain, handed_at = excluded.handed_at
WHERE touches.state = 'scheduled' OR (touches.state = 'failed' AND touches.message_id IS NULL)
RETURNING id, attempt, enrollment_id

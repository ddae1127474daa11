-- A `sent` event per touch still to record (`sending` or `uncertain`), in touch order, carrying
-- its Message-ID, the server's answer and its variant. Runs before the updates, whose states
-- it reads. Returns the events' ids, whose facts the transaction folds last (sent.rs).
-- v: (touch, response, fresh, step, due, finish). $1: when sent.
INSERT INTO events (at, kind, lead_id, enrollment_id, touch_id, sequence_id, step_id, mailbox, data)
SELECT $1, 'sent', t.lead_id, t.enrollment_id, t.id, t.sequence_id, t.step_id, t.mailbox,
       json_build_object('message_id', t.message_id, 'response', v.response, 'variant', t.variant)::text
FROM v JOIN touches t ON t.id = v.touch
WHERE t.state IN ('sending', 'uncertain')
ORDER BY t.id
RETURNING id AS sent_event

-- A `finished` event per touch still to record that was its open enrollment's last step, in
-- touch order. Runs before the updates, whose states it reads.
-- v: (touch, response, fresh, step, due, finish). $1: when sent.
INSERT INTO events (at, kind, lead_id, enrollment_id, touch_id, sequence_id, step_id, mailbox, data)
SELECT $1, 'finished', t.lead_id, t.enrollment_id, t.id, t.sequence_id, t.step_id, t.mailbox, '{}'
FROM v JOIN touches t ON t.id = v.touch JOIN enrollments e ON e.id = t.enrollment_id
WHERE t.state IN ('sending', 'uncertain') AND v.finish = 1 AND e.state IN ('active', 'paused')
ORDER BY t.id

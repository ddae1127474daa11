-- Records events, in the order of v's rows.
-- v: (kind, lead_id, enrollment_id, touch_id, sequence_id, step_id, mailbox, data), one row
--    per event. $1: at.
INSERT INTO events (at, kind, lead_id, enrollment_id, touch_id, sequence_id, step_id, mailbox, data)
SELECT $1, v.kind, v.lead_id, v.enrollment_id, v.touch_id, v.sequence_id, v.step_id, v.mailbox,
       v.data
FROM v

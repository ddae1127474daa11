-- One task with its lead's context.
-- $1: the task.
SELECT t.id, t.kind, t.state, t.owner, t.note, t.due_at, t.done_at, t.outcome, t.result_note,
       t.sequence_id, t.step_id, t.touch_id,
       l.email, l.first_name, l.last_name, l.company, l.title, l.phone, l.timezone
FROM tasks t JOIN leads l ON l.id = t.lead_id
WHERE t.id = $1

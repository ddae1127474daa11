-- The columns of a draft as `DraftRow` reads them, with its lead's address and its touch's
-- state; a caller adds the WHERE clause.
SELECT d.id, d.touch_id, d.enrollment_id, d.lead_id, d.sequence_id, d.step_id, d.mailbox,
       d.message_id, d.in_reply_to, d.subject, d.body, d.html, d.message, d.state,
       d.edited_at, d.deadline_at, d.then_action, d.task_id, d.imap, d.imap_error,
       d.closed_how, d.created_at, d.closed_at,
       l.email, t.state AS touch_state, e.state AS enrollment_state
FROM drafts d
JOIN leads l ON l.id = d.lead_id
JOIN touches t ON t.id = d.touch_id
JOIN enrollments e ON e.id = d.enrollment_id

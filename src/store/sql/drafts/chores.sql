-- The Drafts folder chores of a mailbox: copies to put there (`append`, a changed one
-- replaces the old), copies to take away (`remove`), and copies of drafts whose enrollment
-- ended (a reply, a bounce, a stop: the rep must not send them) to take away too. `was` is
-- the column's value the chore's end is guarded on.
-- $1: the mailbox.
SELECT d.id, d.message_id, d.message, d.imap AS was,
       CASE WHEN d.imap = 'appended' THEN 'remove' ELSE d.imap END AS imap
FROM drafts d JOIN enrollments e ON e.id = d.enrollment_id
WHERE d.mailbox = $1
  AND (d.imap IN ('append', 'remove')
       OR (d.imap = 'appended' AND e.state NOT IN ('active', 'paused')))
ORDER BY d.id

-- The Drafts folder chores of a mailbox: copies to put there (`append`, a changed one
-- replaces the old) and copies to take away (`remove`).
-- $1: the mailbox.
SELECT id, message_id, message, imap FROM drafts
WHERE mailbox = $1 AND imap IN ('append', 'remove')
ORDER BY id

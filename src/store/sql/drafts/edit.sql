-- The rep's edit of an open draft: its text and message; a copy in the Drafts folder is to be
-- replaced.
-- $1: subject. $2: text. $3: the whole message. $4: now. $5: the draft.
UPDATE drafts
SET subject = $1, body = $2, html = NULL, message = $3, edited_at = $4,
    imap = CASE WHEN imap IS NULL THEN NULL ELSE 'append' END
WHERE id = $5 AND state = 'open'

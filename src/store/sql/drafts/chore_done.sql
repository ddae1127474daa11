-- A Drafts folder chore done (or failed, with why): `append` → `appended`, `remove` → NULL,
-- unless the draft changed meanwhile.
-- $1: the new value. $2: the error, or NULL. $3: the draft. $4: the chore that was done.
UPDATE drafts SET imap = $1, imap_error = $2 WHERE id = $3 AND imap = $4

-- Closes a draft the rep can still act on (open, or approved and not yet sent): its Drafts
-- folder copy is to be removed (or was never made). Returns the row when it was closed.
-- $1: the new state (approved, sent, skipped). $2: how (cli, client, deadline). $3: now.
-- $4: the draft. $5: `remove` for a copy that is in the Drafts folder, or NULL.
UPDATE drafts
SET state = $1, closed_how = $2, closed_at = $3,
    imap = CASE WHEN imap = 'appended' THEN $5 ELSE NULL END
WHERE id = $4 AND state IN ('open', 'approved')
  AND EXISTS (SELECT 1 FROM touches t WHERE t.id = drafts.touch_id AND t.state = 'scheduled')
RETURNING id, touch_id, task_id

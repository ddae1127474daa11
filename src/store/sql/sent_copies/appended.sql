-- A copy is in the Sent folder: done, and its bytes are no longer kept.
-- $1: the copy. $2: the folder. $3: now.
UPDATE sent_copies SET state = 'appended', message = '', folder = $2, error = NULL, done_at = $3
WHERE id = $1 AND state = 'pending'

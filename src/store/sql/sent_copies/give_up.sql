-- The last attempt failed: the copy is given up (it keeps its bytes, for a person to look at).
-- $1: the copy. $2: why. $3: now.
UPDATE sent_copies SET state = 'failed', error = $2, done_at = $3 WHERE id = $1 AND state = 'pending'

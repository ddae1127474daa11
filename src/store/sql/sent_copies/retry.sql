-- An attempt failed: the copy is tried again at $3.
-- $1: the copy. $2: why. $3: when next.
UPDATE sent_copies SET error = $2, next_at = $3 WHERE id = $1 AND state = 'pending'

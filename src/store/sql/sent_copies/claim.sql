-- Takes a pending copy due for an attempt: counts the attempt and moves its next attempt on, so
-- no other daemon tries it meanwhile (and a crash mid-attempt tries it again then).
-- $1: the copy. $2: now. $3: when it may be tried again.
UPDATE sent_copies SET attempts = attempts + 1, next_at = $3
WHERE id = $1 AND state = 'pending' AND next_at <= $2

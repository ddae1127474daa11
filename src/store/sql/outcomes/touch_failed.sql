-- A touch failed for good.
-- $1: the error. $2: the touch.
UPDATE touches SET state = 'failed', error = $1, next_attempt_at = NULL
WHERE id = $2 AND state IN ('sending', 'scheduled', 'uncertain')

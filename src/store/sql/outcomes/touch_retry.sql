-- A touch that was `sending` waits for a retry, with the same Message-ID.
-- $1: the error. $2: when to try again. $3: the touch.
UPDATE touches SET state = 'scheduled', error = $1, next_attempt_at = $2
WHERE id = $3 AND state = 'sending'

-- A person says an uncertain touch did not reach the server: it goes again, with the same
-- Message-ID.
-- $1: now. $2: the touch.
UPDATE touches
SET state = 'scheduled', error = 'resolved by hand: not sent', next_attempt_at = $1
WHERE id = $2 AND state = 'uncertain'

-- The connection broke after the message was handed over: a person decides.
-- $1: the error. $2: the touch.
UPDATE touches SET state = 'uncertain', error = $1 WHERE id = $2 AND state = 'sending'

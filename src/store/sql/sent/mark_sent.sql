-- Last: the touches still to record are `sent` (the statements before read their states).
-- v: (touch). $1: when sent.
UPDATE touches SET state = 'sent', sent_at = $1, next_attempt_at = NULL, error = NULL
WHERE id IN (SELECT touch FROM v) AND state IN ('sending', 'uncertain')

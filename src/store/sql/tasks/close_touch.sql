-- The touch of a closed task: `sent` when the task was done, `skipped` when it was skipped.
-- $1: the touch's new state. $2: now. $3: the touch.
UPDATE touches SET state = $1, sent_at = $2 WHERE id = $3 AND state = 'scheduled'

-- Closes an open task.
-- $1: done or skipped. $2: outcome. $3: the rep's note. $4: now. $5: the task.
UPDATE tasks SET state = $1, outcome = $2, result_note = $3, done_at = $4
WHERE id = $5 AND state = 'open'

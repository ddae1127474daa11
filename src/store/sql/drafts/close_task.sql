-- The draft's deadline task closes with it.
-- $1: now. $2: the task.
UPDATE tasks SET state = 'done', outcome = 'draft closed', done_at = $1
WHERE id = $2 AND state = 'open'

-- A task's state and touch, inside the transaction that closes it.
-- $1: the task.
SELECT state, touch_id FROM tasks WHERE id = $1

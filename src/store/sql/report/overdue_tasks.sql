-- Open tasks past due, by owner.
-- $1: now.
SELECT owner, COUNT(*) AS n FROM tasks
WHERE state = 'open' AND due_at < $1
GROUP BY owner
ORDER BY owner

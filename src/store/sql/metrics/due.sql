-- Active enrollments whose next step is due (the scheduler's backlog).
-- $1: now.
SELECT COUNT(*) AS n FROM enrollments WHERE state = 'active' AND next_due_at <= $1

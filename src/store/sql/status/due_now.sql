-- Active enrollments whose step is due now or overdue.
-- $1: now.
SELECT COUNT(*) AS n FROM enrollments WHERE state = 'active' AND next_due_at <= $1

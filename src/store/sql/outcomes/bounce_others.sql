-- The lead's other open enrollments end too when its address bounced.
-- $1: the error. $2: now. $3: the lead. $4: the enrollment whose email bounced.
UPDATE enrollments
SET state = 'bounced', outcome = 'bounced', reason = $1, updated_at = $2, finished_at = $2,
    next_due_at = NULL
WHERE lead_id = $3 AND id <> $4 AND state IN ('active', 'paused')

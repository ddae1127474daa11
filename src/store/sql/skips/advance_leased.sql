-- Moves a leased enrollment past a skipped step: to its next step and due time, or finished.
-- $1: the next step (NULL when finished). $2: when it is due. $3: now. $4: the enrollment.
-- $5: this daemon. $6: 'active' or 'finished'.
UPDATE enrollments
SET next_step_id = $1,
    next_due_at = CASE WHEN $6 = 'finished' THEN NULL ELSE $2 END,
    state = $6,
    outcome = CASE WHEN $6 = 'finished' THEN 'finished' ELSE outcome END,
    reason = CASE WHEN $6 = 'finished' THEN 'no step left to run' ELSE reason END,
    finished_at = CASE WHEN $6 = 'finished' THEN $3 ELSE finished_at END,
    lease_owner = NULL, lease_until = NULL, updated_at = $3
WHERE id = $4 AND state = 'active' AND lease_owner = $5

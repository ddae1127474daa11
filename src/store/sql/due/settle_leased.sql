-- Ends or pauses a leased enrollment without running a step. A pause keeps the due time and
-- the outcome; an end is the outcome; a finish forgets the next step. Returns the enrollment's
-- lead and sequence, or nothing when it is no longer active and ours.
-- $1: now. $2: the new state. $3: reason. $4: the enrollment. $5: this daemon.
-- $6: when it finished (NULL unless the new state is final).
UPDATE enrollments
SET state = $2, reason = $3, updated_at = $1,
    next_due_at = CASE WHEN $2 = 'paused' THEN next_due_at ELSE NULL END,
    lease_owner = NULL, lease_until = NULL, finished_at = $6,
    outcome = CASE WHEN $2 = 'paused' THEN outcome ELSE $2 END,
    next_step_id = CASE WHEN $2 = 'finished' THEN NULL ELSE next_step_id END
WHERE id = $4 AND state = 'active' AND lease_owner = $5
RETURNING lead_id, sequence_id

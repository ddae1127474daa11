-- Ends every open (active or paused) enrollment of a lead; their leases are dropped, so a
-- daemon working on one finds it gone when it claims.
-- $1: the new state. $2: outcome. $3: reason. $4: now. $5: the lead.
UPDATE enrollments
SET state = $1, outcome = $2, reason = $3, updated_at = $4, finished_at = $4,
    next_due_at = NULL, lease_owner = NULL, lease_until = NULL
WHERE lead_id = $5 AND state IN ('active', 'paused')

-- Every open (active or paused) enrollment of a lead who unsubscribed ends, without its lease.
-- $1: now. $2: the lead.
UPDATE enrollments
SET state = 'unsubscribed', outcome = 'unsubscribed', reason = 'the lead unsubscribed',
    updated_at = $1, finished_at = $1, next_due_at = NULL, lease_owner = NULL, lease_until = NULL
WHERE lead_id = $2 AND state IN ('active', 'paused')

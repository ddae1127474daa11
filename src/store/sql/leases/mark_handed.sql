-- Marks the `sending` touches of a mailbox that a daemon claimed without `handed_at` as
-- possibly handed over. Looks at the daemon's few leased enrollments, not the mailbox's every
-- touch (`|| ''` keeps the planner off the mailbox index). Returns the touches marked.
-- $1: now. $2: the mailbox. $3: the daemon.
UPDATE touches SET handed_at = $1
WHERE state = 'sending' AND handed_at IS NULL AND mailbox || '' = $2
  AND enrollment_id IN (SELECT id FROM enrollments WHERE lease_owner = $3)
RETURNING id

-- Holds the claims' enrollments: each still active, still leased by this daemon and whose
-- address, domain or forgotten hash is not suppressed points at its step and has no due time
-- until the outcome is recorded. Returns the ids held.
-- v: (enrollment, step, address, domain, hash), one row per claim. $1: lease end. $2: now.
-- $3: this daemon.
UPDATE enrollments
SET next_due_at = NULL, next_step_id = v.step, lease_until = $1, updated_at = $2
FROM v
WHERE enrollments.id = v.enrollment AND enrollments.state = 'active'
  AND enrollments.lease_owner = $3
  AND NOT EXISTS (SELECT 1 FROM suppressions s WHERE s.value IN (v.address, v.domain, v.hash))
RETURNING enrollments.id AS id

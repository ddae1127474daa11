-- Holds the claims' enrollments: each still active, still leased by this daemon and whose
-- address, domain or forgotten hash is not suppressed, and for an email whose mailbox this
-- daemon still holds under the lease's epoch it was decided with (the fence: a daemon that
-- lost the mailbox, paused past its lease, claims nothing), points at its step and has no due
-- time until the outcome is recorded. Returns the ids held.
-- The lease is compared as COALESCE(lease_owner, '') so that no index serves it: the join must
-- go from each row of v to its enrollment by id. On `lease_owner = $3` PostgreSQL's estimate
-- (few rows leased) chose to read every enrollment this daemon leased and, for each, scan all
-- of v: 100 ms per batch of 160 with 1,000 leased (benches/scale-pg.sh), 12 ms this way.
-- v: (enrollment, step, address, domain, hash, mailbox, epoch), one row per claim; mailbox and
--    epoch are NULL for a task or a draft. $1: lease end. $2: now. $3: this daemon.
UPDATE enrollments
SET next_due_at = NULL, next_step_id = v.step, lease_until = $1, updated_at = $2
FROM v
WHERE enrollments.id = v.enrollment AND enrollments.state = 'active'
  AND COALESCE(enrollments.lease_owner, '') = $3
  AND NOT EXISTS (SELECT 1 FROM suppressions s WHERE s.value IN (v.address, v.domain, v.hash))
  AND (v.mailbox IS NULL OR EXISTS (SELECT 1 FROM mailbox_holders h
       WHERE h.mailbox = v.mailbox AND h.owner = $3 AND h.epoch = v.epoch))
RETURNING enrollments.id AS id

-- Leases due active enrollments (due at or before now, not leased by a live daemon), oldest
-- due first. SQLite has one writer at a time: nothing to skip.
-- $1: this daemon. $2: lease end. $3: now. $4: how many at most.
UPDATE enrollments SET lease_owner = $1, lease_until = $2
WHERE id IN (
    SELECT id FROM enrollments
    WHERE state = 'active' AND next_due_at <= $3 AND (lease_until IS NULL OR lease_until < $3)
    ORDER BY next_due_at
    LIMIT $4)
RETURNING id, lead_id, sequence_id, next_step_id, next_due_at, mailbox, thread_subject

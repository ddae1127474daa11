-- Leases due active enrollments (due at or before now, not leased by a live daemon), oldest
-- due first. SQLite has one writer at a time: nothing to skip.
-- Only those in the daemon's scope: with $5 = 1 all of them (one daemon, tests), else those
-- whose mailbox (or, before the thread started, the one last picked for it) it holds ($6),
-- those not tied to a mailbox yet, and those whose mailbox is no longer configured ($7).
-- $1: this daemon. $2: lease end. $3: now. $4: how many at most. $5: all (1) or not (0).
-- $6: the mailboxes held (a list). $7: the mailboxes configured (a list).
UPDATE enrollments SET lease_owner = $1, lease_until = $2
WHERE id IN (
    SELECT id FROM enrollments
    WHERE state = 'active' AND next_due_at <= $3 AND (lease_until IS NULL OR lease_until < $3)
      AND ($5 = 1 OR COALESCE(mailbox, sender) IS NULL OR COALESCE(mailbox, sender) IN $6
           OR COALESCE(mailbox, sender) NOT IN $7)
    ORDER BY next_due_at
    LIMIT $4)
RETURNING id, lead_id, sequence_id, next_step_id, next_due_at, mailbox, thread_subject

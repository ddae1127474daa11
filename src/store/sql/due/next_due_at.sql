-- When the earliest active enrollment that nobody holds is due.
-- Only those in the daemon's scope (see `lease_due`).
-- $1: now. $2: all (1) or not (0). $3: the mailboxes held (a list). $4: those configured.
SELECT MIN(next_due_at) AS t FROM enrollments
WHERE state = 'active' AND next_due_at IS NOT NULL AND (lease_until IS NULL OR lease_until < $1)
  AND ($2 = 1 OR COALESCE(mailbox, sender) IS NULL OR COALESCE(mailbox, sender) IN $3
       OR COALESCE(mailbox, sender) NOT IN $4)

-- Gives mailbox leases back: their end becomes $1 (0: free for any daemon at once; now: free
-- for the daemon the mailbox is meant for, and for the others after the grace).
-- $1: the new end. $2: this daemon. $3: the mailboxes (a list).
UPDATE mailbox_holders SET until = $1 WHERE owner = $2 AND mailbox IN $3

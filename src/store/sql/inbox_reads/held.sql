-- Open follow-ups held for each mailbox's inbox: how many, and since when.
SELECT mailbox, COUNT(*) AS n, MIN(inbox_held_at) AS since FROM enrollments
WHERE inbox_held_at IS NOT NULL AND state = 'active'
GROUP BY mailbox ORDER BY mailbox

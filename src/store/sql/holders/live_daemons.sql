-- The long-running daemons alive now (seen since $1, not stopped), by name: the ones the
-- mailboxes are shared among.
SELECT instance FROM daemons
WHERE mode = 'daemon' AND stopped_at IS NULL AND seen_at >= $1
ORDER BY instance

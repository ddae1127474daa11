-- A complete read of a watched mailbox: it is fresh now, and nothing fails.
-- $1: the mailbox. $2: now.
INSERT INTO inbox_reads (mailbox, read_at, failing_since, failure) VALUES ($1, $2, NULL, NULL)
ON CONFLICT (mailbox) DO UPDATE SET read_at = excluded.read_at, failing_since = NULL, failure = NULL

-- A failed read of a watched mailbox: failing since the first failure after the last good read,
-- with the latest error.
-- $1: the mailbox. $2: now. $3: the error.
INSERT INTO inbox_reads (mailbox, read_at, failing_since, failure) VALUES ($1, NULL, $2, $3)
ON CONFLICT (mailbox) DO UPDATE
SET failing_since = COALESCE(inbox_reads.failing_since, excluded.failing_since), failure = excluded.failure

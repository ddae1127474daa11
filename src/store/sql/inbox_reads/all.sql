-- What is known of every watched mailbox's reads.
SELECT mailbox, read_at, failing_since, failure FROM inbox_reads ORDER BY mailbox

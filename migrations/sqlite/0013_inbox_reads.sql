-- Never write blind (DESIGN.md invariant 7). Keep in step with
-- migrations/postgres/0013_inbox_reads.sql.

-- Each watched mailbox's last complete read (every folder it watches, on the daemon's clock),
-- and since when and why reading it fails. A follow-up from a watched mailbox goes out only
-- after a recent read that came after the lead's previous email (policy::inbox_gate).
CREATE TABLE inbox_reads (
    mailbox       TEXT    PRIMARY KEY,
    read_at       BIGINT,                      -- the last complete read; NULL: never read
    failing_since BIGINT,                      -- the first failed read since the last good one
    failure       TEXT                         -- why the last read failed
);

-- A follow-up held for the inbox: when it was first held. Cleared when its mailbox is read.
ALTER TABLE enrollments ADD COLUMN inbox_held_at BIGINT;
CREATE INDEX enrollments_inbox_held ON enrollments (mailbox) WHERE inbox_held_at IS NOT NULL;

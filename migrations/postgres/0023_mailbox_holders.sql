-- Mailboxes shared among daemons (issue 18). Keep in step with
-- migrations/sqlite/0023_mailbox_holders.sql.

-- Each mailbox's sending and inbox watcher are held by one daemon at a time: a lease its
-- holder renews every few seconds and that another daemon takes once it has run out. epoch
-- grows each time the lease changes hands (or is taken again after running out); every claim
-- of an email names the epoch it was decided under and is refused when the lease moved since,
-- so a daemon that was paused past its lease cannot send on a mailbox it lost.
CREATE TABLE mailbox_holders (
    mailbox     TEXT    PRIMARY KEY,
    owner       TEXT    NOT NULL,
    epoch       BIGINT  NOT NULL,
    since       BIGINT  NOT NULL,              -- when this owner took it (this epoch)
    until       BIGINT  NOT NULL               -- the lease's end; 0 when given back
);

-- The mailbox a due enrollment's next email goes from, as the daemon that last decided it
-- saw it, before its thread started (then `mailbox`): it lets the mailbox's holder lease it.
-- Only a hint: the step is decided again by the holder.
ALTER TABLE enrollments ADD COLUMN sender TEXT;

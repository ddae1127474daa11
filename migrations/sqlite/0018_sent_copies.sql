-- The Sent folder (issue 17): a copy of each email sent over SMTP, waiting to be put into the
-- mailbox's Sent folder over IMAP. Keep in step with migrations/postgres/0018_sent_copies.sql.

-- One row per sent touch, queued in the transaction that records the send, so a copy is
-- queued exactly once; the daemon APPENDs it, with retries, and never resends because of it.
CREATE TABLE sent_copies (
    id          INTEGER PRIMARY KEY,
    touch_id    BIGINT  NOT NULL REFERENCES touches(id) ON DELETE CASCADE,
    mailbox     TEXT    NOT NULL,
    message_id  TEXT    NOT NULL,
    message     TEXT    NOT NULL,            -- the bytes sent; emptied once appended
    state       TEXT    NOT NULL,            -- pending appended failed
    attempts    BIGINT  NOT NULL DEFAULT 0,
    next_at     BIGINT  NOT NULL,            -- pending: not tried before (a claim moves it on)
    error       TEXT,                        -- why the last attempt failed
    folder      TEXT,                        -- where it went
    created_at  BIGINT  NOT NULL,
    done_at     BIGINT,
    UNIQUE (touch_id)
);
CREATE INDEX sent_copies_pending ON sent_copies (mailbox, next_at) WHERE state = 'pending';
CREATE INDEX sent_copies_state ON sent_copies (state, mailbox);

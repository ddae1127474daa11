-- Bounce reasons and each sending mailbox's health. Keep in step with
-- migrations/postgres/0012_mailbox_health.sql.

-- A bounce's reason in sisimai's taxonomy (userunknown, mailboxfull, blocked…): only the
-- lead's own soft bounces count towards stopping the lead.
ALTER TABLE inbound ADD COLUMN reason TEXT;

-- What counts against a sending mailbox: hard bounces, complaints, and refusals of the
-- sender (block lists, authentication, reputation, rate).
CREATE TABLE mailbox_strikes (
    id         INTEGER PRIMARY KEY,
    mailbox    TEXT    NOT NULL,
    at         BIGINT  NOT NULL,
    kind       TEXT    NOT NULL,              -- hard-bounce complaint block
    reason     TEXT,                          -- sisimai's reason, when known
    detail     TEXT
);
CREATE INDEX mailbox_strikes_mailbox_at ON mailbox_strikes (mailbox, at);

-- A mailbox paused for its health sends nothing until `drumbeat mailbox resume`.
CREATE TABLE mailbox_pauses (
    mailbox    TEXT    PRIMARY KEY,
    paused_at  BIGINT  NOT NULL,
    why        TEXT    NOT NULL,
    resumed_at BIGINT
);

-- The inbox watcher. Keep in step with migrations/postgres/0003_inbox.sql.

-- Where each watched folder was read up to: after a restart the watcher fetches exactly the
-- UIDs it has not seen; a changed UIDVALIDITY means the server renumbered the folder.
CREATE TABLE inbox_folders (
    mailbox     TEXT    NOT NULL,
    folder      TEXT    NOT NULL,
    uidvalidity BIGINT  NOT NULL,
    last_uid    BIGINT  NOT NULL,
    synced_at   BIGINT  NOT NULL,
    PRIMARY KEY (mailbox, folder)
);

-- One watcher per mailbox at a time, across daemons: a lease that its holder renews and
-- another instance takes over when it runs out. Also the connection state for `status`.
CREATE TABLE mailbox_leases (
    mailbox     TEXT    PRIMARY KEY,
    owner       TEXT    NOT NULL,
    until       BIGINT  NOT NULL,
    state       TEXT    NOT NULL,              -- connecting connected idle polling disconnected
    detail      TEXT,
    updated_at  BIGINT  NOT NULL
);

-- Mail that matched one of our leads: what it was, the evidence, and whether the rep dealt
-- with it. Unmatched mail is never stored. One row per message and mailbox, so a message seen
-- twice (two folders, a UIDVALIDITY change) acts once.
CREATE TABLE inbound (
    id            INTEGER PRIMARY KEY,
    mailbox       TEXT    NOT NULL,
    message_key   TEXT    NOT NULL,            -- its Message-ID, or a hash of it when it has none
    lead_id       BIGINT  REFERENCES leads(id) ON DELETE CASCADE,
    enrollment_id BIGINT,
    touch_id      BIGINT,
    kind          TEXT    NOT NULL,            -- reply auto-reply bounce-hard bounce-soft unsubscribe later
    rule          TEXT    NOT NULL,
    evidence      TEXT    NOT NULL DEFAULT '{}',
    received_at   BIGINT  NOT NULL,
    handled_at    BIGINT,
    outcome       TEXT,                        -- interested not-interested referral … (set by the rep)
    created_at    BIGINT  NOT NULL,
    UNIQUE (mailbox, message_key)
);
CREATE INDEX inbound_unhandled ON inbound (received_at) WHERE handled_at IS NULL;
CREATE INDEX inbound_lead ON inbound (lead_id);

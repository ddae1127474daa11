-- Rep notifications and daily digests. Keep in step with migrations/postgres/0008_notifications.sql.

-- One row is one message to one rep: the notice of a human reply (queued in the transaction
-- that records the reply) or a daily digest (queued when it fires). The notifier fixes its
-- text at the first attempt, hands its webhook to the outgoing-webhook queue
-- (webhook_deliveries, endpoint `notify:REP`, event_id = -id) and sends its email through
-- the rep's own mailbox, retrying with backoff. The text is cleared once it went out.
CREATE TABLE notifications (
    id              INTEGER PRIMARY KEY,
    kind            TEXT    NOT NULL,          -- reply digest
    rep             TEXT,                      -- the rep's mailbox name (a reply's is found when first worked on)
    event_id        BIGINT,                    -- reply: the `replied` event
    inbound_id      BIGINT,                    -- reply: the inbound row (`drumbeat reply handled ID`)
    lead_id         BIGINT  REFERENCES leads(id) ON DELETE CASCADE,
    mailbox         TEXT,                      -- reply: the mailbox it arrived in
    occurrence      BIGINT,                    -- digest: the scheduled instant it is for
    subject         TEXT,
    body            TEXT,
    chat            TEXT,                      -- the webhook's text
    message_id      TEXT,
    state           TEXT    NOT NULL,          -- pending sent skipped failed
    webhook_at      BIGINT,                    -- when the webhook was handed to webhook_deliveries
    emailed_at      BIGINT,                    -- when the rep's mail server took the email
    attempts        BIGINT  NOT NULL DEFAULT 0,
    next_attempt_at BIGINT  NOT NULL,
    last_error      TEXT,
    lease_owner     TEXT,
    lease_until     BIGINT,
    created_at      BIGINT  NOT NULL,
    done_at         BIGINT,
    UNIQUE (kind, rep, occurrence)
);
CREATE INDEX notifications_due ON notifications (next_attempt_at) WHERE state = 'pending';
CREATE INDEX notifications_lead ON notifications (lead_id);

-- The HTTP side: tokens, provider webhooks in, webhooks out. Keep in step with
-- migrations/postgres/0004_http.sql.

-- Values the daemons share: the key that signs unsubscribe and tracking links when config.toml
-- names none (made once, at the first start), the outgoing webhooks' read position.
CREATE TABLE settings (
    name        TEXT    PRIMARY KEY,
    value       TEXT    NOT NULL,
    updated_at  BIGINT  NOT NULL
);

-- Events accepted from email providers' webhooks (SendGrid, Mailgun, Postmark, Amazon SES):
-- one row per provider event, so a provider's retry of the same event changes nothing.
CREATE TABLE provider_events (
    provider    TEXT    NOT NULL,              -- sendgrid mailgun postmark ses
    event_id    TEXT    NOT NULL,              -- the provider's id of the event
    kind        TEXT    NOT NULL,              -- delivered bounced complained opened clicked …
    message_id  TEXT,                          -- our Message-ID, when the event names it
    touch_id    BIGINT,
    received_at BIGINT  NOT NULL,
    PRIMARY KEY (provider, event_id)
);

-- Outgoing webhooks: one row per endpoint and event, written before any attempt, retried with
-- exponential backoff for a day.
CREATE TABLE webhook_deliveries (
    id              INTEGER PRIMARY KEY,
    endpoint        TEXT    NOT NULL,          -- the endpoint's name in config.toml
    event_id        BIGINT  NOT NULL,          -- events.id
    kind            TEXT    NOT NULL,
    payload         TEXT    NOT NULL,          -- the JSON body, as signed
    state           TEXT    NOT NULL,          -- pending delivered failed
    attempts        BIGINT  NOT NULL DEFAULT 0,
    next_attempt_at BIGINT  NOT NULL,
    last_status     BIGINT,
    last_error      TEXT,
    lease_owner     TEXT,
    lease_until     BIGINT,
    created_at      BIGINT  NOT NULL,
    delivered_at    BIGINT,
    UNIQUE (endpoint, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint, state, created_at);
CREATE INDEX events_touch ON events (touch_id, kind);

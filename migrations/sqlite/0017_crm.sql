-- Native CRM sync (issue 17): what is to be logged in HubSpot or Pipedrive, and which CRM
-- record each lead is. Keep in step with migrations/postgres/0017_crm.sql.

-- One row per CRM and event (a sent email, a reply), queued from the events table by a
-- feeder that moves the CRM's read position (settings: crm.cursor.NAME) in the same
-- transaction. The worker logs them oldest first; a failure waits (back-off) and holds the
-- ones after it, so the CRM's timeline keeps the order.
CREATE TABLE crm_jobs (
    id              INTEGER PRIMARY KEY,
    crm             TEXT    NOT NULL,          -- hubspot pipedrive
    kind            TEXT    NOT NULL,          -- email-out email-in
    lead_id         BIGINT  NOT NULL,
    event_id        BIGINT  NOT NULL,          -- events.id
    payload         TEXT    NOT NULL,          -- JSON: the contact's fields and the email to log
    state           TEXT    NOT NULL,          -- pending done failed
    attempts        BIGINT  NOT NULL DEFAULT 0,
    next_attempt_at BIGINT  NOT NULL,
    last_error      TEXT,                      -- never a token or a response body
    last_attempt_at BIGINT,
    remote_id       TEXT,                      -- the engagement or activity made
    lease_owner     TEXT,
    lease_until     BIGINT,
    created_at      BIGINT  NOT NULL,
    done_at         BIGINT,
    UNIQUE (crm, event_id)
);
CREATE INDEX crm_jobs_pending ON crm_jobs (crm, id) WHERE state = 'pending';

-- The CRM record of a lead (a HubSpot contact, a Pipedrive person), and its stage as last read.
CREATE TABLE crm_records (
    crm         TEXT    NOT NULL,
    lead_id     BIGINT  NOT NULL,
    remote_id   TEXT    NOT NULL,
    stage       TEXT,
    checked_at  BIGINT,
    created_at  BIGINT  NOT NULL,
    PRIMARY KEY (crm, lead_id)
);

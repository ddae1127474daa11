-- drumbeat schema, SQLite flavour. Keep in step with migrations/postgres/0001_init.sql:
-- same tables, columns, constraints and indexes; only id columns and types are spelled per engine.
-- Instants are UTC unix seconds (BIGINT); JSON is TEXT.

CREATE TABLE accounts (
    id          INTEGER PRIMARY KEY,
    domain      TEXT    NOT NULL UNIQUE,      -- company email domain, never a free-mail domain
    name        TEXT,
    created_at  BIGINT  NOT NULL
);

CREATE TABLE leads (
    id          INTEGER PRIMARY KEY,
    email       TEXT    NOT NULL UNIQUE,      -- normalized
    first_name  TEXT,
    last_name   TEXT,
    company     TEXT,
    title       TEXT,
    timezone    TEXT,                         -- IANA name
    phone       TEXT,
    owner       TEXT,                         -- mailbox name of the rep who owns the lead
    account_id  BIGINT  REFERENCES accounts(id),
    custom      TEXT    NOT NULL DEFAULT '{}',-- other CSV columns, JSON object of strings
    source      TEXT,                         -- where it came from: csv:FILE, cli, api
    fingerprint BIGINT  NOT NULL,             -- hash of the fields above, to tell unchanged rows
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL
);
CREATE INDEX leads_account ON leads (account_id);
CREATE INDEX leads_owner ON leads (owner);

CREATE TABLE enrollments (
    id                INTEGER PRIMARY KEY,
    lead_id           BIGINT  NOT NULL REFERENCES leads(id) ON DELETE CASCADE,
    sequence_id       TEXT    NOT NULL,
    state             TEXT    NOT NULL,       -- active paused finished replied bounced unsubscribed stopped failed
    next_step_id      TEXT,                   -- the step that goes next; NULL once finished
    next_due_at       BIGINT,                 -- when it is due; set while active
    mailbox           TEXT,                   -- sticky: the mailbox the thread started from
    thread_message_id TEXT,                   -- Message-ID of the thread's first email
    thread_subject    TEXT,                   -- its subject, for "Re:" follow-ups
    paused_until      BIGINT,                 -- auto-resume time of a pause (NULL: until resumed)
    outcome           TEXT,                   -- why it ended: replied, meeting-booked, stopped-by-hand…
    reason            TEXT,                   -- human-readable detail of the last state change
    enrolled_at       BIGINT  NOT NULL,
    updated_at        BIGINT  NOT NULL,
    finished_at       BIGINT,
    lease_owner       TEXT,                   -- daemon instance holding it while it works on it
    lease_until       BIGINT,
    UNIQUE (lead_id, sequence_id)
);
-- The scheduler's tick reads only what is due.
CREATE INDEX enrollments_due ON enrollments (next_due_at) WHERE state = 'active';
CREATE INDEX enrollments_paused_until ON enrollments (paused_until) WHERE state = 'paused';
CREATE INDEX enrollments_sequence_state ON enrollments (sequence_id, state);

CREATE TABLE touches (
    id              INTEGER PRIMARY KEY,
    enrollment_id   BIGINT  NOT NULL REFERENCES enrollments(id) ON DELETE CASCADE,
    lead_id         BIGINT  NOT NULL REFERENCES leads(id) ON DELETE CASCADE,
    sequence_id     TEXT    NOT NULL,
    step_id         TEXT    NOT NULL,
    kind            TEXT    NOT NULL,         -- email, task
    variant         TEXT,
    state           TEXT    NOT NULL,         -- scheduled sending sent failed uncertain skipped
    mailbox         TEXT,
    message_id      TEXT    UNIQUE,           -- given at claim time, kept across retries
    subject         TEXT,
    attempt         INTEGER NOT NULL DEFAULT 0,
    due_at          BIGINT,
    claimed_at      BIGINT,
    sent_at         BIGINT,
    next_attempt_at BIGINT,
    error           TEXT,
    created_at      BIGINT  NOT NULL,
    UNIQUE (enrollment_id, step_id)           -- a step runs once per enrollment
);
CREATE INDEX touches_mailbox_sent ON touches (mailbox, sent_at);
CREATE INDEX touches_attention ON touches (state) WHERE state IN ('sending', 'failed', 'uncertain');
CREATE INDEX touches_retry ON touches (next_attempt_at) WHERE state = 'scheduled';
CREATE INDEX touches_lead ON touches (lead_id);

-- Append-only facts. lead_id is cleared (not the row) when a person is forgotten, so past
-- reports keep their numbers.
CREATE TABLE events (
    id            INTEGER PRIMARY KEY,
    at            BIGINT  NOT NULL,
    kind          TEXT    NOT NULL,           -- enrolled sent delivered opened clicked replied auto-replied bounced …
    lead_id       BIGINT  REFERENCES leads(id) ON DELETE SET NULL,
    enrollment_id BIGINT,
    touch_id      BIGINT,
    sequence_id   TEXT,
    step_id       TEXT,
    mailbox       TEXT,
    data          TEXT    NOT NULL DEFAULT '{}'
);
CREATE INDEX events_lead ON events (lead_id, at);
CREATE INDEX events_kind_at ON events (kind, at);

-- Never email these: an address, '@domain', or 'sha256:HEX' of a forgotten address.
CREATE TABLE suppressions (
    id         INTEGER PRIMARY KEY,
    value      TEXT    NOT NULL UNIQUE,
    reason     TEXT    NOT NULL,              -- unsubscribed bounced complained manual forgotten
    note       TEXT,
    created_at BIGINT  NOT NULL
);

CREATE TABLE tasks (
    id            INTEGER PRIMARY KEY,
    touch_id      BIGINT  REFERENCES touches(id) ON DELETE CASCADE,
    enrollment_id BIGINT  NOT NULL REFERENCES enrollments(id) ON DELETE CASCADE,
    lead_id       BIGINT  NOT NULL REFERENCES leads(id) ON DELETE CASCADE,
    kind          TEXT    NOT NULL,           -- call linkedin custom
    note          TEXT,
    owner         TEXT,
    state         TEXT    NOT NULL,           -- open done skipped
    due_at        BIGINT  NOT NULL,
    done_at       BIGINT,
    created_at    BIGINT  NOT NULL
);
CREATE INDEX tasks_open_due ON tasks (due_at) WHERE state = 'open';

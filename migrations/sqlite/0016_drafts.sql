-- Drafts: email steps with `review:` that wait for the rep (issue 16). Keep in step with
-- migrations/postgres/0016_drafts.sql.

-- One draft per review step of an enrollment: the rendered text the rep reads and may edit,
-- the Message-ID its touch (`scheduled` while the draft is open) was given, and where its copy
-- in the mailbox's IMAP Drafts folder stands.
CREATE TABLE drafts (
    id            INTEGER PRIMARY KEY,
    touch_id      BIGINT  NOT NULL REFERENCES touches(id) ON DELETE CASCADE,
    enrollment_id BIGINT  NOT NULL REFERENCES enrollments(id) ON DELETE CASCADE,
    lead_id       BIGINT  NOT NULL REFERENCES leads(id) ON DELETE CASCADE,
    sequence_id   TEXT    NOT NULL,
    step_id       TEXT    NOT NULL,
    mailbox       TEXT    NOT NULL,
    message_id    TEXT    NOT NULL,
    in_reply_to   TEXT,                        -- the thread's previous Message-ID, if any
    subject       TEXT    NOT NULL,
    body          TEXT    NOT NULL,            -- plain text, as rendered or as the rep edited it
    html          TEXT,                        -- the template's HTML part (dropped by an edit)
    message       TEXT    NOT NULL,            -- the whole message, as put in the Drafts folder
    state         TEXT    NOT NULL,            -- open approved sent skipped
    edited_at     BIGINT,
    deadline_at   BIGINT,                      -- NULL: no deadline
    then_action   TEXT,                        -- task skip: what the deadline does
    task_id       BIGINT,                      -- the rep's task once the deadline passed
    imap          TEXT,                        -- append appended remove: the Drafts copy's chore
    imap_error    TEXT,
    closed_how    TEXT,                        -- cli, client, deadline, skipped
    created_at    BIGINT  NOT NULL,
    closed_at     BIGINT,
    UNIQUE (touch_id)
);
CREATE INDEX drafts_state ON drafts (state, mailbox);
CREATE INDEX drafts_imap ON drafts (mailbox) WHERE imap IN ('append', 'remove');
CREATE INDEX drafts_enrollment ON drafts (enrollment_id);

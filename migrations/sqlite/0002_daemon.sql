-- The sending daemon. Keep in step with migrations/postgres/0002_daemon.sql.

-- The recipient's domain of each email touch, so the per-domain hourly limit counts claims to
-- one domain without joining leads.
ALTER TABLE touches ADD COLUMN recipient_domain TEXT;
CREATE INDEX touches_domain_claimed ON touches (recipient_domain, claimed_at);
CREATE INDEX touches_mailbox_claimed ON touches (mailbox, claimed_at);
CREATE INDEX touches_enrollment ON touches (enrollment_id);

-- What the rep did with a task.
ALTER TABLE tasks ADD COLUMN sequence_id TEXT;
ALTER TABLE tasks ADD COLUMN step_id TEXT;
ALTER TABLE tasks ADD COLUMN outcome TEXT;
ALTER TABLE tasks ADD COLUMN result_note TEXT;
CREATE INDEX tasks_owner_state ON tasks (owner, state);

-- Each daemon instance, for `status`: alive or not, and what it last said about itself.
CREATE TABLE daemons (
    instance      TEXT    PRIMARY KEY,         -- --instance, or the host name
    pid           BIGINT  NOT NULL,
    started_at    BIGINT  NOT NULL,
    seen_at       BIGINT  NOT NULL,            -- heartbeat: every tick
    stopped_at    BIGINT,                      -- clean exit
    catalog_error TEXT                         -- the last reload that was refused, if any
);

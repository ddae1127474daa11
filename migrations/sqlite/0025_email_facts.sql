-- One row per email sent, for the report's activity (issue 18). Keep in step with
-- migrations/postgres/0025_email_facts.sql, which says why; here the trigger runs as each event
-- is written.
CREATE TABLE email_facts (
    event_id        INTEGER PRIMARY KEY,       -- the `sent` event
    at              INTEGER NOT NULL,
    who             INTEGER NOT NULL,          -- the person: its lead, else -enrollment, else -event
    mailbox         TEXT,
    sequence_id     TEXT,
    step_id         TEXT,
    variant         TEXT,
    prev_any        INTEGER,                   -- the person's previous email, by anyone
    prev_mailbox    INTEGER,                   -- … from the same mailbox
    prev_sequence   INTEGER,                   -- … in the same sequence
    prev_step       INTEGER,                   -- … of the same step
    prev_variant    INTEGER                    -- … of the same step and variant
);
CREATE INDEX email_facts_at ON email_facts (at);
CREATE INDEX email_facts_who ON email_facts (who, at);

-- An email's previous times are looked up among the person's emails (a handful, by the index
-- on who); the person's later emails, if any (recorded out of order), are looked up again.
CREATE TRIGGER events_sent_facts AFTER INSERT ON events
WHEN NEW.kind = 'sent'
BEGIN
    INSERT INTO email_facts (event_id, at, who, mailbox, sequence_id, step_id, variant, prev_any,
                             prev_mailbox, prev_sequence, prev_step, prev_variant)
    VALUES (NEW.id, NEW.at, COALESCE(NEW.lead_id, -NEW.enrollment_id, -NEW.id), NEW.mailbox,
            NEW.sequence_id, NEW.step_id, json_extract(NEW.data, '$.variant'),
            (SELECT MAX(x.at) FROM email_facts x WHERE x.who = COALESCE(NEW.lead_id, -NEW.enrollment_id, -NEW.id) AND (x.at < NEW.at OR (x.at = NEW.at AND x.event_id < NEW.id))),
            (SELECT MAX(x.at) FROM email_facts x WHERE x.who = COALESCE(NEW.lead_id, -NEW.enrollment_id, -NEW.id) AND (x.at < NEW.at OR (x.at = NEW.at AND x.event_id < NEW.id)) AND x.mailbox IS NEW.mailbox),
            (SELECT MAX(x.at) FROM email_facts x WHERE x.who = COALESCE(NEW.lead_id, -NEW.enrollment_id, -NEW.id) AND (x.at < NEW.at OR (x.at = NEW.at AND x.event_id < NEW.id)) AND x.sequence_id IS NEW.sequence_id),
            (SELECT MAX(x.at) FROM email_facts x WHERE x.who = COALESCE(NEW.lead_id, -NEW.enrollment_id, -NEW.id) AND (x.at < NEW.at OR (x.at = NEW.at AND x.event_id < NEW.id)) AND x.sequence_id IS NEW.sequence_id AND x.step_id IS NEW.step_id),
            (SELECT MAX(x.at) FROM email_facts x WHERE x.who = COALESCE(NEW.lead_id, -NEW.enrollment_id, -NEW.id) AND (x.at < NEW.at OR (x.at = NEW.at AND x.event_id < NEW.id)) AND x.sequence_id IS NEW.sequence_id AND x.step_id IS NEW.step_id AND x.variant IS json_extract(NEW.data, '$.variant')));
    UPDATE email_facts
    SET prev_any = (SELECT MAX(x.at) FROM email_facts x WHERE x.who = email_facts.who AND (x.at < email_facts.at OR (x.at = email_facts.at AND x.event_id < email_facts.event_id))),
        prev_mailbox = (SELECT MAX(x.at) FROM email_facts x WHERE x.who = email_facts.who AND (x.at < email_facts.at OR (x.at = email_facts.at AND x.event_id < email_facts.event_id)) AND x.mailbox IS email_facts.mailbox),
        prev_sequence = (SELECT MAX(x.at) FROM email_facts x WHERE x.who = email_facts.who AND (x.at < email_facts.at OR (x.at = email_facts.at AND x.event_id < email_facts.event_id)) AND x.sequence_id IS email_facts.sequence_id),
        prev_step = (SELECT MAX(x.at) FROM email_facts x WHERE x.who = email_facts.who AND (x.at < email_facts.at OR (x.at = email_facts.at AND x.event_id < email_facts.event_id)) AND x.sequence_id IS email_facts.sequence_id AND x.step_id IS email_facts.step_id),
        prev_variant = (SELECT MAX(x.at) FROM email_facts x WHERE x.who = email_facts.who AND (x.at < email_facts.at OR (x.at = email_facts.at AND x.event_id < email_facts.event_id)) AND x.sequence_id IS email_facts.sequence_id AND x.step_id IS email_facts.step_id AND x.variant IS email_facts.variant)
    WHERE who = COALESCE(NEW.lead_id, -NEW.enrollment_id, -NEW.id)
      AND (at > NEW.at OR (at = NEW.at AND event_id > NEW.id));
END;

-- The emails already stored.
INSERT INTO email_facts (event_id, at, who, mailbox, sequence_id, step_id, variant, prev_any,
                         prev_mailbox, prev_sequence, prev_step, prev_variant)
SELECT s.id, s.at, s.who, s.mailbox, s.sequence_id, s.step_id, s.variant,
       LAG(s.at) OVER (PARTITION BY s.who ORDER BY s.at, s.id),
       LAG(s.at) OVER (PARTITION BY s.who, s.mailbox ORDER BY s.at, s.id),
       LAG(s.at) OVER (PARTITION BY s.who, s.sequence_id ORDER BY s.at, s.id),
       LAG(s.at) OVER (PARTITION BY s.who, s.sequence_id, s.step_id ORDER BY s.at, s.id),
       LAG(s.at) OVER (PARTITION BY s.who, s.sequence_id, s.step_id, s.variant ORDER BY s.at, s.id)
FROM (SELECT e.id, e.at, COALESCE(e.lead_id, -e.enrollment_id, -e.id) AS who, e.mailbox,
             e.sequence_id, e.step_id, json_extract(e.data, '$.variant') AS variant
      FROM events e WHERE e.kind = 'sent') s;

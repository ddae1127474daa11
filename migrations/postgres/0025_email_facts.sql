-- One row per email sent, for the report's activity (issue 18). Keep in step with
-- migrations/sqlite/0025_email_facts.sql.
--
-- "Emailed" (how many people a rep, sequence, step or variant emailed in a period) was a
-- distinct count: every email of the period sorted by person, 3 to 5 s of a 90-day report on
-- 10,000,000 leads. Each email here carries when the same person was last emailed before it
-- (by anyone; by the same mailbox; in the same sequence; step; variant), so the people emailed
-- in a period are its emails whose previous one, in that sense, came before the period began:
-- a count, not a sort. A trigger on `events` keeps the rows, and an email recorded after a later
-- one (two daemons' clocks) corrects the later ones' previous times.
CREATE TABLE email_facts (
    event_id        BIGINT  PRIMARY KEY,       -- the `sent` event
    at              BIGINT  NOT NULL,
    who             BIGINT  NOT NULL,          -- the person: its lead, else -enrollment, else -event
    mailbox         TEXT,
    sequence_id     TEXT,
    step_id         TEXT,
    variant         TEXT,
    prev_any        BIGINT,                    -- the person's previous email, by anyone
    prev_mailbox    BIGINT,                    -- … from the same mailbox
    prev_sequence   BIGINT,                    -- … in the same sequence
    prev_step       BIGINT,                    -- … of the same step
    prev_variant    BIGINT                     -- … of the same step and variant
);
CREATE INDEX email_facts_at ON email_facts (at);
CREATE INDEX email_facts_who ON email_facts (who, at);

-- Records one email with its previous times, read in one pass over the person's emails (a
-- handful, by the index on who), and reads them again for the person's later emails, if any
-- (an email recorded after a later one).
CREATE FUNCTION email_facts_fold() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    w BIGINT := COALESCE(NEW.lead_id, -NEW.enrollment_id, -NEW.id);
    v TEXT := NEW.data::jsonb ->> 'variant';
    p_any BIGINT; p_mailbox BIGINT; p_sequence BIGINT; p_step BIGINT; p_variant BIGINT;
BEGIN
    SELECT MAX(x.at),
           MAX(x.at) FILTER (WHERE x.mailbox IS NOT DISTINCT FROM NEW.mailbox),
           MAX(x.at) FILTER (WHERE x.sequence_id IS NOT DISTINCT FROM NEW.sequence_id),
           MAX(x.at) FILTER (WHERE x.sequence_id IS NOT DISTINCT FROM NEW.sequence_id
                             AND x.step_id IS NOT DISTINCT FROM NEW.step_id),
           MAX(x.at) FILTER (WHERE x.sequence_id IS NOT DISTINCT FROM NEW.sequence_id
                             AND x.step_id IS NOT DISTINCT FROM NEW.step_id
                             AND x.variant IS NOT DISTINCT FROM v)
    INTO p_any, p_mailbox, p_sequence, p_step, p_variant
    FROM email_facts x
    WHERE x.who = w AND (x.at < NEW.at OR (x.at = NEW.at AND x.event_id < NEW.id));
    INSERT INTO email_facts (event_id, at, who, mailbox, sequence_id, step_id, variant, prev_any,
                             prev_mailbox, prev_sequence, prev_step, prev_variant)
    VALUES (NEW.id, NEW.at, w, NEW.mailbox, NEW.sequence_id, NEW.step_id, v, p_any, p_mailbox,
            p_sequence, p_step, p_variant);
    -- Later emails of the person (rare): each one's previous times again.
    IF EXISTS (SELECT 1 FROM email_facts x WHERE x.who = w
               AND (x.at > NEW.at OR (x.at = NEW.at AND x.event_id > NEW.id))) THEN
        UPDATE email_facts f
        SET prev_any = p.prev_any, prev_mailbox = p.prev_mailbox, prev_sequence = p.prev_sequence,
            prev_step = p.prev_step, prev_variant = p.prev_variant
        FROM (SELECT x.event_id,
                     LAG(x.at) OVER (ORDER BY x.at, x.event_id) AS prev_any,
                     LAG(x.at) OVER (PARTITION BY x.mailbox ORDER BY x.at, x.event_id) AS prev_mailbox,
                     LAG(x.at) OVER (PARTITION BY x.sequence_id ORDER BY x.at, x.event_id) AS prev_sequence,
                     LAG(x.at) OVER (PARTITION BY x.sequence_id, x.step_id ORDER BY x.at, x.event_id) AS prev_step,
                     LAG(x.at) OVER (PARTITION BY x.sequence_id, x.step_id, x.variant
                                     ORDER BY x.at, x.event_id) AS prev_variant
              FROM email_facts x WHERE x.who = w) p
        WHERE f.event_id = p.event_id AND (f.at > NEW.at OR (f.at = NEW.at AND f.event_id > NEW.id));
    END IF;
    RETURN NULL;
END
$$;

-- At commit, as events_lead_facts (0024) and for the same reason, and after it: triggers fire
-- in the order of their names, and events_lead_facts locks the lead's facts row until commit,
-- so two transactions that email one lead at once fold their emails one after the other, the
-- second reading the first's (neither would see the other's otherwise, and both could count as
-- the lead's first email). Hence the name, which sorts after events_lead_facts.
CREATE CONSTRAINT TRIGGER events_sent_facts AFTER INSERT ON events
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (NEW.kind = 'sent')
    EXECUTE FUNCTION email_facts_fold();

-- The emails already stored. Event writes wait for this (about 110 s per 15,000,000
-- emails; docs/operations.md).
INSERT INTO email_facts (event_id, at, who, mailbox, sequence_id, step_id, variant, prev_any,
                         prev_mailbox, prev_sequence, prev_step, prev_variant)
SELECT s.id, s.at, s.who, s.mailbox, s.sequence_id, s.step_id, s.variant,
       LAG(s.at) OVER (PARTITION BY s.who ORDER BY s.at, s.id),
       LAG(s.at) OVER (PARTITION BY s.who, s.mailbox ORDER BY s.at, s.id),
       LAG(s.at) OVER (PARTITION BY s.who, s.sequence_id ORDER BY s.at, s.id),
       LAG(s.at) OVER (PARTITION BY s.who, s.sequence_id, s.step_id ORDER BY s.at, s.id),
       LAG(s.at) OVER (PARTITION BY s.who, s.sequence_id, s.step_id, s.variant ORDER BY s.at, s.id)
FROM (SELECT e.id, e.at, COALESCE(e.lead_id, -e.enrollment_id, -e.id) AS who, e.mailbox,
             e.sequence_id, e.step_id, e.data::jsonb ->> 'variant' AS variant
      FROM events e WHERE e.kind = 'sent') s;

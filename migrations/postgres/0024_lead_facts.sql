-- One row of facts per lead for the report's cohort (issue 18). Keep in step with
-- migrations/sqlite/0024_lead_facts.sql.
--
-- The cohort (the leads received in a period, what became of them) used to sum up every
-- email, task and stop of the period per lead: on 10,000,000 leads 7 to 8 s of the 90-day
-- report. These facts are what that sum gave, kept up to date as the events are written, so
-- the cohort reads one row per lead received. A trigger on `events` keeps them, so every
-- writer, old daemons during an upgrade included, keeps them right.
--
-- Written as they stand now: a report for a period in the past takes a lead's facts only when
-- nothing changed them since the period's end (changed_at), and counts the others from the
-- events as before, so a past period's report never changes.
CREATE TABLE lead_facts (
    lead_id             BIGINT  PRIMARY KEY,
    received_at         BIGINT,                -- its `received` event: when it arrived
    received_owner      TEXT,                  -- that event's mailbox: its owner on arrival
    source              TEXT,                  -- that event's source (`csv:FILE`, `api`…)
    assigned_owner      TEXT,                  -- the mailbox of its last `assigned` event
    assigned_at         BIGINT,                -- when that was
    first_sent_at       BIGINT,                -- its first email
    first_sent_mailbox  TEXT,                  -- the mailbox that sent it (owner of last resort)
    touches             BIGINT  NOT NULL DEFAULT 0,    -- emails sent and tasks done
    short_stop          INTEGER NOT NULL DEFAULT 0,    -- 1: stopped by hand before 5 touches
    changed_at          BIGINT  NOT NULL               -- the latest event behind these facts
) WITH (fillfactor = 80);  -- room on each page to update a row in place (no index to update)
CREATE INDEX lead_facts_received ON lead_facts (received_at);

-- Folds one event into its lead's facts.
CREATE FUNCTION lead_facts_fold() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO lead_facts AS f (lead_id, received_at, received_owner, source, assigned_owner,
                                 assigned_at, first_sent_at, first_sent_mailbox, touches,
                                 short_stop, changed_at)
    VALUES (NEW.lead_id,
            CASE WHEN NEW.kind = 'received' THEN NEW.at END,
            CASE WHEN NEW.kind = 'received' THEN NEW.mailbox END,
            CASE WHEN NEW.kind = 'received' THEN NEW.data::jsonb ->> 'source' END,
            CASE WHEN NEW.kind = 'assigned' THEN NEW.mailbox END,
            CASE WHEN NEW.kind = 'assigned' THEN NEW.at END,
            CASE WHEN NEW.kind = 'sent' THEN NEW.at END,
            CASE WHEN NEW.kind = 'sent' THEN NEW.mailbox END,
            CASE WHEN NEW.kind IN ('sent', 'task-done') THEN 1 ELSE 0 END,
            CASE WHEN NEW.kind = 'stopped' THEN 1 ELSE 0 END,
            NEW.at)
    ON CONFLICT (lead_id) DO UPDATE SET
        received_owner = CASE WHEN f.received_at IS NULL THEN EXCLUDED.received_owner ELSE f.received_owner END,
        source = CASE WHEN f.received_at IS NULL THEN EXCLUDED.source ELSE f.source END,
        received_at = COALESCE(f.received_at, EXCLUDED.received_at),
        assigned_owner = CASE WHEN EXCLUDED.assigned_at >= COALESCE(f.assigned_at, EXCLUDED.assigned_at)
                              THEN EXCLUDED.assigned_owner ELSE f.assigned_owner END,
        assigned_at = GREATEST(f.assigned_at, EXCLUDED.assigned_at),
        first_sent_mailbox = CASE WHEN EXCLUDED.first_sent_at < COALESCE(f.first_sent_at, EXCLUDED.first_sent_at + 1)
                                  THEN EXCLUDED.first_sent_mailbox ELSE f.first_sent_mailbox END,
        first_sent_at = LEAST(f.first_sent_at, EXCLUDED.first_sent_at),
        touches = f.touches + EXCLUDED.touches,
        short_stop = CASE WHEN EXCLUDED.short_stop = 1 AND f.touches < 5 THEN 1 ELSE f.short_stop END,
        changed_at = GREATEST(f.changed_at, EXCLUDED.changed_at);
    RETURN NULL;
END
$$;

-- At commit (DEFERRABLE INITIALLY DEFERRED): a facts row is locked only once its transaction
-- has taken every other lock it needs, so no writer can hold it while waiting on another row
-- (the deadlock class of the upsert and the scheduler fixed in 9a04d3c cannot form around it).
CREATE CONSTRAINT TRIGGER events_lead_facts AFTER INSERT ON events
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (NEW.lead_id IS NOT NULL AND (NEW.kind IN ('received', 'sent', 'task-done', 'assigned')
          OR (NEW.kind = 'stopped' AND NEW.data::jsonb ->> 'by' = 'hand')))
    EXECUTE FUNCTION lead_facts_fold();

-- The facts of the leads already stored, as the report counted them from the events. Event
-- writes wait for this (about 100 s per 10,000,000 leads; docs/operations.md).
INSERT INTO lead_facts (lead_id, received_at, received_owner, source, assigned_owner, assigned_at,
                        first_sent_at, first_sent_mailbox, touches, short_stop, changed_at)
SELECT r.lead_id, r.at, r.mailbox, r.data::jsonb ->> 'source',
       CASE WHEN x.assigned_at IS NOT NULL THEN
           (SELECT a.mailbox FROM events a WHERE a.lead_id = r.lead_id AND a.kind = 'assigned'
            ORDER BY a.at DESC, a.id DESC LIMIT 1) END,
       x.assigned_at, x.first_sent_at,
       CASE WHEN x.first_sent_at IS NOT NULL THEN
           (SELECT s.mailbox FROM events s WHERE s.lead_id = r.lead_id AND s.kind = 'sent'
            ORDER BY s.at, s.id LIMIT 1) END,
       x.touches,
       CASE WHEN x.stopped_at IS NOT NULL AND
           (SELECT COUNT(*) FROM events t WHERE t.lead_id = r.lead_id AND t.kind IN ('sent', 'task-done')
            AND t.at <= x.stopped_at) < 5 THEN 1 ELSE 0 END,
       GREATEST(r.at, x.changed_at)
FROM (SELECT DISTINCT ON (lead_id) lead_id, at, mailbox, data FROM events
      WHERE kind = 'received' AND lead_id IS NOT NULL ORDER BY lead_id, at, id) r
CROSS JOIN LATERAL (
    SELECT COUNT(*) FILTER (WHERE e.kind IN ('sent', 'task-done')) AS touches,
           MIN(e.at) FILTER (WHERE e.kind = 'sent') AS first_sent_at,
           MAX(e.at) FILTER (WHERE e.kind = 'assigned') AS assigned_at,
           MIN(e.at) FILTER (WHERE e.kind = 'stopped' AND e.data::jsonb ->> 'by' = 'hand') AS stopped_at,
           MAX(e.at) FILTER (WHERE e.kind <> 'stopped' OR e.data::jsonb ->> 'by' = 'hand') AS changed_at
    FROM events e WHERE e.lead_id = r.lead_id AND e.kind IN ('sent', 'task-done', 'assigned', 'stopped')) x;

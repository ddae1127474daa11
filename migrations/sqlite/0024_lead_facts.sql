-- One row of facts per lead for the report's cohort (issue 18). Keep in step with
-- migrations/postgres/0024_lead_facts.sql, which says why; here the trigger runs as each event
-- is written (SQLite has one writer at a time, so no lock order to keep).
CREATE TABLE lead_facts (
    lead_id             INTEGER PRIMARY KEY,
    received_at         INTEGER,               -- its `received` event: when it arrived
    received_owner      TEXT,                  -- that event's mailbox: its owner on arrival
    source              TEXT,                  -- that event's source (`csv:FILE`, `api`…)
    assigned_owner      TEXT,                  -- the mailbox of its last `assigned` event
    assigned_at         INTEGER,               -- when that was
    first_sent_at       INTEGER,               -- its first email
    first_sent_mailbox  TEXT,                  -- the mailbox that sent it (owner of last resort)
    touches             INTEGER NOT NULL DEFAULT 0,    -- emails sent and tasks done
    short_stop          INTEGER NOT NULL DEFAULT 0,    -- 1: stopped by hand before 5 touches
    changed_at          INTEGER NOT NULL               -- the latest event behind these facts
);
CREATE INDEX lead_facts_received ON lead_facts (received_at);

CREATE TRIGGER events_lead_facts AFTER INSERT ON events
WHEN NEW.lead_id IS NOT NULL AND (NEW.kind IN ('received', 'sent', 'task-done', 'assigned')
     OR (NEW.kind = 'stopped' AND json_extract(NEW.data, '$.by') = 'hand'))
BEGIN
    INSERT INTO lead_facts (lead_id, received_at, received_owner, source, assigned_owner,
                            assigned_at, first_sent_at, first_sent_mailbox, touches,
                            short_stop, changed_at)
    VALUES (NEW.lead_id,
            CASE WHEN NEW.kind = 'received' THEN NEW.at END,
            CASE WHEN NEW.kind = 'received' THEN NEW.mailbox END,
            CASE WHEN NEW.kind = 'received' THEN json_extract(NEW.data, '$.source') END,
            CASE WHEN NEW.kind = 'assigned' THEN NEW.mailbox END,
            CASE WHEN NEW.kind = 'assigned' THEN NEW.at END,
            CASE WHEN NEW.kind = 'sent' THEN NEW.at END,
            CASE WHEN NEW.kind = 'sent' THEN NEW.mailbox END,
            CASE WHEN NEW.kind IN ('sent', 'task-done') THEN 1 ELSE 0 END,
            CASE WHEN NEW.kind = 'stopped' THEN 1 ELSE 0 END,
            NEW.at)
    ON CONFLICT (lead_id) DO UPDATE SET
        received_owner = CASE WHEN received_at IS NULL THEN excluded.received_owner ELSE received_owner END,
        source = CASE WHEN received_at IS NULL THEN excluded.source ELSE source END,
        received_at = COALESCE(received_at, excluded.received_at),
        assigned_owner = CASE WHEN excluded.assigned_at >= COALESCE(assigned_at, excluded.assigned_at)
                              THEN excluded.assigned_owner ELSE assigned_owner END,
        assigned_at = COALESCE(max(assigned_at, excluded.assigned_at), assigned_at, excluded.assigned_at),
        first_sent_mailbox = CASE WHEN excluded.first_sent_at < COALESCE(first_sent_at, excluded.first_sent_at + 1)
                                  THEN excluded.first_sent_mailbox ELSE first_sent_mailbox END,
        first_sent_at = COALESCE(min(first_sent_at, excluded.first_sent_at), first_sent_at, excluded.first_sent_at),
        touches = touches + excluded.touches,
        short_stop = CASE WHEN excluded.short_stop = 1 AND touches < 5 THEN 1 ELSE short_stop END,
        changed_at = max(changed_at, excluded.changed_at);
END;

-- The facts of the leads already stored, as the report counted them from the events.
INSERT INTO lead_facts (lead_id, received_at, received_owner, source, assigned_owner, assigned_at,
                        first_sent_at, first_sent_mailbox, touches, short_stop, changed_at)
SELECT x.lead_id, x.received_at,
       (SELECT r.mailbox FROM events r WHERE r.lead_id = x.lead_id AND r.kind = 'received'
        ORDER BY r.at, r.id LIMIT 1),
       (SELECT json_extract(r.data, '$.source') FROM events r WHERE r.lead_id = x.lead_id
        AND r.kind = 'received' ORDER BY r.at, r.id LIMIT 1),
       CASE WHEN x.assigned_at IS NOT NULL THEN
           (SELECT a.mailbox FROM events a WHERE a.lead_id = x.lead_id AND a.kind = 'assigned'
            ORDER BY a.at DESC, a.id DESC LIMIT 1) END,
       x.assigned_at, x.first_sent_at,
       CASE WHEN x.first_sent_at IS NOT NULL THEN
           (SELECT s.mailbox FROM events s WHERE s.lead_id = x.lead_id AND s.kind = 'sent'
            ORDER BY s.at, s.id LIMIT 1) END,
       x.touches,
       CASE WHEN x.stopped_at IS NOT NULL AND
           (SELECT COUNT(*) FROM events t WHERE t.lead_id = x.lead_id AND t.kind IN ('sent', 'task-done')
            AND t.at <= x.stopped_at) < 5 THEN 1 ELSE 0 END,
       x.changed_at
FROM (SELECT e.lead_id,
             MIN(CASE WHEN e.kind = 'received' THEN e.at END) AS received_at,
             SUM(CASE WHEN e.kind IN ('sent', 'task-done') THEN 1 ELSE 0 END) AS touches,
             MIN(CASE WHEN e.kind = 'sent' THEN e.at END) AS first_sent_at,
             MAX(CASE WHEN e.kind = 'assigned' THEN e.at END) AS assigned_at,
             MIN(CASE WHEN e.kind = 'stopped' AND json_extract(e.data, '$.by') = 'hand' THEN e.at END) AS stopped_at,
             MAX(CASE WHEN e.kind <> 'stopped' OR json_extract(e.data, '$.by') = 'hand' THEN e.at END) AS changed_at
      FROM events e
      WHERE e.lead_id IS NOT NULL AND e.kind IN ('received', 'sent', 'task-done', 'assigned', 'stopped')
      GROUP BY e.lead_id) x
WHERE x.received_at IS NOT NULL;

-- The facts of `sent` events folded a batch at a time (issue 18). PostgreSQL only: SQLite keeps
-- the row triggers of its 0024 and 0025 (migrations/sqlite/0027_sent_facts_batch.sql says so).
--
-- The row triggers of 0024 and 0025 folded each `sent` event at commit, one plpgsql call per
-- event and per table: on 10,000,000 leads about a fifth of the time the scheduler spends
-- claiming and recording 1,000 emails. The daemon records its sends a batch at a time, so it
-- folds them a batch at a time: it says so for its transaction (`drumbeat.sent_facts` =
-- 'batch', which the triggers below skip), and calls sent_facts_fold with the batch's events
-- as the last statement before its commit, when it holds every other lock it takes, as a
-- deferred trigger would. Any other writer (an older daemon during an upgrade, `drumbeat`
-- commands) sets nothing, and its `sent` events are folded one at a time at commit by the same
-- function, so there is one definition of the facts.

-- Folds the `sent` events `ids` into lead_facts, then email_facts (lead_facts first: its rows
-- are locked in lead order until commit, so two transactions that email one lead at once fold
-- one after the other, and the second's email_facts statement, which starts after the first
-- committed, reads the first's emails).
CREATE FUNCTION sent_facts_fold(ids BIGINT[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO lead_facts AS f (lead_id, first_sent_at, first_sent_mailbox, touches, changed_at)
    SELECT e.lead_id, MIN(e.at), (array_agg(e.mailbox ORDER BY e.at, e.id))[1], COUNT(*), MAX(e.at)
    FROM events e
    WHERE e.id = ANY (ids) AND e.kind = 'sent' AND e.lead_id IS NOT NULL
    GROUP BY e.lead_id
    ORDER BY e.lead_id
    ON CONFLICT (lead_id) DO UPDATE SET
        first_sent_mailbox = CASE WHEN EXCLUDED.first_sent_at < COALESCE(f.first_sent_at, EXCLUDED.first_sent_at + 1)
                                  THEN EXCLUDED.first_sent_mailbox ELSE f.first_sent_mailbox END,
        first_sent_at = LEAST(f.first_sent_at, EXCLUDED.first_sent_at),
        touches = f.touches + EXCLUDED.touches,
        changed_at = GREATEST(f.changed_at, EXCLUDED.changed_at);

    -- Each new email with its previous times, read in one pass over its person's emails (the
    -- new ones among them); a person's earlier-recorded email that a new one now precedes (two
    -- daemons' clocks) gets its previous times again.
    WITH n AS (
        SELECT e.id, e.at, COALESCE(e.lead_id, -e.enrollment_id, -e.id) AS who, e.mailbox,
               e.sequence_id, e.step_id, e.data::jsonb ->> 'variant' AS variant
        FROM events e WHERE e.id = ANY (ids) AND e.kind = 'sent'
    ), u AS (
        SELECT x.event_id, x.at, x.who, x.mailbox, x.sequence_id, x.step_id, x.variant, FALSE AS new
        FROM email_facts x WHERE x.who IN (SELECT n.who FROM n)
        UNION ALL
        SELECT n.id, n.at, n.who, n.mailbox, n.sequence_id, n.step_id, n.variant, TRUE FROM n
    ), p AS (
        SELECT u.event_id, u.at, u.who, u.mailbox, u.sequence_id, u.step_id, u.variant, u.new,
               LAG(u.at) OVER (PARTITION BY u.who ORDER BY u.at, u.event_id) AS prev_any,
               LAG(u.at) OVER (PARTITION BY u.who, u.mailbox ORDER BY u.at, u.event_id) AS prev_mailbox,
               LAG(u.at) OVER (PARTITION BY u.who, u.sequence_id ORDER BY u.at, u.event_id) AS prev_sequence,
               LAG(u.at) OVER (PARTITION BY u.who, u.sequence_id, u.step_id
                               ORDER BY u.at, u.event_id) AS prev_step,
               LAG(u.at) OVER (PARTITION BY u.who, u.sequence_id, u.step_id, u.variant
                               ORDER BY u.at, u.event_id) AS prev_variant
        FROM u
    ), inserted AS (
        INSERT INTO email_facts (event_id, at, who, mailbox, sequence_id, step_id, variant,
                                 prev_any, prev_mailbox, prev_sequence, prev_step, prev_variant)
        SELECT p.event_id, p.at, p.who, p.mailbox, p.sequence_id, p.step_id, p.variant,
               p.prev_any, p.prev_mailbox, p.prev_sequence, p.prev_step, p.prev_variant
        FROM p WHERE p.new
    )
    UPDATE email_facts f
    SET prev_any = p.prev_any, prev_mailbox = p.prev_mailbox, prev_sequence = p.prev_sequence,
        prev_step = p.prev_step, prev_variant = p.prev_variant
    FROM p
    WHERE NOT p.new AND f.event_id = p.event_id
      AND (f.prev_any, f.prev_mailbox, f.prev_sequence, f.prev_step, f.prev_variant)
          IS DISTINCT FROM (p.prev_any, p.prev_mailbox, p.prev_sequence, p.prev_step, p.prev_variant);
END
$$;

-- One `sent` event at a time, at commit, for a writer that does not fold its own.
CREATE FUNCTION sent_facts_fold_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM sent_facts_fold(ARRAY[NEW.id]);
    RETURN NULL;
END
$$;

-- `sent` events leave events_lead_facts for events_sent_facts, which folds both tables.
DROP TRIGGER events_lead_facts ON events;
CREATE CONSTRAINT TRIGGER events_lead_facts AFTER INSERT ON events
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (NEW.lead_id IS NOT NULL AND (NEW.kind IN ('received', 'task-done', 'assigned')
          OR (NEW.kind = 'stopped' AND NEW.data::jsonb ->> 'by' = 'hand')))
    EXECUTE FUNCTION lead_facts_fold();

DROP TRIGGER events_sent_facts ON events;
DROP FUNCTION email_facts_fold();
-- The WHEN is evaluated as the row is inserted: a `sent` event of a transaction that folds its
-- own is not even queued.
CREATE CONSTRAINT TRIGGER events_sent_facts AFTER INSERT ON events
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (NEW.kind = 'sent' AND current_setting('drumbeat.sent_facts', true) IS DISTINCT FROM 'batch')
    EXECUTE FUNCTION sent_facts_fold_row();

-- Whether a lead already has an event of this kind with exactly this data (a report that came
-- before).
-- $1: the lead. $2: the kind. $3: the data (JSON text).
SELECT id FROM events WHERE lead_id = $1 AND kind = $2 AND data = $3 LIMIT 1

-- A hard bounce puts the address on the suppression list (once).
-- $1: the address. $2: the error, as the note. $3: now.
INSERT INTO suppressions (value, reason, note, created_at) VALUES ($1, 'bounced', $2, $3)
ON CONFLICT (value) DO NOTHING

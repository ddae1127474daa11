-- The mailbox was just read: its follow-ups held for the inbox are held no more (the scheduler
-- decides them again when they are due).
-- $1: the mailbox.
UPDATE enrollments SET inbox_held_at = NULL WHERE mailbox = $1 AND inbox_held_at IS NOT NULL

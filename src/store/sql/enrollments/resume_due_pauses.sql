-- Pauses whose end (`paused_until`, an out-of-office return date) has come end: those
-- enrollments are active again and due now at the latest. Returns them.
-- $1: now.
UPDATE enrollments
SET state = 'active', paused_until = NULL, reason = 'pause ended', updated_at = $1,
    next_due_at = CASE WHEN next_due_at IS NULL OR next_due_at < $1 THEN $1 ELSE next_due_at END
WHERE state = 'paused' AND paused_until IS NOT NULL AND paused_until <= $1
RETURNING id, lead_id, sequence_id

-- A waiting draft's touch, sent from the rep's mail client, is recorded like the daemon's own
-- sends: it becomes `sending` here, and `sent` by the statements of `sent` in the same
-- transaction.
-- $1: the touch.
UPDATE touches SET state = 'sending' WHERE id = $1 AND state = 'scheduled'

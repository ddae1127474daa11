-- Whether a lead's address is on the suppression list already (0 or 1).
-- $1: the lead.
SELECT COUNT(*) FROM suppressions WHERE value = (SELECT email FROM leads WHERE id = $1)

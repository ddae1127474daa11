-- Appended to `select.sql`: only the drafts still waiting for the rep (open, or approved and
-- not yet claimed by the daemon: their touch is still `scheduled`).
 AND d.state IN ('open', 'approved') AND t.state = 'scheduled'

-- Appended to `select.sql`: only the drafts still waiting for the rep (open, or approved and
-- not yet claimed by the daemon: their touch is still `scheduled`) of enrollments still open
-- (a reply, a bounce or a stop ends their drafts with them).
 AND d.state IN ('open', 'approved') AND t.state = 'scheduled' AND e.state IN ('active', 'paused')

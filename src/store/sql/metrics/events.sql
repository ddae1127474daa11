-- Events by kind, for these kinds: one range of the (kind, at) index per kind.
-- $1: the kinds (a list).
SELECT kind, COUNT(*) AS n FROM events WHERE kind IN $1 GROUP BY kind ORDER BY kind

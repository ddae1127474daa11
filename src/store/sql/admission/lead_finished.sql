-- The latest end of an enrollment of each of these leads that emailed them (a sent touch):
-- where the re-contact interval starts.
-- $1: the leads (a list).
SELECT e.lead_id AS k, MAX(e.finished_at) AS at FROM enrollments e
WHERE e.lead_id IN $1 AND e.finished_at IS NOT NULL AND e.state NOT IN ('active', 'paused')
  AND EXISTS (SELECT 1 FROM touches t WHERE t.enrollment_id = e.id AND t.sent_at IS NOT NULL)
GROUP BY e.lead_id

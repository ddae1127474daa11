-- Number of leads stored (forgotten ones are not).
SELECT COUNT(*) AS n FROM leads WHERE forgotten_at IS NULL

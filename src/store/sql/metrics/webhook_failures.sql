-- Outgoing webhook deliveries that failed for good, by endpoint.
SELECT endpoint, COUNT(*) AS n FROM webhook_deliveries
WHERE state = 'failed'
GROUP BY endpoint
ORDER BY endpoint

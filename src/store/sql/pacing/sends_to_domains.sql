-- Emails claimed to these recipient domains since a time, oldest first.
-- $1: the domains (a list). $2: since.
SELECT recipient_domain, claimed_at
FROM touches
WHERE recipient_domain IN $1 AND claimed_at >= $2 AND state IN ('sending', 'sent', 'uncertain')
ORDER BY claimed_at

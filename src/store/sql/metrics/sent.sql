-- Emails sent per mailbox (only emails have a mailbox): the (mailbox, sent_at) index alone
-- answers.
SELECT mailbox, COUNT(*) AS n FROM touches
WHERE mailbox IS NOT NULL AND sent_at IS NOT NULL
GROUP BY mailbox

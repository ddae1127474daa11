-- A lead's owner (a mailbox name), if it has one.
-- $1: the lead.
SELECT owner FROM leads WHERE id = $1

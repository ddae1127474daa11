-- Takes or renews mailbox leases: each mailbox of `v` whose lease this daemon holds and has
-- not run out is renewed (same epoch); one whose lease ended before $3 is taken (the epoch
-- grows: claims decided under the old one are refused). Returns the mailboxes held now.
-- v: (mailbox). $1: this daemon. $2: now. $3: free before. $4: the lease's new end.
-- `WHERE true`: without it SQLite would read `ON CONFLICT` as the `ON` of a join.
INSERT INTO mailbox_holders (mailbox, owner, epoch, since, until)
SELECT v.mailbox, $1, 1, $2, $4 FROM v WHERE true
ON CONFLICT (mailbox) DO UPDATE SET
    epoch = CASE WHEN mailbox_holders.owner = excluded.owner AND mailbox_holders.until >= $2
                 THEN mailbox_holders.epoch ELSE mailbox_holders.epoch + 1 END,
    since = CASE WHEN mailbox_holders.owner = excluded.owner AND mailbox_holders.until >= $2
                 THEN mailbox_holders.since ELSE excluded.since END,
    owner = excluded.owner,
    until = excluded.until
WHERE (mailbox_holders.owner = excluded.owner AND mailbox_holders.until >= $2)
   OR mailbox_holders.until < $3
RETURNING mailbox, epoch

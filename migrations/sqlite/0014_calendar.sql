-- Planned pauses: a rep's vacation (a mailbox) or a whole sequence held between two instants.
-- Keep in step with migrations/postgres/0014_calendar.sql.

-- While a hold is on (starts_at <= now < until_at, not resumed), the scheduler moves the due
-- steps it covers to its end (or looks again a little later when it has none): no email and no
-- task comes due from that mailbox or sequence, and nothing is lost or sent twice after it.
CREATE TABLE holds (
    id         INTEGER PRIMARY KEY,
    scope      TEXT    NOT NULL,              -- mailbox sequence
    name       TEXT    NOT NULL,              -- the mailbox's name or the sequence's id
    starts_at  BIGINT  NOT NULL,
    until_at   BIGINT,                        -- NULL: until `drumbeat resume`
    reason     TEXT    NOT NULL,
    created_at BIGINT  NOT NULL,
    resumed_at BIGINT
);
CREATE INDEX holds_scope_name ON holds (scope, name);

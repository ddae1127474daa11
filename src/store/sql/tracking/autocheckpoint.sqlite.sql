-- The hit writer's connection checkpoints only past 8,000 WAL pages: a commit that passes the
-- default threshold (1,000 pages) copies the WAL into the database and fsyncs it before it
-- returns, and every hit of the batch waits. Checkpoints run on another connection instead
-- (`checkpoint.sqlite.sql`); past this many pages, this one checkpoints all the same.
-- (SQLite only.)
PRAGMA wal_autocheckpoint = 8000

-- Copies what the WAL holds into the database file, waiting for nobody: what readers still
-- use stays for the next time. (SQLite only.)
PRAGMA wal_checkpoint(PASSIVE)

-- Back to the store's setting for writes once a report ran (see `sql/store/connect.sqlite.sql`).
-- (SQLite only.)
PRAGMA temp_store = MEMORY

-- Every SQLite connection, once opened: write-ahead log (readers do not wait for the writer),
-- synchronous = NORMAL (durable at each checkpoint, safe with WAL), foreign keys enforced,
-- 10 s of waiting for the write lock before SQLITE_BUSY, and a 16 MiB page cache.
-- temp_store = MEMORY keeps statement journals (which undo one failed statement inside a
-- transaction) off the disk: a 500-row upsert wrote every page it touched to a temporary
-- file. They matter for nothing once the statement ends, so durability is unchanged.
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
PRAGMA foreign_keys = ON;
PRAGMA busy_timeout = 10000;
PRAGMA temp_store = MEMORY;
PRAGMA cache_size = -16384;

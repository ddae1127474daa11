-- A report's GROUP BY and DISTINCT sort through SQLite's external merge sorter, which spills
-- to a temporary file only past the page cache: over millions of events it sorts twice as
-- fast as the in-memory b-tree that `temp_store = MEMORY` (the store's setting for writes)
-- makes it use. (SQLite only.)
PRAGMA temp_store = FILE

-- Page cache of a connection that writes leads in bulk, in KiB (negative: KiB, not pages).
-- The default 2 MiB makes a million-lead import re-read and re-write the same index pages
-- through the kernel; 64 MiB keeps the hot parts of the email and account indexes in
-- memory. Only connections that ran a bulk write grow to it. (SQLite only.)
PRAGMA cache_size = -65536

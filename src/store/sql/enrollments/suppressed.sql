-- Which of these suppression values (addresses, `@domain`s, `sha256:` hashes) are on the list.
-- $1: the values (a list).
SELECT value FROM suppressions WHERE value IN $1

-- One index fewer on touches (issue 18). Keep in step with migrations/sqlite/0026_touch_indexes.sql.
--
-- touches_enrollment (enrollment_id) repeats the first column of the unique index on
-- (enrollment_id, step_id), which answers the same lookups. Every touch claimed and every touch
-- recorded `sent` wrote an entry into both.
DROP INDEX IF EXISTS touches_enrollment;

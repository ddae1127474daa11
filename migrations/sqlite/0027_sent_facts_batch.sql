-- Nothing changes on SQLite (issue 18); keeps the versions of both engines in step with
-- migrations/postgres/0027_sent_facts_batch.sql, where the daemon folds the facts of its `sent`
-- events a batch at a time. SQLite's one writer folds them with the row triggers of 0024 and
-- 0025, whose cost per email is small beside its other writes.
SELECT 1;

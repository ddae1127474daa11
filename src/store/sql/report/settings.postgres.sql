-- A report's settings on PostgreSQL, for its read-only transaction only (is_local = true):
-- - jit off: the report's statements are long but built of many small expressions, and
--   compiling them cost more than it saved (the 90-day cohort on 1,000,000 leads: 0.92 s with
--   JIT, 0.58 s without; benches/scale-pg.sh);
-- - work_mem 64 MB: the GROUP BY of a period's (group, person) pairs and the cohort's hash of
--   its leads fit in memory instead of spilling to temporary files in batches. One report
--   statement runs per connection at a time, at most three at once.
SELECT set_config('jit', 'off', true), set_config('work_mem', '64MB', true)

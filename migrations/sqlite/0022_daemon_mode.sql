-- A `drumbeat run --once` registers as a once-run, not as a daemon: `status` lists the
-- long-running daemons, and the last once-run apart.
ALTER TABLE daemons ADD COLUMN mode TEXT NOT NULL DEFAULT 'daemon';  -- daemon | once

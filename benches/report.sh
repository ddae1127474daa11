#!/usr/bin/env bash
# `drumbeat report` on a big store: 1,000,000 leads and about 10,000,000 events spread over the
# year before DRUMBEAT_NOW, generated straight into a SQLite store that drumbeat created.
#
#   benches/report.sh                   # generate (about 2 min), then time each report
#   DRUMBEAT_BENCH_LEADS=100000 benches/report.sh
#   DRUMBEAT_BENCH_KEEP=/tmp/big benches/report.sh   # keep (or reuse) the generated project
#
# Prints the wall time of each report (goal from the issue: under 2 s on SQLite).
# Needs python3 (its sqlite3 module) to generate the data.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LEADS=${DRUMBEAT_BENCH_LEADS:-1000000}
NOW=2026-12-01T12:00:00Z

(cd "$REPO" && cargo build --release --quiet)
BIN=$REPO/target/release/drumbeat

if [ -n "${DRUMBEAT_BENCH_KEEP:-}" ]; then
    WORK=$DRUMBEAT_BENCH_KEEP
    mkdir -p "$WORK"
else
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/drumbeat-report-bench.XXXXXX")
    trap 'rm -rf "$WORK"' EXIT
fi
cd "$WORK"

if [ ! -f data/generated ]; then
    rm -rf data sequences templates
    cp -r "$REPO/sequences" "$REPO/templates" .
    mkdir -p data
    {
        echo 'store = "sqlite://data/drumbeat.db"'
        echo 'timezone = "America/New_York"'
        for i in $(seq 0 19); do
            printf '[[mailbox]]\nname = "rep%d"\nfrom = "rep%d@example.com"\ndaily_cap = 100\noutbox = "data/outbox"\n' "$i" "$i"
        done
    } > config.toml
    "$BIN" status >/dev/null   # creates and migrates the store
    echo "generating $LEADS leads and their events…"
    start=$(date +%s)
    python3 - "$LEADS" "$NOW" <<'PY'
import sqlite3, sys, datetime
leads = int(sys.argv[1])
now = int(datetime.datetime.fromisoformat(sys.argv[2].replace("Z", "+00:00")).timestamp())
start = now - 365 * 86400
step = max(1, (365 * 86400) // leads)
db = sqlite3.connect("data/drumbeat.db")
db.executescript("PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF;")
q = db.execute
q(f"""WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {leads})
INSERT INTO leads (id, email, owner, source, fingerprint, created_at, updated_at)
SELECT i, 'lead' || i || '@example.com', 'rep' || (i % 20),
  CASE i % 3 WHEN 0 THEN 'api' WHEN 1 THEN 'csv:leads.csv' ELSE 'cli' END,
  i, {start} + i * {step}, {start} + i * {step} FROM n""")
# Events in time order, as a daemon writes them: arrival, enrollment, 1-7 emails three days
# apart (variant a/b on the first), deliveries, clicks, and outcomes.
q("""INSERT INTO events (at, kind, lead_id, mailbox, data)
SELECT created_at, 'received', id, owner, json_object('source', source) FROM leads""")
q("""INSERT INTO events (at, kind, lead_id, enrollment_id, sequence_id, mailbox, data)
SELECT created_at + 60, 'enrolled', id, id, 'seq' || (id % 4), owner, '{}' FROM leads""")
q("""WITH RECURSIVE s(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM s WHERE k < 7)
INSERT INTO events (at, kind, lead_id, enrollment_id, touch_id, sequence_id, step_id, mailbox, data)
SELECT created_at + 600 * (1 + id % 144) + (k - 1) * 259200, 'sent', id, id, id * 10 + k,
  'seq' || (id % 4), 'step' || k, owner,
  CASE WHEN k = 1 THEN json_object('variant', CASE WHEN id % 2 = 0 THEN 'a' ELSE 'b' END) ELSE '{}' END
FROM leads, s WHERE k <= 1 + (id * 7919) % 7""")
q("""INSERT INTO events (at, kind, lead_id, enrollment_id, touch_id, sequence_id, step_id, mailbox, data)
SELECT at + 30, 'delivered', lead_id, enrollment_id, touch_id, sequence_id, step_id, mailbox, '{}'
FROM events WHERE kind = 'sent' AND touch_id % 2 = 0""")
q("""INSERT INTO events (at, kind, lead_id, enrollment_id, touch_id, sequence_id, step_id, mailbox, data)
SELECT at + 3600, 'clicked', lead_id, enrollment_id, touch_id, sequence_id, step_id, mailbox, '{}'
FROM events WHERE kind = 'sent' AND touch_id % 3 = 1""")
for kind, mod, data in [("replied", 17, '{"kind":"reply"}'), ("bounced", 53, '{"kind":"bounce-hard"}'),
                        ("unsubscribed", 97, '{}')]:
    q(f"""INSERT INTO events (at, kind, lead_id, enrollment_id, touch_id, sequence_id, mailbox, data)
    SELECT at + 7200, '{kind}', lead_id, enrollment_id, touch_id, sequence_id, mailbox, '{data}'
    FROM events WHERE kind = 'sent' AND touch_id % 10 = 1 AND lead_id % {mod} = 0""")
q("""INSERT INTO events (at, kind, lead_id, touch_id, mailbox, data)
SELECT at + 3600, 'reply-handled', lead_id, touch_id, mailbox,
  json_object('outcome', CASE WHEN lead_id % 2 = 0 THEN 'interested' ELSE 'not-interested' END)
FROM events WHERE kind = 'replied'""")
q("""INSERT INTO events (at, kind, lead_id, mailbox, data)
SELECT at + 86400, 'meeting-booked', lead_id, mailbox, '{}' FROM events WHERE kind = 'replied' AND lead_id % 3 = 0""")
q("""INSERT INTO events (at, kind, lead_id, enrollment_id, sequence_id, mailbox, data)
SELECT created_at + 7 * 86400, 'stopped', id, id, 'seq' || (id % 4), owner, '{"by":"hand"}' FROM leads WHERE id % 41 = 0""")
q("""INSERT INTO events (at, kind, lead_id, enrollment_id, sequence_id, mailbox, data)
SELECT created_at + 21 * 86400, 'finished', id, id, 'seq' || (id % 4), owner, '{}' FROM leads WHERE id % 5 <> 0""")
db.commit()
db.execute("ANALYZE")
db.commit()
for kind, n in db.execute("SELECT kind, COUNT(*) FROM events GROUP BY kind ORDER BY 2 DESC"):
    print(f"  {kind:16} {n:>10,}")
print(f"  {'total':16} {db.execute('SELECT COUNT(*) FROM events').fetchone()[0]:>10,}")
PY
    echo "generated in $(( $(date +%s) - start )) s; store $(du -h data/drumbeat.db | cut -f1)"
    touch data/generated
fi

# Warm the page cache once, as a store in use would be.
cat data/drumbeat.db > /dev/null

printf '\n%-44s %9s\n' "report" "seconds"
run() {
    local label=$1
    shift
    local t0 t1
    t0=$(date +%s.%N)
    DRUMBEAT_NOW=$NOW "$BIN" report "$@" > /dev/null
    t1=$(date +%s.%N)
    printf '%-44s %9.2f\n' "$label" "$(echo "$t1 - $t0" | bc)"
}
for by in rep sequence step variant source; do
    run "--by $by (last 30 days)" --by "$by"
done
for by in rep sequence step variant source; do
    run "--by $by --since 90d" --by "$by" --since 90d
done
run "--by rep --since 365d (everything)" --by rep --since 365d
run "--by variant --since 365d (everything)" --by variant --since 365d
run "--html (last 30 days, every grouping)" --html "$WORK/report.html"
run "--html --since 90d" --html "$WORK/report.html" --since 90d

#!/usr/bin/env bash
# drumbeat on a big PostgreSQL store (issue 18): 10,000,000 leads, each enrolled once (a quarter
# still active, their next step weeks away), and about 30,000,000 events over the year before
# DRUMBEAT_NOW, generated straight into a store drumbeat created. Then, each timed with its
# peak RSS:
#   run --once with nothing due      the scheduler's cost when idle (goal: proportional to due)
#   run --once with 1,000 due         1,000 first emails to the outbox (goal: ≤ 0.5 s scheduling)
#   status                            the dashboard over the whole store
#   report --since 90d                the 90-day report (goal: ≤ 5 s)
# and the plan of the tick's due query (EXPLAIN ANALYZE), so the index it uses is shown.
#
#   eval "$(scripts/testbed start)"          # PostgreSQL on 127.0.0.1:15432
#   benches/scale-pg.sh                      # about 15 minutes on 2 cores, most of it generating
#   DRUMBEAT_BENCH_LEADS=1000000 benches/scale-pg.sh
#   DRUMBEAT_BENCH_KEEP=1 benches/scale-pg.sh   # keep the database (drumbeat_scale_N) afterwards
#   DRUMBEAT_BENCH_DB=drumbeat_scale_N benches/scale-pg.sh   # measure a kept one again (no generating;
#                                            # another 1,000 active enrollments are made due)
#
# The emails go to an outbox folder on tmpfs (/dev/shm) when there is one: the outbox syncs
# each file to disk, and on a VM's disk 1,000 syncs cost 0.3-0.9 s and slow PostgreSQL beside
# them, which is the disk's cost, not the scheduler's (benches/send.sh measures sending).
#
# Loopback only: DRUMBEAT_TEST_PG must point at 127.0.0.1, localhost or ::1.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LEADS=${DRUMBEAT_BENCH_LEADS:-10000000}
DUE=${DRUMBEAT_BENCH_DUE:-1000}
# A Thursday, 10:00 in New York: inside cold-outbound's window.
NOW=2026-12-03T15:00:00Z
NOW_S=$(date -d "$NOW" +%s)

server=${DRUMBEAT_TEST_PG:?"needs DRUMBEAT_TEST_PG (eval \"\$(scripts/testbed start)\")"}
if ! [[ $server =~ @(127\.0\.0\.1|localhost|\[::1\]) ]]; then
    echo "scale-pg: DRUMBEAT_TEST_PG must point at loopback" >&2
    exit 1
fi
command -v psql >/dev/null || { echo "scale-pg: needs psql" >&2; exit 1; }

(cd "$REPO" && cargo build --release --quiet)
BIN=$REPO/target/release/drumbeat

name=${DRUMBEAT_BENCH_DB:-drumbeat_scale_$$}
url=${server%/*}/$name
[ -n "${DRUMBEAT_BENCH_DB:-}" ] || psql -q "$server" -c "CREATE DATABASE $name"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/drumbeat-scale.XXXXXX")
OUTBOX=$WORK/outbox
[ -d /dev/shm ] && [ -w /dev/shm ] && OUTBOX=$(mktemp -d /dev/shm/drumbeat-scale-outbox.XXXXXX)
cleanup() {
    cd /
    rm -rf "$WORK" "$OUTBOX"
    if [ -z "${DRUMBEAT_BENCH_KEEP:-}${DRUMBEAT_BENCH_DB:-}" ]; then
        psql -q "$server" -c "DROP DATABASE IF EXISTS $name" || true
    else
        echo "kept database $url"
    fi
}
trap cleanup EXIT
cd "$WORK"
cp -r "$REPO/sequences" "$REPO/templates" .
# The 20 reps send for the sequences; no daily cap stops them (a kept store has sent before at
# the same instant).
reps=$(seq -s ', ' -f 'rep%g' 0 19)
sed -i "s/^mailboxes: .*/mailboxes: [$reps]/" sequences/*.yaml
mkdir -p "$OUTBOX"
{
    echo "store = \"$url\""
    echo 'timezone = "America/New_York"'
    printf '\n[sending]\njitter = "0"\ndomain_hourly_limit = 0\n'
    for i in $(seq 0 19); do
        printf '\n[[mailbox]]\nname = "rep%d"\nfrom = "rep%d@example.com"\ndisplay_name = "Rep %d"\nsignature = "Rep %d, Example Inc."\ndaily_cap = 100000\noutbox = "%s"\n' "$i" "$i" "$i" "$i" "$OUTBOX"
    done
} > config.toml
DRUMBEAT_NOW=$NOW "$BIN" status > /dev/null   # creates and migrates the store
echo "the emails go to $OUTBOX"

if [ -z "${DRUMBEAT_BENCH_DB:-}" ]; then
echo "generating $LEADS leads, their enrollments and events…"
t0=$(date +%s)
psql -q -v ON_ERROR_STOP=1 "$url" > /dev/null <<SQL
SET synchronous_commit = off;
-- Without triggers: the per-lead facts (lead_facts) are made below by their migration, as
-- when a big store is upgraded, not folded in one event at a time.
SET session_replication_role = replica;
\set leads $LEADS
\set now $NOW_S
\set start ($NOW_S - 365 * 86400)
-- Leads arrive evenly over the year, 20 reps.
INSERT INTO leads (id, email, first_name, company, title, timezone, owner, source, fingerprint, created_at, updated_at)
SELECT i, 'lead' || i || '@company' || (i % 100000) || '.example', 'Lead' || i, 'Company ' || (i % 100000), 'Head of Sales',
       'America/New_York', 'rep' || (i % 20),
       CASE i % 3 WHEN 0 THEN 'api' WHEN 1 THEN 'csv:leads.csv' ELSE 'cli' END,
       i, :start + i * (365 * 86400 / :leads), :start + i * (365 * 86400 / :leads)
FROM generate_series(1, :leads) AS i;
SELECT setval(pg_get_serial_sequence('leads', 'id'), :leads);
-- One enrollment each: the latest quarter still active (next step 1 to 30 days ahead), the
-- rest ended the ways sequences end.
INSERT INTO enrollments (id, lead_id, sequence_id, state, next_step_id, next_due_at, mailbox,
                         outcome, enrolled_at, updated_at, finished_at)
SELECT i, i, 'cold-outbound',
       CASE WHEN i > :leads * 3 / 4 THEN 'active'
            WHEN i % 17 = 0 THEN 'replied' WHEN i % 53 = 0 THEN 'bounced'
            WHEN i % 97 = 0 THEN 'unsubscribed' ELSE 'finished' END,
       CASE WHEN i > :leads * 3 / 4 THEN 'intro' END,
       CASE WHEN i > :leads * 3 / 4 THEN :now + 86400 + (i % 30) * 86400 END,
       'rep' || (i % 20),
       CASE WHEN i > :leads * 3 / 4 THEN NULL WHEN i % 17 = 0 THEN 'replied' ELSE 'finished' END,
       :start + i * (365 * 86400 / :leads) + 60, :start + i * (365 * 86400 / :leads) + 60,
       CASE WHEN i > :leads * 3 / 4 THEN NULL ELSE :start + i * (365 * 86400 / :leads) + 21 * 86400 END
FROM generate_series(1, :leads) AS i;
SELECT setval(pg_get_serial_sequence('enrollments', 'id'), :leads);
-- Events in time order, as daemons write them: arrival, enrollment, 1 or 2 emails, some
-- deliveries and clicks, replies and bounces.
INSERT INTO events (at, kind, lead_id, mailbox, data)
SELECT created_at, 'received', id, owner, '{"source":"' || source || '"}' FROM leads;
INSERT INTO events (at, kind, lead_id, enrollment_id, sequence_id, mailbox, data)
SELECT created_at + 60, 'enrolled', id, id, 'cold-outbound', owner, '{}' FROM leads;
INSERT INTO events (at, kind, lead_id, enrollment_id, touch_id, sequence_id, step_id, mailbox, data)
SELECT l.created_at + 600 + (k - 1) * 259200, 'sent', l.id, l.id, l.id * 10 + k, 'cold-outbound',
       CASE k WHEN 1 THEN 'intro' ELSE 'value-add' END, l.owner,
       CASE WHEN k = 1 THEN '{"variant":"' || CASE WHEN l.id % 2 = 0 THEN 'a' ELSE 'b' END || '"}' ELSE '{}' END
FROM leads l, generate_series(1, 2) AS k WHERE k = 1 OR l.id % 2 = 0;
INSERT INTO events (at, kind, lead_id, enrollment_id, touch_id, sequence_id, step_id, mailbox, data)
SELECT at + 30, 'delivered', lead_id, enrollment_id, touch_id, sequence_id, step_id, mailbox, '{}'
FROM events WHERE kind = 'sent' AND touch_id % 3 = 1;
INSERT INTO events (at, kind, lead_id, enrollment_id, touch_id, sequence_id, step_id, mailbox, data)
SELECT at + 3600, 'clicked', lead_id, enrollment_id, touch_id, sequence_id, step_id, mailbox, '{}'
FROM events WHERE kind = 'sent' AND touch_id % 7 = 1;
INSERT INTO events (at, kind, lead_id, enrollment_id, touch_id, sequence_id, mailbox, data)
SELECT at + 7200, 'replied', lead_id, enrollment_id, touch_id, sequence_id, mailbox, '{"kind":"reply"}'
FROM events WHERE kind = 'sent' AND touch_id % 10 = 1 AND lead_id % 17 = 0;
INSERT INTO events (at, kind, lead_id, enrollment_id, touch_id, sequence_id, mailbox, data)
SELECT at + 7200, 'bounced', lead_id, enrollment_id, touch_id, sequence_id, mailbox, '{"kind":"bounce-hard"}'
FROM events WHERE kind = 'sent' AND touch_id % 10 = 1 AND lead_id % 53 = 0;
VACUUM ANALYZE;
SQL
# The facts the report reads (per lead for its cohort, per email for its activity): the
# migrations that make them (0024, 0025; 0027 changes how `sent` events are folded) applied
# again, timed, as on an upgrade of a store this big.
psql -q -v ON_ERROR_STOP=1 "$url" > /dev/null <<SQL
DROP TRIGGER events_lead_facts ON events;
DROP TRIGGER events_sent_facts ON events;
DROP FUNCTION sent_facts_fold_row();
DROP FUNCTION sent_facts_fold(BIGINT[]);
DROP FUNCTION lead_facts_fold();
DROP TABLE lead_facts;
DROP TABLE email_facts;
DELETE FROM _sqlx_migrations WHERE version IN (24, 25, 27);
SQL
t1=$(date +%s)
DRUMBEAT_NOW=$NOW "$BIN" status > /dev/null
psql -q "$url" -c "VACUUM ANALYZE lead_facts, email_facts"
echo "migrations 0024, 0025 and 0027 (the facts per lead and per email) took $(( $(date +%s) - t1 )) s"
psql -At "$url" -c "SELECT kind, count(*) FROM events GROUP BY kind ORDER BY 2 DESC" |
    awk -F'|' '{ printf "  %-12s %12d\n", $1, $2; n += $2 } END { printf "  %-12s %12d\n", "total", n }'
echo "generated in $(( $(date +%s) - t0 )) s; database $(psql -At "$url" -c "SELECT pg_size_pretty(pg_database_size(current_database()))")"
fi

# Timed: the wall time and the peak RSS of one command.
timed() {
    local label=$1
    shift
    local secs kib
    if ! /usr/bin/time -o "$WORK/time" -f '%e %M' env DRUMBEAT_NOW=$NOW "$BIN" "$@" \
        > "$WORK/last.out" 2> "$WORK/last.err"; then
        echo "$label: failed" >&2
        cat "$WORK/last.err" >&2
        exit 1
    fi
    read -r secs kib < <(tail -n 1 "$WORK/time")
    printf '%-38s %8.2f s %8.1f MiB\n' "$label" "$secs" "$(echo "$kib / 1024" | bc -l)"
}

printf '\n%-38s %10s %12s\n' "command" "wall" "peak RSS"
timed "run --once, nothing due" run --once
timed "run --once, nothing due (again)" run --once
# The latest enrollments still at their first step (on a kept store, those not sent yet).
psql -q "$url" -c "UPDATE enrollments SET next_due_at = $NOW_S - 60
    WHERE id IN (SELECT id FROM enrollments WHERE state = 'active' AND next_step_id = 'intro'
                 AND next_due_at > $NOW_S ORDER BY id DESC LIMIT $DUE)"
timed "run --once, $DUE due" -v run --once
sent=$(find "$OUTBOX" -name '*.eml' | wc -l)
echo "  ($sent emails in the outbox; $(grep -m1 '^sent' "$WORK/last.out" || true))"
# Where its time went, by the scheduler's phases (`-v`): `deciding` renders the emails,
# `sending` writes them to the outbox; the rest is the scheduling the goal is about.
echo "  $(grep -o 'run --once took.*' "$WORK/last.err" || echo 'no phase times in its log')"
timed "status" status
timed "report --since 90d" report --since 90d
timed "report --since 90d --by variant" report --since 90d --by variant

echo
# The statements as a daemon holding the 20 mailboxes runs them ($5 / $2 = 0: its scope), with
# their parameters written in; the UPDATE's EXPLAIN ANALYZE is rolled back.
held="($(seq -s ', ' -f "'rep%g'" 0 19))"
statement() { # $1 = SQL file, then sed expressions for its parameters
    local file=$1
    shift
    sed -e '/^--/d' "$@" "$REPO/src/store/sql/due/$file"
}
echo "the tick's due query (src/store/sql/due/lease_due.postgres.sql), EXPLAIN ANALYZE:"
psql -At "$url" <<SQL | sed -e '/^BEGIN$/d' -e '/^ROLLBACK$/d' -e 's/^/  /'
BEGIN;
EXPLAIN (ANALYZE, COSTS OFF) $(statement lease_due.postgres.sql -e "s/\$1/'bench'/g" -e "s/\$2/$((NOW_S + 20))/g" \
    -e "s/\$3/$NOW_S/g" -e 's/\$4/500/g' -e 's/\$5/0/g' -e "s/\$6/$held/g" -e "s/\$7/$held/g");
ROLLBACK;
SQL
echo "the next due time (src/store/sql/due/next_due_at.sql), EXPLAIN ANALYZE:"
psql -At "$url" -c "EXPLAIN (ANALYZE, COSTS OFF) $(statement next_due_at.sql -e "s/\$1/$NOW_S/g" -e 's/\$2/0/g' \
    -e "s/\$3/$held/g" -e "s/\$4/$held/g")" | sed 's/^/  /'

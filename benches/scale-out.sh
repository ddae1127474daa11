#!/usr/bin/env bash
# Several daemons on one PostgreSQL (issue 18): does a second daemon add capacity? In one run:
# for 1, 2 and 4 daemons (separate processes, `drumbeat run --instance dN`), a fresh store with
# 20 mailboxes (4 groups of 5, one smtp-sink per group, each writing what it receives to a
# folder) and N due first emails; the send rate from the daemons' start to the last `sent`,
# its ratio to one daemon, how the mailboxes were shared, and the Message-IDs the sinks got
# more than once (must be 0). Twice: without gaps (bound by the CPU of this machine) and with
# each mailbox's `min_gap` (bound by the gaps: the win of more daemons is concurrency).
#
#   eval "$(scripts/testbed start)"           # PostgreSQL on 127.0.0.1:15432
#   benches/scale-out.sh                      # about 10 minutes on 2 cores
#   DRUMBEAT_BENCH_TOUCHES=20000 DRUMBEAT_BENCH_GAP_TOUCHES=1000 DRUMBEAT_BENCH_GAP="2 seconds" \
#   DRUMBEAT_BENCH_DAEMONS="1 2 4" DRUMBEAT_BENCH_MODES="nogap gap" benches/scale-out.sh
#
# Loopback only: DRUMBEAT_TEST_PG must point at 127.0.0.1, localhost or ::1; the sinks listen
# on 127.0.0.1. Every wait is bounded.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOUCHES=${DRUMBEAT_BENCH_TOUCHES:-20000}
GAP_TOUCHES=${DRUMBEAT_BENCH_GAP_TOUCHES:-1000}
GAP=${DRUMBEAT_BENCH_GAP:-2 seconds}
DAEMONS=${DRUMBEAT_BENCH_DAEMONS:-1 2 4}
MODES=${DRUMBEAT_BENCH_MODES:-nogap gap}
MAILBOXES=20
GROUPS_OF=5
SINK=/usr/sbin/smtp-sink

server=${DRUMBEAT_TEST_PG:?"needs DRUMBEAT_TEST_PG (eval \"\$(scripts/testbed start)\")"}
if ! [[ $server =~ @(127\.0\.0\.1|localhost|\[::1\]) ]]; then
    echo "scale-out: DRUMBEAT_TEST_PG must point at loopback" >&2
    exit 1
fi
command -v psql >/dev/null || { echo "scale-out: needs psql" >&2; exit 1; }
[ -x "$SINK" ] || { echo "scale-out: needs $SINK (Debian package postfix)" >&2; exit 1; }

(cd "$REPO" && cargo build --release --quiet)
BIN=$REPO/target/release/drumbeat
WORK=$(mktemp -d "${TMPDIR:-/tmp}/drumbeat-scale-out.XXXXXX")
chmod 755 "$WORK"
pids=()
dbs=()
cleanup() {
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    # Reaped quietly: bash would print a "Killed" line for each.
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    for d in "${dbs[@]}"; do psql -q "$server" -c "DROP DATABASE IF EXISTS $d" 2>/dev/null || true; done
    cd /
    rm -rf "$WORK"
}
trap cleanup EXIT

# A free loopback port.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# One run: $1 daemons, $2 touches, $3 min_gap ("" for none). Prints one line.
run() {
    local n=$1 touches=$2 gap=$3
    local dir=$WORK/run-$n-${gap:+gap}
    local name=drumbeat_scaleout_$$_${n}_${gap:+gap}
    name=${name// /_}
    mkdir -p "$dir"
    cd "$dir"
    psql -q "$server" -c "CREATE DATABASE $name"
    dbs+=("$name")
    local url=${server%/*}/$name
    cp -r "$REPO/templates" .
    mkdir -p sequences
    local reps
    reps=$(seq -s ', ' -f 'rep%g' 0 $((MAILBOXES - 1)))
    cat > sequences/blast.yaml <<YAML
id: blast
name: One email, window always open
mailboxes: [$reps]
window:
  days: [mon-sun]
  hours: "00:00-23:59"
  timezone: UTC
steps:
  - id: intro
    wait: 0
    template: cold/intro
YAML
    local ports=()
    for g in $(seq 0 $((MAILBOXES / GROUPS_OF - 1))); do
        local port
        port=$(free_port)
        mkdir -p "sink$g"
        chmod 777 "sink$g"
        "$SINK" -u nobody -d "$dir/sink$g/%M." "127.0.0.1:$port" 256 2> "$dir/sink$g.log" &
        pids+=($!)
        ports+=("$port")
    done
    {
        echo "store = \"$url\""
        echo 'timezone = "UTC"'
        printf '\n[sending]\njitter = "0"\ndomain_hourly_limit = 0\n'
        printf '\n[http]\nlisten = "127.0.0.1:0"\n'
        for i in $(seq 0 $((MAILBOXES - 1))); do
            printf '\n[[mailbox]]\nname = "rep%d"\nfrom = "rep%d@example.com"\nsignature = "Rep %d"\ndaily_cap = 1000000\nconnections = 2\n' "$i" "$i" "$i"
            if [ -n "$gap" ]; then printf 'min_gap = "%s"\n' "$gap"; fi
            printf '[mailbox.smtp]\nhost = "127.0.0.1"\nport = %s\nsecurity = "none"\n' "${ports[$((i / GROUPS_OF))]}"
        done
    } > config.toml
    {
        echo "Email,First Name,Company"
        for i in $(seq 1 "$touches"); do echo "lead$i@company$i.example,Lead$i,Company $i"; done
    } > leads.csv
    "$BIN" leads import leads.csv --sequence blast > /dev/null 2>&1
    for port in "${ports[@]}"; do
        for _ in $(seq 100); do
            (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
            sleep 0.1
        done
    done
    local start daemon_pids=()
    start=$(date +%s.%N)
    for d in $(seq 1 "$n"); do
        RUST_LOG=drumbeat=info NO_COLOR=1 "$BIN" run --instance "d$d" > "d$d.out" 2> "d$d.log" &
        pids+=($!)
        daemon_pids+=($!)
    done
    local sent=0 limit=$((touches / 20 + 600))
    local deadline=$(( $(date +%s) + limit ))
    while [ "$(date +%s)" -lt "$deadline" ]; do
        sent=$(psql -At "$url" -c "SELECT count(*) FROM touches WHERE state = 'sent'")
        [ "$sent" -ge "$touches" ] && break
        sleep 0.2
    done
    local end
    end=$(date +%s.%N)
    local holders
    holders=$(psql -At "$url" -c "SELECT owner || ':' || count(*) FROM mailbox_holders WHERE until > 0 GROUP BY owner ORDER BY owner" | paste -sd' ')
    local by_daemon=""
    for d in $(seq 1 "$n"); do
        by_daemon+="d$d:$(grep -c ' sent touch=' "d$d.log" || true) "
    done
    for p in "${daemon_pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${daemon_pids[@]}"; do
        for _ in $(seq 150); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
    done
    local received dups
    received=$(find . -path './sink*/*' -type f | wc -l)
    dups=$(find . -path './sink*' -type f -exec grep -h -m1 -i '^Message-ID:' {} + | sort | uniq -d | wc -l)
    local secs rate
    secs=$(echo "$end - $start" | bc -l)
    rate=$(echo "$sent / $secs" | bc -l)
    printf '%-8s %d daemon(s): %6d of %6d sent in %7.1f s = %7.1f/s  received %6d  duplicate Message-IDs %d  sent by %s  mailboxes held: %s\n' \
        "${gap:-no gap}" "$n" "$sent" "$touches" "$secs" "$rate" "$received" "$dups" "$by_daemon" "$holders"
    if [ -n "$gap" ]; then
        # Leads are spread over the mailboxes by a hash of their address, not dealt out evenly:
        # the busiest mailbox bounds the run (one email per gap).
        local busiest secs_gap
        busiest=$(psql -At "$url" -c "SELECT MAX(n) FROM (SELECT COUNT(*) AS n FROM touches GROUP BY mailbox) c")
        secs_gap=$(echo "$gap" | awk '{ n = $1; u = $2; if (u ~ /^min/) n *= 60; print n }')
        printf '         the busiest mailbox sent %d: %d s at best with its gaps, %.1f/s for the run\n' \
            "$busiest" "$(( (busiest - 1) * secs_gap ))" "$(echo "$sent / (($busiest - 1) * $secs_gap)" | bc -l)"
    fi
    echo "$rate" > "$WORK/rate-$n-${gap:+gap}"
    cd "$WORK"
}

for mode in $MODES; do
    if [ $mode = gap ]; then gap=$GAP; touches=$GAP_TOUCHES; else gap=""; touches=$TOUCHES; fi
    for n in $DAEMONS; do
        run "$n" "$touches" "$gap"
    done
    if [ $mode = gap ]; then
        # Each mailbox sends one email per gap at most: the rate no number of daemons can pass.
        secs=$(echo "$gap" | awk '{ n = $1; u = $2; if (u ~ /^min/) n *= 60; print n }')
        printf '  %-8s the gaps allow %.1f/s at most (%d mailboxes, one email each per %s)\n' \
            "$gap" "$(echo "$MAILBOXES / $secs" | bc -l)" "$MAILBOXES" "$gap"
    fi
    one=$(cat "$WORK/rate-1-${gap:+gap}" 2>/dev/null || echo 0)
    for n in $DAEMONS; do
        r=$(cat "$WORK/rate-$n-${gap:+gap}")
        if [ "$(echo "$one > 0" | bc)" = 1 ]; then
            printf '  %-8s %d daemon(s): %.2fx one daemon\n' "${gap:-no gap}" "$n" "$(echo "$r / $one" | bc -l)"
        fi
    done
done

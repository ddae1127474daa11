#!/usr/bin/env bash
# Sending throughput: drumbeat against Postfix's smtp-source, into one smtp-sink.
#
#   benches/send.sh                        # 20,000 messages, 4 connections
#   DRUMBEAT_BENCH_MESSAGES=2000 benches/send.sh
#
# One run: a release build of drumbeat sends N messages with `run --once` (caps, windows,
# jitter and the domain limit off; rendering, claims and bookkeeping on, SQLite store) to an
# smtp-sink on a free loopback port that discards what it takes; then smtp-source sends N
# messages of the same size over the same number of parallel connections to the same sink.
# Prints both rates, their ratio (goal: drumbeat >= 80% of smtp-source) and drumbeat's peak
# RSS. The import of the leads is not timed. See benches/README.md.
# DRUMBEAT_BENCH_PERF=/tmp/send.perf also records a perf profile of drumbeat's run.
#
# Needs smtp-sink and smtp-source (Debian: postfix; scripts/testbed installs it) and GNU time
# (Debian: time).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
N=${DRUMBEAT_BENCH_MESSAGES:-20000}
CONNS=${DRUMBEAT_BENCH_CONNECTIONS:-4}
SINK=${DRUMBEAT_TEST_SMTP_SINK:-$(command -v smtp-sink || echo /usr/sbin/smtp-sink)}
SOURCE=${DRUMBEAT_TEST_SMTP_SOURCE:-$(command -v smtp-source || echo /usr/sbin/smtp-source)}
# A fixed instant inside the window (run --once accepts a fixed clock).
NOW=2026-03-04T15:00:00Z

die() { echo "send bench: $*" >&2; exit 1; }
[ -x "$SINK" ] || die "no smtp-sink at $SINK (install postfix, or run scripts/testbed start)"
[ -x "$SOURCE" ] || die "no smtp-source at $SOURCE (install postfix)"
[ -x /usr/bin/time ] || die "no /usr/bin/time (install the 'time' package)"

(cd "$REPO" && cargo build --release --quiet)
BIN=$REPO/target/release/drumbeat

WORK=$(mktemp -d "${TMPDIR:-/tmp}/drumbeat-send-bench.XXXXXX")
SINK_PID=
cleanup() {
    if [ -n "$SINK_PID" ]; then kill "$SINK_PID" 2>/dev/null || true; wait "$SINK_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
SINK_ARGS=()
[ "$(id -u)" -eq 0 ] && SINK_ARGS=(-u nobody)   # smtp-sink refuses to run as root
# -c: count sessions; no -d: discard every message; 256 = listen backlog.
"$SINK" "${SINK_ARGS[@]}" -c "127.0.0.1:$PORT" 256 >/dev/null 2>&1 &
SINK_PID=$!
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.05; done
(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null || die "smtp-sink did not listen on $PORT"

cd "$WORK"
cp -r "$REPO/templates" templates
mkdir -p sequences data
cat > config.toml <<EOF
store = "sqlite://data/drumbeat.db"
timezone = "UTC"

[sending]
jitter = "0"
domain_hourly_limit = 0

[[mailbox]]
name = "rep"
from = "rep@example.com"
display_name = "Rita Rep"
signature = "Rita Rep, Example Inc."
daily_cap = 10000000
connections = $CONNS
[mailbox.smtp]
host = "127.0.0.1"
port = $PORT
security = "none"
EOF
cat > sequences/bench.yaml <<EOF
id: bench
name: Send benchmark
mailboxes: [rep]
window:
  days: [mon-sun]
  hours: "00:00-23:59"
  timezone: UTC
steps:
  - id: intro
    wait: 0
    template: cold/intro
EOF
awk -v n="$N" 'BEGIN {
    print "Email,First Name,Last Name,Company,Title"
    for (i = 0; i < n; i++) printf "lead%d@company%d.example,Lead%d,Tester,Company %d,CTO\n", i, i, i, i
}' > leads.csv

export DRUMBEAT_NOW=$NOW
"$BIN" leads import leads.csv --sequence bench >/dev/null
SIZE=$("$BIN" preview bench --lead lead0@company0.example --step intro --raw 2>/dev/null | wc -c)

start=$(date +%s.%N)
# DRUMBEAT_BENCH_PERF=FILE: record a profile of the send with perf (call graphs) into FILE.
PERF=()
[ -n "${DRUMBEAT_BENCH_PERF:-}" ] && PERF=(perf record -q -F 999 ${DRUMBEAT_BENCH_PERF_CG:---call-graph dwarf} -o "$DRUMBEAT_BENCH_PERF" --)
/usr/bin/time -v -o time.txt "${PERF[@]}" "$BIN" ${DRUMBEAT_BENCH_ARGS:-} run --once --json --instance bench > once.json 2>${DRUMBEAT_BENCH_STDERR:-/dev/stderr}
end=$(date +%s.%N)
unset DRUMBEAT_NOW
SENT=$(python3 -c 'import json,sys; print(json.load(open("once.json"))["sent"])')
[ "$SENT" -eq "$N" ] || die "drumbeat sent $SENT of $N: $(cat once.json)"
RSS_KB=$(awk -F': ' '/Maximum resident set size/ {print $2}' time.txt)
CPU_S=$(awk -F': ' '/User time|System time/ {s += $2} END {print s}' time.txt)

sstart=$(date +%s.%N)
"$SOURCE" -s "$CONNS" -m "$N" -l "$SIZE" -f rep@example.com -t lead@company.example "127.0.0.1:$PORT"
send=$(date +%s.%N)

python3 - "$N" "$CONNS" "$SIZE" "$start" "$end" "$sstart" "$send" "$RSS_KB" "$CPU_S" <<'EOF'
import sys
n, conns, size = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
d = float(sys.argv[5]) - float(sys.argv[4])
s = float(sys.argv[7]) - float(sys.argv[6])
rss = int(sys.argv[8])
print(f"messages: {n}, connections: {conns}, message size: {size} bytes")
print(f"drumbeat:     {d:6.2f} s  {n / d:8.0f} msg/s")
print(f"smtp-source:  {s:6.2f} s  {n / s:8.0f} msg/s")
print(f"ratio:        {100 * (n / d) / (n / s):6.1f} % of smtp-source (goal: >= 80 %)")
print(f"drumbeat peak RSS: {rss / 1024:.1f} MiB")
print(f"drumbeat CPU: {float(sys.argv[9]):.2f} s (user + system), {1e6 * float(sys.argv[9]) / n:.0f} us per message")
print(f"load average: {open('/proc/loadavg').read().split()[0]} (other work on the machine slows both senders)")
EOF

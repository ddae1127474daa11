#!/usr/bin/env bash
# The HTTP side under load: the unsubscribe page (GET /u/TOKEN) and a click redirect
# (GET /c/TOKEN, which records a click event in the store each time) against nginx serving a
# static file of the same size, on the same machine, with the same load generator (wrk).
#
#   benches/http.sh                       # 10 s per target, 2 threads, 64 connections
#   DRUMBEAT_BENCH_SECONDS=30 DRUMBEAT_BENCH_CONNECTIONS=128 benches/http.sh
#
# Prints requests per second and p99 latency for each, and drumbeat's rate as a share of
# nginx's (goal from the issue: >= 50 %, p99 <= 5 ms). Everything listens on 127.0.0.1 only.
# Needs nginx (Debian: nginx-light), wrk (Debian: wrk) and python3.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SECONDS_EACH=${DRUMBEAT_BENCH_SECONDS:-10}
CONNS=${DRUMBEAT_BENCH_CONNECTIONS:-64}
THREADS=${DRUMBEAT_BENCH_THREADS:-2}

die() { echo "http bench: $*" >&2; exit 1; }
command -v wrk >/dev/null || die "no wrk (apt-get install wrk)"
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || die "no nginx (apt-get install nginx-light)"

(cd "$REPO" && cargo build --release --quiet)
BIN=$REPO/target/release/drumbeat

WORK=$(mktemp -d "${TMPDIR:-/tmp}/drumbeat-http-bench.XXXXXX")
chmod 755 "$WORK"   # nginx's workers (www-data when started as root) read www/ in it
DAEMON_PID=
cleanup() {
    [ -n "$DAEMON_PID" ] && kill "$DAEMON_PID" 2>/dev/null && wait "$DAEMON_PID" 2>/dev/null
    [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
NGINX_PORT=$(free_port)
BASE="http://127.0.0.1:$PORT"

cd "$WORK"
mkdir -p sequences templates/bench data
cat > config.toml <<EOF
store = "sqlite://data/drumbeat.db"
timezone = "UTC"

[http]
listen = "127.0.0.1:$PORT"
base_url = "$BASE"

[[mailbox]]
name = "rep"
from = "rep@example.com"
display_name = "Rita Rep"
daily_cap = 1000
outbox = "data/outbox"
EOF
cat > sequences/bench.yaml <<EOF
id: bench
name: HTTP benchmark
window:
  days: [mon-sun]
  hours: "00:00-23:59"
steps:
  - id: intro
    wait: 0
    template: bench/intro
EOF
printf -- '---\nsubject: Hello\n---\nSee https://example.com/report\n' > templates/bench/intro.txt
printf '<p>See <a href="https://example.com/report">the report</a>.</p>\n' > templates/bench/intro.html
printf 'Email,First Name\nlead@example.net,Lee\n' > leads.csv
# In the future of the real clock: the running daemon finds nothing due.
export DRUMBEAT_NOW=2027-03-04T15:00:00Z
"$BIN" leads import leads.csv --sequence bench >/dev/null
"$BIN" run --once >/dev/null
unset DRUMBEAT_NOW
EML=$(ls data/outbox/*.eml | head -1)
read -r UNSUB CLICK < <(python3 - "$EML" "$BASE" <<'EOF'
import email, sys
msg = email.message_from_binary_file(open(sys.argv[1], "rb"))
base = sys.argv[2]
unsub = [u.strip(" <>") for u in msg["List-Unsubscribe"].replace("\r\n", "").split(",") if base in u][0]
html = [p for p in msg.walk() if p.get_content_type() == "text/html"][0].get_payload(decode=True).decode()
click = html.split('href="')[1].split('"')[0]
print(unsub, click)
EOF
)

"$BIN" run --instance http-bench >daemon.log 2>&1 &
DAEMON_PID=$!
for _ in $(seq 100); do curl -sf "$BASE/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -sf "$BASE/healthz" >/dev/null || die "the daemon did not answer: $(tail -5 daemon.log)"

# nginx: a static file the size of the unsubscribe page.
SIZE=$(curl -s "$UNSUB" | wc -c)
mkdir -p www
chmod 755 www
head -c "$SIZE" /dev/zero | tr '\0' 'x' > www/page.html
cat > nginx.conf <<EOF
worker_processes auto;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $WORK/tmp; proxy_temp_path $WORK/tmp; fastcgi_temp_path $WORK/tmp;
    uwsgi_temp_path $WORK/tmp; scgi_temp_path $WORK/tmp;
    server { listen 127.0.0.1:$NGINX_PORT; root $WORK/www; }
}
EOF
mkdir -p tmp
"$NGINX" -c "$WORK/nginx.conf" -p "$WORK" 2>/dev/null || die "nginx did not start: $(cat nginx-error.log 2>/dev/null)"
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$NGINX_PORT/page.html" >/dev/null && break; sleep 0.1; done

load() { wrk -t"$THREADS" -c"$CONNS" -d"${SECONDS_EACH}s" --latency "$1" > "$2"; }
load "http://127.0.0.1:$NGINX_PORT/page.html" nginx.txt
load "$UNSUB" unsub.txt
load "$CLICK" click.txt
# A clean stop commits the clicks still queued; then every answered click must be in the store
# (wrk may not count a few answered as it stops, so the store can hold a few more).
kill "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null || true
DAEMON_PID=
ANSWERED=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' click.txt)
RECORDED=$(python3 -c 'import sqlite3; print(sqlite3.connect("data/drumbeat.db").execute("SELECT COUNT(*) FROM events WHERE kind = '"'"'clicked'"'"'").fetchone()[0])')

python3 - nginx.txt unsub.txt click.txt "$CONNS" "$SECONDS_EACH" <<'EOF'
import re, sys
def read(path):
    text = open(path).read()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    m = re.search(r"99%\s+([\d.]+)(us|ms|s)", text)
    p99 = float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    return rps, p99, int(non2xx.group(1)) if non2xx else 0
nginx = read(sys.argv[1])
print(f"wrk, {sys.argv[4]} connections, {sys.argv[5]} s each, loopback")
print(f"{'target':28} {'req/s':>10} {'p99':>9} {'of nginx':>9}")
for name, path in [("nginx static file", sys.argv[1]), ("drumbeat GET /u/TOKEN", sys.argv[2]), ("drumbeat GET /c/TOKEN (302)", sys.argv[3])]:
    rps, p99, bad = read(path)
    flag = f"  ({bad} errors)" if bad else ""
    print(f"{name:28} {rps:10.0f} {p99:7.2f}ms {100 * rps / nginx[0]:8.1f}%{flag}")
print("goal: drumbeat >= 50 % of nginx's rate, p99 <= 5 ms")
print(f"load average: {open('/proc/loadavg').read().split()[0]}")
EOF
echo "clicks recorded in the store: $RECORDED of $ANSWERED redirects wrk counted"
[ "$RECORDED" -ge "$ANSWERED" ] || die "clicks were lost: $RECORDED recorded, $ANSWERED answered"

#!/usr/bin/env python3
"""Reply-to-stop latency with many watched mailboxes (issue 18), and the daemons' memory.

    eval "$(scripts/testbed start)"     # PostgreSQL and Dovecot on loopback
    benches/reply-latency.py [--mailboxes 100] [--daemons 2] [--replies 200] [--bin PATH]

DAEMONS daemons (separate processes) on one PostgreSQL share MAILBOXES mailboxes, each with its
inbox on scripts/testbed's Dovecot (one user per mailbox) and IDLE on it; five leads per mailbox
get their first email (through Postfix's smtp-sink). Once every inbox is watched and idle, one
reply at a time is APPENDed to the INBOX of a random lead's mailbox, exactly as a server
delivers it, and the time from the APPEND to the lead's enrollment being `replied` in the store
is measured (polled every 20 ms). Prints the distribution (goal: p99 <= 2 s) and each daemon's
resident memory (VmRSS, and its peak VmHWM) with its share of the inboxes watched (goal <= 128
MiB). Loopback only; every wait is bounded.
"""

import argparse
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "scripts"))
from chaos_common import Sink, Store, append_reply, drumbeat, spawn, write_config  # noqa: E402

LEADS_PER_MAILBOX = 5


def say(msg):
    print(f"reply-latency: {msg}", flush=True)


def wait_for(what, cond, within):
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.2)
    raise SystemExit(f"reply-latency: gave up waiting for {what} after {within} s")


def project(work, url, sink_port, imap, users):
    os.makedirs(os.path.join(work, "sequences"))
    os.makedirs(os.path.join(work, "templates", "bench"))
    write_config(work, url, [(f"m{i}", sink_port, user, "") for i, user in enumerate(users)], imap)
    names = ", ".join(f"m{i}" for i in range(len(users)))
    with open(os.path.join(work, "sequences", "bench.yaml"), "w") as f:
        f.write(f"""id: bench
name: An intro now, a follow-up in three days
mailboxes: [{names}]
window:
  days: [mon-sun]
  hours: "00:00-23:59"
  timezone: Etc/UTC
steps:
  - id: intro
    wait: 0
    template: bench/intro
  - id: bump
    wait: 3 days
    template: bench/intro
    thread: true
""")
    with open(os.path.join(work, "templates", "bench", "intro.txt"), "w") as f:
        f.write("---\nsubject: Hello {{ lead.first_name }}\n---\nHi {{ lead.first_name }}.\n")
    with open(os.path.join(work, "leads.csv"), "w") as f:
        f.write("Email,First Name\n")
        for i in range(len(users) * LEADS_PER_MAILBOX):
            f.write(f"lead{i}@company{i}.example,Lead{i}\n")


def memory(pid):
    """(VmRSS, VmHWM) in MiB."""
    with open(f"/proc/{pid}/status") as f:
        text = f.read()
    kib = {k: int(v) for k, v in re.findall(r"^(VmRSS|VmHWM):\s+(\d+) kB", text, re.M)}
    return kib.get("VmRSS", 0) / 1024, kib.get("VmHWM", 0) / 1024


def reply_to(store, imap, users, password, lead):
    """APPENDs a reply from `lead` (enrollment, email, mailbox, Message-ID); returns when it
    started and when the lead was seen stopped (None: not within 30 s)."""
    enrollment, email, mailbox, mid = lead
    began = append_reply(imap, users[int(mailbox[1:])], password, email, mailbox, mid,
                         "Thanks, could we talk on Tuesday?")
    while time.time() < began + 30:
        if store.rows(f"SELECT 1 FROM enrollments WHERE id = {enrollment} AND state = 'replied'"):
            return time.time() - began
        time.sleep(0.02)
    return None


def percentile(xs, p):
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mailboxes", type=int, default=100)
    ap.add_argument("--daemons", type=int, default=2)
    ap.add_argument("--replies", type=int, default=200)
    ap.add_argument("--bin", default=os.path.join(REPO, "target", "release", "drumbeat"))
    a = ap.parse_args()
    server = os.environ.get("DRUMBEAT_TEST_PG")
    imap = os.environ.get("DRUMBEAT_TEST_IMAP")
    password = os.environ.get("DRUMBEAT_TEST_IMAP_PASSWORD")
    if not (server and imap and password):
        raise SystemExit("reply-latency: needs DRUMBEAT_TEST_PG and DRUMBEAT_TEST_IMAP (eval \"$(scripts/testbed start)\")")
    if not re.search(r"@(127\.0\.0\.1|localhost|\[::1\])", server) or not imap.startswith("127.0.0.1:"):
        raise SystemExit("reply-latency: the servers must be on loopback")
    # The daemons run in a folder of their own: a relative --bin is the caller's.
    a.bin = os.path.abspath(a.bin)
    if not os.access(a.bin, os.X_OK):
        raise SystemExit(f"reply-latency: no {a.bin}; cargo build --release first (or --bin PATH)")
    name = f"drumbeat_latency_{os.getpid()}"
    subprocess.run(["psql", server, "-c", f"CREATE DATABASE {name}"], check=True, capture_output=True)
    url = server.rsplit("/", 1)[0] + "/" + name
    work = tempfile.mkdtemp(prefix="drumbeat-reply-latency-")
    users = [f"lat{os.getpid()}m{i}" for i in range(a.mailboxes)]
    sink = Sink(work)
    daemons = []
    try:
        project(work, url, sink.port, imap, users)
        drumbeat(a.bin, work, "leads", "import", "leads.csv", "--sequence", "bench")
        store = Store(url)
        daemons = [spawn(a.bin, work, f"d{i + 1}") for i in range(a.daemons)]
        leads = len(users) * LEADS_PER_MAILBOX
        wait_for("the first emails", lambda: store.count("SELECT COUNT(*) FROM touches WHERE state = 'sent'") >= leads, 300)
        wait_for("every inbox idle", lambda: store.count("SELECT COUNT(*) FROM mailbox_leases WHERE state = 'idle'")
                 >= a.mailboxes, 300)
        shares = dict(store.rows("SELECT owner, COUNT(*) FROM mailbox_leases GROUP BY owner"))
        say(f"{a.daemons} daemon(s), {a.mailboxes} inboxes idle on Dovecot, watched: {shares}")
        for i, d in enumerate(daemons):
            rss, hwm = memory(d.pid)
            say(f"d{i + 1} watching {shares.get(f'd{i + 1}', 0)} inboxes: RSS {rss:.1f} MiB, peak {hwm:.1f} MiB (goal <= 128)")
        pool = store.rows(
            "SELECT e.id, l.email, e.mailbox, t.message_id FROM enrollments e JOIN leads l ON l.id = e.lead_id "
            "JOIN touches t ON t.enrollment_id = e.id AND t.state = 'sent' WHERE e.state = 'active'")
        rng = random.Random(int(os.environ.get("DRUMBEAT_BENCH_SEED", "18")))
        rng.shuffle(pool)
        took, missed = [], 0
        for lead in pool[:a.replies]:
            t = reply_to(store, imap, users, password, lead)
            if t is None:
                missed += 1
            else:
                took.append(t)
        took.sort()
        if took:
            say(f"{len(took)} replies, each to a random mailbox: from APPEND to the lead stopped "
                f"min {took[0]:.2f} s, p50 {percentile(took, 50):.2f} s, p90 {percentile(took, 90):.2f} s, "
                f"p99 {percentile(took, 99):.2f} s, max {took[-1]:.2f} s (goal: p99 <= 2 s); not within 30 s: {missed}")
            edges = [0.1, 0.25, 0.5, 1, 2, 5, 30]
            counts = [sum(1 for t in took if lo <= t < hi) for lo, hi in zip([0] + edges, edges)]
            say("distribution: " + ", ".join(f"<{hi} s: {n}" for hi, n in zip(edges, counts)))
        for i, d in enumerate(daemons):
            rss, hwm = memory(d.pid)
            say(f"d{i + 1} after the replies: RSS {rss:.1f} MiB, peak {hwm:.1f} MiB")
        return 0 if took and missed == 0 and percentile(took, 99) <= 2 else 1
    finally:
        for d in daemons:
            d.send_signal(signal.SIGTERM)
        for d in daemons:
            try:
                d.wait(timeout=60)
            except subprocess.TimeoutExpired:
                d.kill()
        sink.stop()
        subprocess.run(["psql", server, "-c", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

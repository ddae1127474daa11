"""The fleet run of scripts/chaos (issue 18).

Three daemons (`drumbeat run --instance a|b|c`, separate processes) on one PostgreSQL share 20
mailboxes: four Postfix smtp-sinks of five mailboxes each, and each mailbox's inbox a user of
scripts/testbed's Dovecot. Every mailbox sends at most one email a second (`min_gap`), so a
kill always finds sends under way. For the run's length, at random moments:

- a daemon is killed with SIGKILL and started again after a pause, sometimes longer than a
  lease (20 s), so the others must take its mailboxes over;
- a daemon is frozen with SIGSTOP and thawed with SIGCONT, sometimes past its leases, so it
  wakes up holding leases it has lost (the fence must stop it);
- PostgreSQL is restarted once (`scripts/testbed restart postgres`);
- a lead replies: the reply is APPENDed to its mailbox's INBOX on Dovecot.

Then every daemon is left running until nothing is due, and it checks: no Message-ID (and no
recipient) twice at the sinks; every touch `sent` or `uncertain` and nothing stalled; no touch
recorded sent that no sink got; each mailbox's inbox watched by one daemon at a time (from the
daemons' JSON logs: `inbox watcher: watching` / `stopped`, less the time a daemon was frozen
or dead); every reply stopped its lead; the takeover time of each kill and long freeze (the
victim's last mailbox taken by a live daemon, goal <= 30 s); no daemon exited on its own.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from datetime import datetime

from chaos_common import REPO, Sink, Store, append_reply, drumbeat, log, spawn, write_config

MAILBOXES = 20
GROUPS_OF = 5
DAEMONS = ("a", "b", "c")
TAKEOVER_GOAL = 30.0
# A freeze this long outlives the daemon's leases (20 s) with room for the takeover: its
# mailboxes must move to the others before it wakes up.
LONG_FREEZE = 30.0
# One send in flight per mailbox (min_gap, one connection): what a kill can leave uncertain.
MAX_UNCERTAIN_PER_KILL = MAILBOXES


class Plan:
    """What happens when: (seconds from the start, action, argument), sorted."""

    def __init__(self, rng, short):
        self.duration = 60 if short else 300
        self.leads = 15 * self.duration
        if short:
            kills = [1.0, 25.0]  # one quick restart, one past the lease
            freezes = [32.0]
            replies = 3
        else:
            kills = [rng.choice([0.5, 2.0, 10.0, 25.0, 40.0]) for _ in range(8)]
            freezes = [rng.uniform(5.0, 45.0) for _ in range(4)]
            replies = 10
        actions = [("kill", p) for p in kills] + [("freeze", f) for f in freezes] + [("postgres", None)]
        rng.shuffle(actions)
        span = self.duration - 10
        self.steps = []
        for i, (what, arg) in enumerate(actions):
            at = 5 + span * (i + 0.5) / len(actions) + rng.uniform(-2, 2)
            self.steps.append((at, what, arg))
        for _ in range(replies):
            self.steps.append((rng.uniform(8, self.duration - 3), "reply", None))
        self.steps.sort(key=lambda s: s[0])


class Fleet:
    """The three daemons, what was done to them and when (wall-clock seconds)."""

    def __init__(self, binary, work):
        self.binary, self.work = binary, work
        self.procs = {}
        self.lives = {d: [] for d in DAEMONS}  # [start, end or None]
        self.frozen = {}  # daemon -> when
        self.freezes = {d: [] for d in DAEMONS}  # (from, to)
        self.exited = []  # (daemon, code): exits nobody asked for

    def start(self, d):
        self.procs[d] = spawn(self.binary, self.work, d, DRUMBEAT_LOG_FORMAT="json")
        self.lives[d].append([time.time(), None])

    def healthy(self):
        return [d for d in DAEMONS if d in self.procs and d not in self.frozen]

    def kill(self, d):
        self.procs[d].send_signal(signal.SIGKILL)
        self.procs[d].wait()
        self.lives[d][-1][1] = time.time()
        del self.procs[d]

    def freeze(self, d):
        self.procs[d].send_signal(signal.SIGSTOP)
        self.frozen[d] = time.time()

    def thaw(self, d):
        self.procs[d].send_signal(signal.SIGCONT)
        self.freezes[d].append((self.frozen.pop(d), time.time()))

    def check_exits(self):
        for d, p in list(self.procs.items()):
            code = p.poll()
            if code is not None:
                self.exited.append((d, code))
                self.lives[d][-1][1] = time.time()
                del self.procs[d]
                log(f"fleet: daemon {d} exited on its own ({code}); started again")
                self.start(d)

    def stop(self):
        for d in list(self.frozen):
            self.thaw(d)
        for p in self.procs.values():
            p.send_signal(signal.SIGTERM)
        for d, p in self.procs.items():
            p.wait(timeout=60)
            self.lives[d][-1][1] = time.time()
        self.procs = {}


def project(work, url, ports, imap, users, leads):
    os.makedirs(os.path.join(work, "sequences"))
    os.makedirs(os.path.join(work, "templates", "chaos"))
    write_config(work, url, [(f"rep{i}", ports[i // GROUPS_OF], users[i], 'min_gap = "1 second"\n')
                             for i in range(MAILBOXES)], imap)
    reps = ", ".join(f"rep{i}" for i in range(MAILBOXES))
    with open(os.path.join(work, "sequences", "fleet.yaml"), "w") as f:
        f.write(f"""id: fleet
name: An intro now, a follow-up in three days
mailboxes: [{reps}]
window:
  days: [mon-sun]
  hours: "00:00-23:59"
  timezone: Etc/UTC
steps:
  - id: intro
    wait: 0
    template: chaos/intro
  - id: bump
    wait: 3 days
    template: chaos/bump
    thread: true
""")
    for name, body in (("intro", "Hi {{ lead.first_name }}, one email."), ("bump", "Hi again.")):
        with open(os.path.join(work, "templates", "chaos", f"{name}.txt"), "w") as f:
            f.write(f"---\nsubject: Hello {{{{ lead.first_name }}}}\n---\n{body}\n")
    with open(os.path.join(work, "leads.csv"), "w") as f:
        f.write("Email,First Name\n")
        for i in range(leads):
            f.write(f"lead{i}@company{i}.example,Lead{i}\n")


def reply(store, imap, users, password):
    """A lead whose intro went out answers it; returns (enrollment, APPEND time) or None."""
    rows = store.rows(
        "SELECT e.id, l.email, e.mailbox, t.message_id FROM enrollments e JOIN leads l ON l.id = e.lead_id "
        "JOIN touches t ON t.enrollment_id = e.id AND t.state = 'sent' "
        "WHERE e.state = 'active' ORDER BY random() LIMIT 1")
    if not rows:
        return None
    enrollment, email, mailbox, mid = rows[0]
    at = append_reply(imap, users[int(mailbox[3:])], password, email, mailbox, mid,
                      "Thanks, that sounds useful. Could we talk on Tuesday?")
    return int(enrollment), at


def held_by(store, d):
    now = int(time.time())
    return [m for (m,) in store.rows(f"SELECT mailbox FROM mailbox_holders WHERE owner = '{d}' AND until > {now}")]


def chaos(plan, fleet, store, rng, imap, users, password):
    """Runs the plan; returns the kills and long freezes with their victims' mailboxes, the
    replies, and whether PostgreSQL was restarted."""
    began = time.time()
    pending = list(plan.steps)
    takeovers, replies, restarted = [], [], False
    while pending:
        at, what, arg = pending.pop(0)
        wait = began + at - time.time()
        if wait > 0:
            time.sleep(wait)  # the moment of each action is the point, not a wait
        fleet.check_exits()
        if what == "start":
            fleet.start(arg)
        elif what == "thaw":
            fleet.thaw(arg)
        elif what == "reply":
            r = reply(store, imap, users, password)
            if r:
                replies.append(r)
        elif what == "postgres":
            r = subprocess.run([os.path.join(REPO, "scripts", "testbed"), "restart", "postgres"],
                               capture_output=True, text=True)
            restarted = r.returncode == 0
            log(f"fleet: PostgreSQL {'restarted' if restarted else 'not restarted: ' + r.stderr.strip()}")
        elif len(fleet.healthy()) < 2:
            pending.append((at + 3, what, arg))  # one daemon at a time is hurt
            pending.sort(key=lambda s: s[0])
        else:
            d = rng.choice(fleet.healthy())
            mailboxes = held_by(store, d)
            if what == "kill":
                fleet.kill(d)
                takeovers.append(("kill", d, time.time(), arg, mailboxes))
                pending.append((time.time() - began + arg, "start", d))
            else:
                fleet.freeze(d)
                if arg >= LONG_FREEZE:
                    takeovers.append(("freeze", d, time.time(), arg, mailboxes))
                pending.append((time.time() - began + arg, "thaw", d))
            log(f"fleet: {what} {d} for {arg:.1f} s (it held {len(mailboxes)} mailboxes)")
            pending.sort(key=lambda s: s[0])
    fleet.check_exits()
    return takeovers, replies, restarted


def events(work):
    """(time, daemon, message, mailbox, fields) of every log line, in time order."""
    out = []
    for d in DAEMONS:
        try:
            with open(os.path.join(work, f"{d}.log"), errors="replace") as f:
                for line in f:
                    try:
                        j = json.loads(line)
                    except ValueError:
                        continue
                    fields = j.get("fields", {})
                    t = datetime.fromisoformat(j["timestamp"].replace("Z", "+00:00")).timestamp()
                    out.append((t, d, fields.get("message", ""), fields.get("mailbox"), fields))
        except FileNotFoundError:
            pass
    out.sort(key=lambda e: e[0])
    return out


def minus(piece, holes):
    """The parts of interval `piece` outside every interval of `holes`."""
    parts = [piece]
    for (a, b) in holes:
        nxt = []
        for (s, e) in parts:
            if b <= s or a >= e:
                nxt.append((s, e))
                continue
            if s < a:
                nxt.append((s, a))
            if b < e:
                nxt.append((b, e))
        parts = nxt
    return parts


def watching(fleet, log_events):
    """Per mailbox, the (from, to, daemon, thawed) pieces of time in which a live, running
    daemon watched its inbox; `thawed` when the piece starts at the daemon's thaw."""
    spans, opened = [], {}
    for (t, d, msg, m, _) in log_events:
        if msg.startswith("inbox watcher: watching"):
            if (d, m) in opened:  # its daemon was killed while watching
                spans.append((opened[(d, m)], float("inf"), d, m))
            opened[(d, m)] = t
        elif msg.startswith("inbox watcher: stopped") and (d, m) in opened:
            spans.append((opened.pop((d, m)), t, d, m))
    spans += [(t, float("inf"), d, m) for (d, m), t in opened.items()]
    pieces = {}
    for (s, e, d, m) in spans:
        # An interval ends at the latest when its daemon died.
        life = [le for (ls, le) in fleet.lives[d] if ls <= s]
        end = min(e, life[-1] if life and life[-1] else time.time())
        thaws = {b for (_, b) in fleet.freezes[d]}
        for (ps, pe) in minus((s, end), fleet.freezes[d]):
            pieces.setdefault(m, []).append((ps, pe, d, ps in thaws))
    return pieces


def overlaps(pieces):
    """(real overlaps, thawed closings): seconds two daemons watched one inbox at once. A
    thawed closing is a daemon that woke up in an IDLE on a mailbox it had lost, until it logged
    out: it reads nothing (the watcher checks its lease before every read)."""
    real, thawed = [], []
    for m, ps in pieces.items():
        for i, (s1, e1, d1, t1) in enumerate(ps):
            for (s2, e2, d2, t2) in ps[i + 1:]:
                o = min(e1, e2) - max(s1, s2)
                if d1 != d2 and o > 0:
                    (thawed if t1 or t2 else real).append((m, d1, d2, round(o, 2)))
    return real, thawed


def takeover_times(takeovers, log_events):
    """For each kill or long freeze: seconds until each of its mailboxes was taken by a daemon
    (for a freeze: by another one), the worst of them; None when one never was."""
    out = []
    for (kind, d, at, arg, mailboxes) in takeovers:
        worst = 0.0
        for m in mailboxes:
            t = next((t for (t, who, msg, mb, _) in log_events
                      if t > at and mb == m and msg.startswith("mailbox taken") and (kind == "kill" or who != d)), None)
            if t is None:
                worst = None
                break
            worst = max(worst, t - at)
        out.append((kind, d, arg, len(mailboxes), worst))
    return out


def settled(store):
    """Nothing in flight and nothing due within the hour (a first email deferred by a mailbox's
    gap is due in seconds; the follow-ups in three days)."""
    soon = int(time.time()) + 3600
    return store.count(
        "SELECT (SELECT COUNT(*) FROM touches WHERE state IN ('sending', 'scheduled')) + "
        f"(SELECT COUNT(*) FROM enrollments WHERE state = 'active' AND next_due_at <= {soon})") == 0


def run(binary, rng, short, keep):
    server = os.environ.get("DRUMBEAT_TEST_PG")
    imap = os.environ.get("DRUMBEAT_TEST_IMAP")
    password = os.environ.get("DRUMBEAT_TEST_IMAP_PASSWORD")
    if not (server and imap and password):
        log("fleet: SKIPPED (needs DRUMBEAT_TEST_PG and DRUMBEAT_TEST_IMAP; scripts/testbed start gives them)")
        return None
    if not re.search(r"@(127\.0\.0\.1|localhost|\[::1\])", server) or not imap.startswith("127.0.0.1:"):
        raise SystemExit("chaos: DRUMBEAT_TEST_PG and DRUMBEAT_TEST_IMAP must point at loopback")
    plan = Plan(rng, short)
    name = f"drumbeat_fleet_{os.getpid()}_{int(time.time())}"
    subprocess.run(["psql", server, "-c", f"CREATE DATABASE {name}"], check=True, capture_output=True)
    url = server.rsplit("/", 1)[0] + "/" + name
    work = tempfile.mkdtemp(prefix="drumbeat-chaos-fleet-")
    users = [f"fleet{os.getpid()}rep{i}" for i in range(MAILBOXES)]
    sinks = [Sink(work, f"sink{g}") for g in range(MAILBOXES // GROUPS_OF)]
    fleet = Fleet(binary, work)
    started = time.monotonic()
    try:
        project(work, url, [s.port for s in sinks], imap, users, plan.leads)
        drumbeat(binary, work, "leads", "import", "leads.csv", "--sequence", "fleet")
        store = Store(url)
        for d in DAEMONS:
            fleet.start(d)
        log(f"fleet: 3 daemons, {MAILBOXES} mailboxes, {plan.leads} leads, {plan.duration} s of: "
            + ", ".join(f"{w}@{a:.0f}s" for (a, w, _) in plan.steps))
        takeovers, replies, restarted = chaos(plan, fleet, store, rng, imap, users, password)
        for d in list(fleet.frozen):
            fleet.thaw(d)
        for d in DAEMONS:
            if d not in fleet.procs:
                fleet.start(d)
        deadline = time.monotonic() + 600
        replied = lambda: store.count(  # noqa: E731
            "SELECT COUNT(*) FROM enrollments WHERE state = 'replied' AND id IN (%s)"
            % (",".join(str(e) for e, _ in replies) or "0"))
        while time.monotonic() < deadline and not (settled(store) and replied() == len(replies)):
            time.sleep(0.5)
            fleet.check_exits()
        fleet.stop()
        return verdict(fleet, store, sinks, plan, takeovers, replies, restarted, time.monotonic() - started)
    finally:
        for p in fleet.procs.values():
            p.send_signal(signal.SIGCONT)
            p.kill()
        for s in sinks:
            s.stop()
        subprocess.run(["psql", server, "-c", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"], capture_output=True)
        if keep:
            log(f"fleet: kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def verdict(fleet, store, sinks, plan, takeovers, replies, restarted, took):
    got = [m for s in sinks for m in s.messages()]
    by_mid, by_rcpt = {}, {}
    for rcpt, mid in got:
        by_mid[mid] = by_mid.get(mid, 0) + 1
        by_rcpt[rcpt] = by_rcpt.get(rcpt, 0) + 1
    duplicates = sum(n - 1 for n in by_mid.values() if n > 1) + sum(n - 1 for n in by_rcpt.values() if n > 1)
    lost = sum(1 for (mid,) in store.rows("SELECT message_id FROM touches WHERE state = 'sent'") if mid not in by_mid)
    states = {s: int(n) for s, n in store.rows("SELECT state, COUNT(*) FROM touches GROUP BY state")}
    other = sum(n for s, n in states.items() if s not in ("sent", "uncertain"))
    untouched = store.count(
        "SELECT COUNT(*) FROM enrollments e WHERE NOT EXISTS (SELECT 1 FROM touches t WHERE t.enrollment_id = e.id)")
    for row in store.rows(
            "SELECT id, state, next_step_id, next_due_at, mailbox, sender, lease_owner, lease_until, reason "
            "FROM enrollments e WHERE NOT EXISTS (SELECT 1 FROM touches t WHERE t.enrollment_id = e.id) LIMIT 10"):
        log(f"fleet: never written to: {row}")
    log_events = events(fleet.work)
    per_kill = [int(f.get("touches", 0)) for (_, _, msg, _, f) in log_events if "are uncertain" in msg]
    real, thawed = overlaps(watching(fleet, log_events))
    times = takeover_times(takeovers, log_events)
    stops = {int(e): int(u) for e, u in store.rows(
        "SELECT id, updated_at FROM enrollments WHERE state = 'replied' AND id IN (%s)"
        % (",".join(str(e) for e, _ in replies) or "0"))}
    latencies = sorted(stops[e] - int(at) for e, at in replies if e in stops)
    late = [t for t in times if t[4] is None or t[4] > TAKEOVER_GOAL]
    ok = (duplicates == 0 and lost == 0 and other == 0 and untouched == 0 and not real
          and len(stops) == len(replies) and not late and not fleet.exited
          and max(per_kill, default=0) <= MAX_UNCERTAIN_PER_KILL)
    log(f"fleet: {plan.leads} leads, {took:.0f} s: touches {states}, {len(got)} at the sinks; "
        f"PostgreSQL restarted: {'yes' if restarted else 'NO'}")
    for (kind, d, arg, n, worst) in times:
        shown = "never" if worst is None else f"{worst:.1f} s"
        log(f"fleet: {kind} of {d} ({arg:.1f} s): its {n} mailboxes taken over after {shown} (goal <= {TAKEOVER_GOAL:.0f} s)")
    log(f"fleet: replies stopped their leads {len(stops)} of {len(replies)}, after {latencies} s (whole seconds)")
    log(f"fleet: inboxes watched by two daemons at once: {len(real)} {real[:5]} (must be 0); "
        f"thawed watchers logging out without reading: {len(thawed)}, longest {max((o for *_, o in thawed), default=0)} s")
    log(f"fleet: duplicates {duplicates} (must be 0), lost {lost} (0), touches neither sent nor uncertain {other} (0), "
        f"leads never written to {untouched} (0), uncertain per kill {per_kill} (<= {MAX_UNCERTAIN_PER_KILL}), "
        f"daemons that exited on their own {fleet.exited} (none) -> {'OK' if ok else 'FAILED'}")
    return ok

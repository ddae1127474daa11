"""What the crash runs of scripts/chaos share: loopback servers, the daemon, the store."""

import os
import re
import shutil
import socket
import sqlite3
import subprocess
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONNECTIONS = 2
QUEUE_PER_CONNECTION = 8
MAX_UNCERTAIN_PER_KILL = QUEUE_PER_CONNECTION * CONNECTIONS


def log(msg):
    print(f"chaos: {msg}", flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, within=10.0):
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"chaos: nothing listens on 127.0.0.1:{port}")


class Sink:
    """Postfix's smtp-sink on a free loopback port, writing each message to a file."""

    def __init__(self, work, name="sink"):
        binary = os.environ.get("DRUMBEAT_TEST_SMTP_SINK") or shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
        if not os.access(binary, os.X_OK):
            raise SystemExit("chaos: no smtp-sink (Debian package postfix; scripts/testbed installs it)")
        self.dir = os.path.join(work, name)
        os.makedirs(self.dir)
        args = [binary]
        if os.geteuid() == 0:
            os.chmod(work, 0o755)
            os.chmod(self.dir, 0o777)
            args += ["-u", "nobody"]
        self.port = free_port()
        args += ["-d", f"{self.dir}/%Y%m%d%H%M%S.", f"127.0.0.1:{self.port}", "256"]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port)

    def messages(self):
        """(recipient, Message-ID) of every message received."""
        out = []
        for root, _, files in os.walk(self.dir):
            for f in files:
                with open(os.path.join(root, f), "rb") as fh:
                    text = fh.read().decode("utf-8", "replace")
                rcpt = re.search(r"^X-Rcpt-Args: <([^>]*)>", text, re.M | re.I)
                mid = re.search(r"^Message-ID:\s*(<[^>]*>)", text, re.M | re.I)
                out.append((rcpt.group(1) if rcpt else None, mid.group(1) if mid else None))
        return out

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


def drumbeat(binary, work, *args, check=True):
    env = {k: v for k, v in os.environ.items() if k not in ("DRUMBEAT_NOW", "DRUMBEAT_CONFIG")}
    r = subprocess.run([binary, *args], cwd=work, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise SystemExit(f"chaos: drumbeat {' '.join(args)} failed:\n{r.stdout}\n{r.stderr}")
    return r


def spawn(binary, work, instance, **extra_env):
    env = {k: v for k, v in os.environ.items() if k not in ("DRUMBEAT_NOW", "DRUMBEAT_CONFIG")}
    env["RUST_LOG"] = "drumbeat=info"
    env["NO_COLOR"] = "1"
    env.update(extra_env)
    logf = open(os.path.join(work, f"{instance}.log"), "ab")
    return subprocess.Popen([binary, "run", "--instance", instance], cwd=work, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=logf)


class Store:
    """Reads the store directly: sqlite3 for SQLite, psql for PostgreSQL."""

    def __init__(self, url, path=None):
        self.url, self.path = url, path

    def rows(self, sql):
        if self.path:
            con = sqlite3.connect(self.path, timeout=30)
            try:
                return [tuple(r) for r in con.execute(sql).fetchall()]
            finally:
                con.close()
        r = subprocess.run(["psql", self.url, "-At", "-F", "\t", "-c", sql], capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"chaos: psql: {r.stderr}")
        return [tuple(line.split("\t")) for line in r.stdout.splitlines() if line]

    def count(self, sql):
        return int(self.rows(sql)[0][0])

    def touches_by_state(self):
        return {s: int(n) for s, n in self.rows("SELECT state, COUNT(*) FROM touches GROUP BY state")}

    def settled(self):
        """Nothing left to do: no touch sending or scheduled, no active enrollment due."""
        return self.count(
            "SELECT (SELECT COUNT(*) FROM touches WHERE state IN ('sending', 'scheduled')) + "
            "(SELECT COUNT(*) FROM enrollments WHERE state = 'active' AND next_due_at IS NOT NULL)") == 0


def write_config(work, url, mailboxes, imap=None):
    """config.toml for the store at `url`, the window always open and no jitter, with
    `mailboxes`: (name, smtp-sink port, IMAP user or None, extra lines of the mailbox). `imap`
    is Dovecot's HOST:PORT; the password comes from DRUMBEAT_TEST_IMAP_PASSWORD."""
    host, port = imap.rsplit(":", 1) if imap else (None, None)
    with open(os.path.join(work, "config.toml"), "w") as f:
        f.write(f'store = "{url}"\ntimezone = "Etc/UTC"\n\n[sending]\njitter = "0"\ndomain_hourly_limit = 0\n\n'
                '[http]\nlisten = "127.0.0.1:0"\n')
        for name, smtp_port, user, extra in mailboxes:
            f.write(f'\n[[mailbox]]\nname = "{name}"\nfrom = "{name}@example.com"\nsignature = "Rep {name}"\n'
                    f'daily_cap = 1000000\nconnections = 1\n{extra}'
                    f'[mailbox.smtp]\nhost = "127.0.0.1"\nport = {smtp_port}\nsecurity = "none"\n')
            if user:
                f.write(f'[mailbox.imap]\nhost = "{host}"\nport = {port}\nsecurity = "none"\nusername = "{user}"\n'
                        'password = { env = "DRUMBEAT_TEST_IMAP_PASSWORD" }\n')


def append_reply(imap, user, password, lead_email, mailbox, message_id, body):
    """APPENDs to `user`'s INBOX the lead's plain-text answer to the email `message_id` sent
    from `mailbox`, as a server delivers it; returns when the APPEND started (wall clock)."""
    from email.utils import formatdate
    import imaplib
    domain = lead_email.split("@")[1]
    raw = (f"From: <{lead_email}>\r\nTo: <{mailbox}@example.com>\r\nSubject: Re: Hello\r\n"
           f"Date: {formatdate()}\r\nMessage-ID: <reply-{time.time_ns()}@{domain}>\r\n"
           f"In-Reply-To: {message_id}\r\nReferences: {message_id}\r\nMIME-Version: 1.0\r\n"
           f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n").encode()
    host, port = imap.rsplit(":", 1)
    m = imaplib.IMAP4(host, int(port))
    try:
        m.login(user, password)
        at = time.time()
        m.append("INBOX", None, imaplib.Time2Internaldate(at), raw)
    finally:
        m.logout()
    return at

//! Helpers of the daemon tests: a project that sends to an SMTP sink, a command at a chosen
//! instant, a simulated timeline, crash runs (a blast of leads, a daemon in the background,
//! the touches table as the store holds it) and the exactly-once check.

use crate::support::sink::{Received, Sink};
use crate::support::{Project, Run};
use chrono::{DateTime, Timelike, Utc};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A project whose one mailbox sends over SMTP to `sink`, with a test sequence:
/// intro → no-ask value follow-up in thread (2 business days) → call task (1 business day) →
/// bump in thread (1 business day). New York window, Mon–Fri 09:00–17:00, 2026-03-09 a holiday.
pub fn smtp_project(sink: &Sink, extra_config: &str) -> Project {
    smtp_project_on(sink.port, extra_config)
}

/// [`smtp_project`] with its mailbox sending to the SMTP server on `port`.
pub fn smtp_project_on(port: u16, extra_config: &str) -> Project {
    let p = Project::shipped();
    p.write(
        "config.toml",
        format!(
            r#"store = "sqlite://data/drumbeat.db"
timezone = "America/New_York"
{extra_config}
[http]
listen = "127.0.0.1:0"

[[mailbox]]
name = "rep"
from = "rep@example.com"
display_name = "Rita Rep"
signature = "Rita Rep, Example Inc."
daily_cap = 500
[mailbox.smtp]
host = "127.0.0.1"
port = {port}
security = "none"
"#,
            port = port
        ),
    );
    p.write(
        "sequences/e2e.yaml",
        r#"id: e2e
name: E2E four steps
mailboxes: [rep]
window:
  days: [mon-fri]
  hours: "09:00-17:00"
  timezone: America/New_York
  holidays: [2026-03-09]
steps:
  - id: intro
    wait: 0
    template: cold/intro
  - id: value
    wait: 2 business days
    template: cold/value-add
    thread: true
    no_ask: true
  - id: call
    wait: 1 business day
    task: call
    note: "Call {{ lead.first_name }} at {{ lead.phone | default(value='no phone') }}"
  - id: bump
    wait: 1 business day
    template: cold/bump
    thread: true
"#,
    );
    // The shipped sequences name the shipped mailbox; keep only ours.
    let _ = std::fs::remove_file(p.file("sequences/cold-outbound.yaml"));
    let _ = std::fs::remove_file(p.file("sequences/inbound-fast.yaml"));
    p
}

/// Runs a command at a simulated instant.
pub fn at(p: &Project, now: &str, args: &[&str]) -> Run {
    let out = p
        .cmd(args)
        .env("DRUMBEAT_NOW", now)
        .output()
        .expect("run drumbeat");
    let run = Run::from_output(out);
    assert_eq!(
        run.code, 0,
        "{args:?} at {now}:\n{}\n{}",
        run.stdout, run.stderr
    );
    run
}

/// `run --once` at `now`; returns the next due time.
pub fn run_once(p: &Project, now: &str) -> (serde_json::Value, Option<String>) {
    let v = at(p, now, &["run", "--once", "--json"]).json();
    let next = v["next_due_at"].as_str().map(str::to_string);
    (v, next)
}

/// Drives the simulated clock from `start` to `until`: `run --once` at each next due time,
/// doing every open task right away. Bounded by `max_steps`.
pub fn simulate(p: &Project, start: &str, until: &str, max_steps: usize) -> usize {
    let until = parse(until);
    let mut now = start.to_string();
    for step in 0..max_steps {
        let (_, next) = run_once(p, &now);
        let tasks = at(p, &now, &["tasks", "--json"]).json();
        for t in tasks.as_array().expect("tasks array") {
            let id = t["id"].as_i64().expect("task id").to_string();
            at(p, &now, &["task", "done", &id, "--outcome", "voicemail"]);
        }
        let next = if tasks.as_array().is_some_and(|a| !a.is_empty()) {
            // Doing tasks scheduled the next steps: ask again.
            run_once(p, &now).1
        } else {
            next
        };
        match next {
            Some(n) if parse(&n) <= until => {
                // Never go back in time (a due time in the past is due now).
                now = parse(&n).max(parse(&now)).to_rfc3339();
            }
            _ => return step + 1,
        }
    }
    panic!("the simulation did not settle within {max_steps} steps");
}

/// A short stable hash, for unique ids in test messages.
pub fn short_hash(s: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    s.hash(&mut h);
    format!("{:016x}", h.finish())
}

/// A zone where it is around noon now, so a window of 00:00–23:59 every day stays open for
/// hours whatever time the test runs (these daemons run on the machine's clock).
pub fn noon_zone() -> String {
    let offset = 12 - i64::from(Utc::now().hour());
    match offset {
        0 => "Etc/UTC".to_string(),
        // POSIX signs are inverted: Etc/GMT-3 is UTC+3.
        o if o > 0 => format!("Etc/GMT-{o}"),
        o => format!("Etc/GMT+{}", -o),
    }
}

/// A project whose one SMTP mailbox (`connections` parallel connections, no practical daily
/// cap, no jitter, no domain limit) sends a one-step sequence `blast` whose window is open
/// now, with `leads` leads imported into it. `store` replaces the SQLite store (PostgreSQL).
pub fn blast_project(sink: &Sink, store: Option<&str>, leads: usize, connections: u32) -> Project {
    let p = smtp_project(sink, "[sending]\njitter = \"0\"\ndomain_hourly_limit = 0\n");
    p.edit(
        "config.toml",
        "daily_cap = 500",
        &format!("daily_cap = 1000000\nconnections = {connections}"),
    );
    if let Some(url) = store {
        p.edit(
            "config.toml",
            "store = \"sqlite://data/drumbeat.db\"",
            &format!("store = \"{url}\""),
        );
    }
    let _ = std::fs::remove_file(p.file("sequences/e2e.yaml"));
    p.write(
        "sequences/blast.yaml",
        format!(
            r#"id: blast
name: One email, window always open
mailboxes: [rep]
window:
  days: [mon-sun]
  hours: "00:00-23:59"
  timezone: {zone}
steps:
  - id: intro
    wait: 0
    template: cold/intro
"#,
            zone = noon_zone()
        ),
    );
    let mut csv = String::from("Email,First Name,Company\n");
    for i in 0..leads {
        csv.push_str(&format!("lead{i}@company{i}.example,Lead{i},Company {i}\n"));
    }
    p.write("leads.csv", csv);
    p.ok(&["leads", "import", "leads.csv", "--sequence", "blast"]);
    p
}

/// Starts `drumbeat run --instance NAME` (the long-running daemon, real clock) in the
/// project; its log is appended to `log`.
pub fn spawn_daemon(p: &Project, instance: &str, log: &Path) -> Child {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("daemon log file");
    Command::new(env!("CARGO_BIN_EXE_drumbeat"))
        .current_dir(p.path())
        .env_remove("DRUMBEAT_CONFIG")
        .env_remove("DRUMBEAT_NOW")
        .env_remove("DRUMBEAT_INSTANCE")
        .env("RUST_LOG", "drumbeat=info")
        .env("NO_COLOR", "1")
        .args(["run", "--instance", instance])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(file)
        .spawn()
        .expect("start drumbeat run")
}

/// A server on a loopback port that takes connections (up to 64) and never says a word, as a
/// mail server that hangs does; returns its port.
pub fn silent_server() -> u16 {
    let hole = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback listener");
    let port = hole.local_addr().expect("its address").port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in hole.incoming().take(64) {
            held.push(conn);
        }
    });
    port
}

/// One touch row.
#[derive(Debug, Clone)]
pub struct TouchRow {
    pub lead: i64,
    pub state: String,
    pub message_id: Option<String>,
    /// A server may have had the message (`handed_at`): a crash leaves it uncertain; without
    /// it the touch is known unsent and goes back to the queue.
    pub handed: bool,
}

/// Every touch in the store at `url`, read directly (the daemon may be dead or running).
pub fn touches(url: &str) -> Vec<TouchRow> {
    use sqlx::{Connection, Row};
    sqlx::any::install_default_drivers();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let mut conn = sqlx::AnyConnection::connect(url)
            .await
            .unwrap_or_else(|e| panic!("open the store {url}: {e}"));
        let rows = sqlx::query(
            "SELECT lead_id, state, message_id, handed_at IS NOT NULL AS handed FROM touches ORDER BY id",
        )
            .fetch_all(&mut conn)
            .await
            .expect("read touches");
        let out = rows
            .iter()
            .map(|r| TouchRow {
                lead: r.try_get("lead_id").expect("lead_id"),
                state: r.try_get("state").expect("state"),
                message_id: r.try_get("message_id").expect("message_id"),
                handed: r
                    .try_get::<bool, _>("handed")
                    .or_else(|_| r.try_get::<i64, _>("handed").map(|h| h != 0))
                    .expect("handed"),
            })
            .collect();
        conn.close().await.expect("close");
        out
    })
}

/// Counts of touches by state.
pub fn by_state(rows: &[TouchRow]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for r in rows {
        *m.entry(r.state.clone()).or_default() += 1;
    }
    m
}

/// Waits (bounded) until `done` holds for the touches at `url`; returns the last look.
pub fn wait_for_store(
    url: &str,
    within: Duration,
    done: impl Fn(&[TouchRow]) -> bool,
) -> Vec<TouchRow> {
    let deadline = Instant::now() + within;
    loop {
        let rows = touches(url);
        if done(&rows) || Instant::now() > deadline {
            return rows;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Checks what reached the sink against the store: no Message-ID twice, no lead twice, every
/// `sent` touch's Message-ID there exactly once. Returns the Message-IDs seen at the sink.
pub fn assert_exactly_once(got: &[Received], rows: &[TouchRow]) -> HashSet<String> {
    let mut ids: HashMap<String, usize> = HashMap::new();
    let mut rcpts: HashMap<&str, usize> = HashMap::new();
    for m in got {
        let id = m
            .header("Message-ID")
            .unwrap_or_else(|| panic!("a message without Message-ID, to {}", m.rcpt));
        *ids.entry(id).or_default() += 1;
        *rcpts.entry(m.rcpt.as_str()).or_default() += 1;
    }
    let twice: Vec<_> = ids.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "Message-IDs at the sink twice: {twice:?}");
    let leads_twice: Vec<_> = rcpts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        leads_twice.is_empty(),
        "leads that got two messages: {leads_twice:?}"
    );
    for r in rows.iter().filter(|r| r.state == "sent") {
        let id = r
            .message_id
            .as_deref()
            .expect("a sent touch has a Message-ID");
        assert_eq!(
            ids.get(id),
            Some(&1),
            "sent touch of lead {} ({id}) is not at the sink exactly once",
            r.lead
        );
    }
    ids.into_keys().collect()
}

fn parse(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("{s:?}: {e}"))
        .with_timezone(&Utc)
}

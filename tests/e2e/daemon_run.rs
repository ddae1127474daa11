//! The long-running daemon (`drumbeat run`, real clock) as systemd runs it: it sends what is
//! due, reloads sequences and templates on SIGHUP (keeping the previous catalog when an edit is
//! broken, and saying so in `status`), and exits cleanly on SIGTERM.

use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use chrono::{Timelike, Utc};

use crate::support::{Project, wait_until};

/// A zone where it is about noon now, so a window of 00:00–23:59 every day is open for hours.
fn noon_zone() -> String {
    let h = i32::try_from(Utc::now().hour()).expect("hour");
    let k = 12 - h; // UTC+k is noon; Etc/GMT signs are inverted.
    if k >= 0 {
        format!("Etc/GMT-{k}")
    } else {
        format!("Etc/GMT+{}", -k)
    }
}

fn project() -> Project {
    let p = Project::shipped();
    p.write(
        "config.toml",
        r#"store = "sqlite://data/drumbeat.db"
timezone = "UTC"
[sending]
jitter = "0"
[[mailbox]]
name = "rep"
from = "rep@example.com"
daily_cap = 1000
outbox = "data/outbox"
"#,
    );
    p.write(
        "sequences/now.yaml",
        format!(
            r#"id: now
mailboxes: [rep]
window:
  days: [mon, tue, wed, thu, fri, sat, sun]
  hours: "00:00-23:59"
  timezone: {zone}
steps:
  - id: hello
    wait: 0
    template: now/hello
  - id: later
    wait: 1 week
    template: now/hello
    thread: true
"#,
            zone = noon_zone()
        ),
    );
    p.write(
        "templates/now/hello.txt",
        "---\nsubject: Hello {{ lead.first_name }}\n---\nHi {{ lead.first_name }}, version one.\n",
    );
    let _ = std::fs::remove_file(p.file("sequences/cold-outbound.yaml"));
    let _ = std::fs::remove_file(p.file("sequences/inbound-fast.yaml"));
    p
}

/// Imports leads `first..first+n` into the sequence; with `due_in`, as if it were that much
/// later, so their first email is due then.
fn import(p: &Project, first: usize, n: usize, due_in: Option<Duration>) {
    let mut csv = String::from("Email,First Name\n");
    for i in first..first + n {
        csv.push_str(&format!("lead{i}@company{i}.example,Lead{i}\n"));
    }
    let file = format!("leads{first}.csv");
    p.write(&file, csv);
    let mut cmd = p.cmd(&["leads", "import", &file, "--sequence", "now"]);
    if let Some(d) = due_in {
        let at = Utc::now() + chrono::TimeDelta::from_std(d).expect("delay");
        cmd.env("DRUMBEAT_NOW", at.to_rfc3339());
    }
    cmd.assert().success();
}

fn outbox(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

fn signal(child: &Child, sig: i32) {
    let pid = i32::try_from(child.id()).expect("pid");
    // SAFETY: kill(2) with a pid we spawned and a valid signal number.
    assert_eq!(unsafe { libc::kill(pid, sig) }, 0, "kill -{sig} {pid}");
}

fn daemon_status(p: &Project) -> serde_json::Value {
    p.ok(&["status", "--json"]).json()["daemons"][0].clone()
}

#[test]
fn daemon_sends_reloads_on_sighup_keeping_a_good_catalog_and_stops_on_sigterm() {
    let p = project();
    import(&p, 0, 5, None);
    // Three more leads whose first email is due in 10 s, after the broken edit below.
    import(&p, 5, 3, Some(Duration::from_secs(10)));
    let mut child = p.spawn(&["run", "--instance", "test-daemon"]);
    let dir = p.file("data/outbox");
    wait_until("the first 5 emails", Duration::from_secs(30), || {
        outbox(&dir).len() >= 5
    });
    assert!(outbox(&dir).iter().all(|m| m.contains("version one")));
    wait_until("the heartbeat", Duration::from_secs(10), || {
        daemon_status(&p)["state"] == "running"
    });

    // A broken edit: the daemon keeps the previous catalog and says why in status.
    p.write(
        "templates/now/hello.txt",
        "---\nsubject: Hello {{ lead.first_name }\n---\nbroken\n",
    );
    signal(&child, libc::SIGHUP);
    wait_until(
        "the refused reload in status",
        Duration::from_secs(30),
        || daemon_status(&p)["catalog_error"].is_string(),
    );
    let err = daemon_status(&p)["catalog_error"]
        .as_str()
        .expect("error")
        .to_string();
    assert!(err.contains("hello.txt"), "{err}");
    // The daemon keeps sending, from the catalog that was loaded.
    wait_until("3 more emails", Duration::from_secs(30), || {
        outbox(&dir).len() >= 8
    });
    assert!(outbox(&dir).iter().all(|m| m.contains("version one")));

    // A good edit is picked up.
    p.write(
        "templates/now/hello.txt",
        "---\nsubject: Hello {{ lead.first_name }}\n---\nHi {{ lead.first_name }}, version two.\n",
    );
    signal(&child, libc::SIGHUP);
    wait_until("the reload to be accepted", Duration::from_secs(30), || {
        daemon_status(&p)["catalog_error"].is_null()
    });
    import(&p, 8, 2, None);
    wait_until("2 more emails", Duration::from_secs(30), || {
        outbox(&dir).len() >= 10
    });
    assert_eq!(
        outbox(&dir)
            .iter()
            .filter(|m| m.contains("version two"))
            .count(),
        2
    );

    // SIGTERM: a clean exit, recorded.
    signal(&child, libc::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "the daemon did not stop within 30 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status {status:?}");
    assert_eq!(daemon_status(&p)["state"], "stopped");
    // Nothing was sent twice.
    assert_eq!(outbox(&dir).len(), 10);
}

//! The rep's day, as the rep reads it: `status`'s "needs attention" with the ids the commands
//! take, `lead show` with task outcomes and an out-of-office return date in both zones, `run
//! --once` apart from the daemons and its hint naming the real reason nothing went, logs
//! without colour codes off a terminal, and the systemd unit loading the credentials the
//! shipped config.toml names. Each check is on the exact text printed.

use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::inbox_watch::{T1, answer_intro, send_intros, setup};
use crate::support::daemon::{at, run_once};
use crate::support::{Project, repo, wait_until};

const MARIA: &str = "maria.garcia@northwind.example";

/// The shipped project, its five sample leads in cold-outbound from Thursday 2026-03-05, run
/// on the 5th, 11th, 13th and 16th of March: three call tasks (due Friday the 13th) are left
/// undone; the clock then stands at Friday the 20th.
fn three_overdue_calls() -> Project {
    let p = Project::shipped();
    p.set_clock("2026-03-05T15:00:00Z");
    p.import_sample(&["--sequence", "cold-outbound"]);
    for day in ["05", "11", "13", "16"] {
        p.set_clock(&format!("2026-03-{day}T15:00:00Z"));
        p.ok(&["run", "--once"]);
    }
    p.set_clock("2026-03-20T15:00:00Z");
    p
}

/// The open task of `email` (from `tasks --json`).
fn task_of(p: &Project, email: &str) -> Value {
    let tasks = p.ok(&["tasks", "--json"]).json();
    tasks
        .as_array()
        .expect("a list")
        .iter()
        .find(|t| t["email"] == email)
        .unwrap_or_else(|| panic!("no task of {email}: {tasks:#}"))
        .clone()
}

#[test]
fn status_names_each_overdue_task_with_the_id_and_the_command_to_close_it() {
    let p = three_overdue_calls();
    let id = task_of(&p, MARIA)["id"].as_i64().expect("task id");
    let out = p.ok(&["status"]).stdout;
    let lines: Vec<&str> = out.lines().collect();
    let row = lines
        .iter()
        .position(|l| l.contains(MARIA))
        .unwrap_or_else(|| panic!("{out}"));
    assert_eq!(
        lines[row],
        format!(
            "  overdue-task       task {id:<5} 2026-03-13 15:00 UTC  {MARIA} cold-outbound/call  \
             call, due Fri 2026-03-13 11:00 EDT (rep, America/New_York) / 10:00 CDT (lead, America/Chicago)"
        ),
        "{out}"
    );
    assert_eq!(
        lines[row + 1],
        format!(
            "      next: drumbeat task done {id} --outcome connected   (or: drumbeat task skip {id})"
        )
    );
    // The JSON has the same ids, and the step and touch the task belongs to.
    let v = p.ok(&["status", "--json"]).json();
    let item = v["needs_attention"]
        .as_array()
        .expect("a list")
        .iter()
        .find(|a| a["email"] == MARIA)
        .unwrap_or_else(|| panic!("{v:#}"))
        .clone();
    assert_eq!(item["kind"], "overdue-task");
    assert_eq!(item["id"], id);
    assert_eq!(item["step"], "call");
    assert!(item["touch"].is_i64(), "{item:#}");
}

#[test]
fn a_done_task_shows_done_with_its_outcome_and_note_in_lead_show() {
    let p = three_overdue_calls();
    let id = task_of(&p, MARIA)["id"]
        .as_i64()
        .expect("task id")
        .to_string();
    p.ok(&[
        "task",
        "done",
        &id,
        "--outcome",
        "connected",
        "--note",
        "Wants a demo\nnext week",
    ]);
    let out = p.ok(&["lead", "show", MARIA]).stdout;
    let call = out
        .lines()
        .find(|l| l.contains(" call ") && l.contains(" task "))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        call.starts_with("  cold-outbound        call             task  done       "),
        "{call:?}"
    );
    let done = out
        .lines()
        .find(|l| l.contains("task-done"))
        .unwrap_or_else(|| panic!("{out}"));
    assert_eq!(
        done,
        "  2026-03-20 15:00 UTC  task-done      cold-outbound/call  outcome: connected  note: Wants a demo next week"
    );
}

#[test]
fn run_once_says_nothing_was_due_when_only_a_wait_is_pending_and_is_no_daemon() {
    let p = Project::shipped();
    p.set_clock("2026-03-05T15:00:00Z");
    p.write(
        "leads.csv",
        "Email,First Name,Company,Time Zone\n\
         ann@acme.example,Ann,Acme,America/New_York\n\
         bo@initech.example,Bo,Initech,America/Chicago\n",
    );
    p.ok(&[
        "leads",
        "import",
        "leads.csv",
        "--sequence",
        "cold-outbound",
    ]);
    p.ok(&["run", "--once"]);
    // The next day both leads got their intro and wait for the follow-up's `wait:`.
    p.set_clock("2026-03-06T15:00:00Z");
    let out = p.ok(&["run", "--once"]).stdout;
    assert!(
        out.contains(
            "(nothing was due now: no lead's next step had come due yet;\n \
             `drumbeat status` lists what goes next"
        ),
        "{out}"
    );
    assert!(!out.contains("send window"), "{out}");
    let status = p.ok(&["status"]).stdout;
    let lines: Vec<&str> = status.lines().collect();
    let daemon = lines.iter().position(|l| *l == "Daemon").expect("Daemon");
    assert_eq!(
        lines[daemon + 1],
        "  (not running as a daemon: drumbeat run)"
    );
    assert!(
        lines[daemon + 2].starts_with("  last run --once: finished 2026-03-06 15:00 UTC ("),
        "{status}"
    );
    let v = p.ok(&["status", "--json"]).json();
    assert_eq!(v["daemons"], serde_json::json!([]), "{v:#}");
    assert_eq!(v["last_once"]["state"], "finished", "{v:#}");
}

#[test]
fn a_daemon_logs_without_colour_off_a_terminal_and_run_once_keeps_off_its_name() {
    let p = Project::shipped();
    p.set_clock("2026-03-05T15:00:00Z");
    let log = p.file("daemon.log");
    let mut daemon = Command::new(assert_cmd::cargo::cargo_bin("drumbeat"))
        .current_dir(p.path())
        .env_remove("DRUMBEAT_CONFIG")
        .env_remove("NO_COLOR")
        .env("RUST_LOG", "drumbeat=info")
        .env("DRUMBEAT_NOW", "2026-03-05T15:00:00Z")
        .args(["run", "--instance", "day-daemon"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("start the daemon");
    wait_until("the daemon is running", Duration::from_secs(30), || {
        p.ok(&["status", "--json"]).json()["daemons"][0]["state"] == "running"
    });
    let refused = p.run(&["run", "--once", "--instance", "day-daemon"]);
    refused.code(1);
    assert!(
        refused
            .stderr
            .contains("instance \"day-daemon\" is running (pid "),
        "{}",
        refused.stderr
    );
    // Without --instance a one-off run beside the daemon goes ahead under a name of its own.
    p.ok(&["run", "--once"]);
    let v = p.ok(&["status", "--json"]).json();
    assert_eq!(v["daemons"].as_array().map(Vec::len), Some(1), "{v:#}");
    assert_eq!(v["daemons"][0]["instance"], "day-daemon");
    assert!(
        v["last_once"]["instance"]
            .as_str()
            .is_some_and(|i| i.ends_with("-once")),
        "{v:#}"
    );
    let _ = Command::new("kill")
        .args(["-TERM", &daemon.id().to_string()])
        .status();
    let _ = daemon.wait();
    let text = std::fs::read_to_string(&log).expect("read the log");
    assert!(text.contains("DRUMBEAT_NOW is set"), "{text}");
    assert!(
        !text.contains('\u{1b}'),
        "colour codes in a log file: {text:?}"
    );
}

#[test]
fn the_systemd_unit_loads_every_credential_the_shipped_config_and_deploy_guide_name() {
    let unit = std::fs::read_to_string(repo().join("deploy/drumbeat.service")).expect("unit");
    let loaded: Vec<&str> = unit
        .lines()
        .filter_map(|l| l.trim_start_matches('#').strip_prefix("LoadCredential="))
        .filter_map(|l| l.split(':').next())
        .collect();
    for file in ["config.toml", "deploy/README.md"] {
        let text = std::fs::read_to_string(repo().join(file)).expect(file);
        let named: Vec<&str> = text
            .split("credential = \"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .collect();
        assert!(!named.is_empty(), "{file} names no credential");
        for name in named {
            assert!(
                loaded.contains(&name),
                "{file} names credential {name:?}; deploy/drumbeat.service loads {loaded:?}"
            );
        }
    }
}

#[test]
fn status_shows_a_multi_line_reply_on_one_line_with_the_reply_id() {
    let test = "status_shows_a_multi_line_reply_on_one_line_with_the_reply_id";
    let Some(mut s) = setup(test, &[("ann@acme.example", "Acme")]) else {
        return;
    };
    let sent = send_intros(&s, 1);
    answer_intro(
        &mut s,
        &sent,
        "ann@acme.example",
        "Thanks for reaching out.\r\n\r\nCould you send me\r\n  the pricing for 40 seats and the onboarding plan, and who else uses it?",
    );
    run_once(&s.p, T1);
    let replies = at(&s.p, T1, &["replies", "--json"]).json();
    let id = replies[0]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("{replies:#}"));
    let out = at(&s.p, T1, &["status"]).stdout;
    let lines: Vec<&str> = out.lines().collect();
    let row = lines
        .iter()
        .position(|l| l.contains("ann@acme.example") && l.contains("reply"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        lines[row].starts_with(&format!("  reply              reply {id:<4} ")),
        "{out}"
    );
    assert!(
        lines[row].ends_with(
            "  Thanks for reaching out. Could you send me the pricing for 40 seats and the onb…"
        ),
        "{out}"
    );
    assert_eq!(
        lines[row + 1],
        format!("      next: drumbeat reply handled {id} --outcome interested")
    );
}

//! Helpers of the provider-webhook tests: a project with an intro sent through a provider,
//! signed requests, and what the store says of the lead afterwards.

use crate::support::Project;
use crate::support::daemon::{at, run_once};
use serde_json::Value;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

pub const LEAD: &str = "ada@company0.example";

/// Tuesday 2027-03-02, 09:00 in New York: in the future, so the live daemon (real clock) never
/// finds a follow-up due while a test runs.
pub const IMPORT_AT: &str = "2027-03-02T14:00:00Z";

pub const SEND_AT: &str = "2027-03-02T15:00:00Z";

/// Well after every follow-up of the shipped sequence would be due.
pub const LATER: &str = "2027-04-01T15:00:00Z";

pub fn fixture(rel: &str) -> String {
    std::fs::read_to_string(
        crate::support::repo()
            .join("tests/fixtures/providers")
            .join(rel),
    )
    .unwrap_or_else(|e| panic!("fixture {rel}: {e}"))
}

pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64
}

pub fn openssl(p: &Project, args: &[&str], stdin: Option<&[u8]>) -> Vec<u8> {
    use std::io::Write;
    let mut child = Command::new("openssl")
        .args(args)
        .current_dir(p.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("openssl (the tests make their keys with it)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.unwrap_or_default())
        .expect("write to openssl");
    let out = child.wait_with_output().expect("openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A project whose mailbox `ana` sends through `provider` with `[providers.*]` = `table`, one
/// lead enrolled and its intro sent; returns the intro's Message-ID.
pub fn project_with_sent_intro(provider: &str, table: &str) -> (Project, String) {
    project_with(provider, table, |_| {})
}

/// [`project_with_sent_intro`], with `setup` run before the config names its files.
pub fn project_with(
    provider: &str,
    table: &str,
    setup: impl FnOnce(&Project),
) -> (Project, String) {
    let p = Project::shipped();
    setup(&p);
    p.edit(
        "config.toml",
        "outbox = \"data/outbox\"\n",
        &format!("outbox = \"data/outbox\"\nprovider = \"{provider}\"\n"),
    );
    let text = std::fs::read_to_string(p.file("config.toml")).expect("config");
    p.write("config.toml", format!("{text}\n{table}\n"));
    p.write(
        "leads.csv",
        format!("Email,First Name,Company,Time Zone\n{LEAD},Ada,Company 0,America/New_York\n"),
    );
    at(
        &p,
        IMPORT_AT,
        &[
            "leads",
            "import",
            "leads.csv",
            "--sequence",
            "cold-outbound",
        ],
    );
    run_once(&p, SEND_AT);
    let id = intro_message_id(&p);
    (p, id)
}

/// Waits (bounded) until a daemon running on the machine's clock has dealt with what was due
/// (the lead's next step lies ahead of that clock), so a snapshot of the store taken then is
/// not raced by its tick: the suite's second pass runs a year ahead, where the follow-up is due.
pub fn settled(p: &Project) {
    crate::support::wait_until(
        "the running daemon to settle what was due",
        std::time::Duration::from_secs(30),
        || {
            lead(p)["enrollments"][0]["next_due_at"]
                .as_i64()
                .is_none_or(|due| due > unix_now())
        },
    );
}

pub fn lead(p: &Project) -> Value {
    at(p, SEND_AT, &["lead", "show", LEAD, "--json"]).json()
}

pub fn outbox(p: &Project) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(p.file("data/outbox"))
        .map(|d| {
            d.flatten()
                .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

pub fn suppression(p: &Project) -> Option<String> {
    let v = p.ok(&["suppressions", "--json"]).json();
    v.as_array()
        .into_iter()
        .flatten()
        .find(|s| s["value"] == LEAD)
        .map(|s| s["reason"].as_str().unwrap_or_default().to_string())
}

pub fn enrollment_state(p: &Project) -> String {
    lead(p)["enrollments"][0]["state"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Asserts a JSON 4xx with `status`, and returns its error message.
pub fn refused(r: reqwest::blocking::Response, status: u16) -> String {
    assert_eq!(r.status().as_u16(), status);
    let v: Value = r.json().expect("a JSON error");
    v["error"].as_str().expect("an error message").to_string()
}

/// The next step is never sent: later runs send nothing more and the lead stays stopped.
pub fn assert_no_more_sends(p: &Project, state: &str) {
    let before = outbox(p).len();
    run_once(p, LATER);
    run_once(p, "2027-05-03T15:00:00Z");
    assert_eq!(outbox(p).len(), before, "a step was sent after the stop");
    assert_eq!(enrollment_state(p), state);
}

fn intro_message_id(p: &Project) -> String {
    let v = lead(p);
    v["touches"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["step_id"] == "intro"))
        .and_then(|t| t["message_id"].as_str())
        .unwrap_or_else(|| panic!("no sent intro: {v:#}"))
        .to_string()
}

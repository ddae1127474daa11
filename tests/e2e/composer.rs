//! One composer (DESIGN.md invariant 9): for every email step of the shipped sequences and
//! every sample lead, `preview --raw` prints, byte for byte, the message the daemon then
//! writes to the outbox — threading included, and a threaded step after the lead's mailbox
//! changed (a new thread, no "Re:").

use std::collections::{BTreeMap, BTreeSet};

use chrono::DateTime;
use serde_json::Value;

use crate::support::Project;

/// The outbox's files.
fn outbox(p: &Project) -> BTreeMap<String, Vec<u8>> {
    let dir = p.file("data/outbox");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return BTreeMap::new();
    };
    entries
        .map(|e| {
            let path = e.expect("an outbox entry").path();
            let name = path
                .file_name()
                .expect("a name")
                .to_string_lossy()
                .into_owned();
            (name, std::fs::read(&path).expect("read an outbox file"))
        })
        .collect()
}

/// The lead's next step as `preview` plans it: (step id, kind, due instant).
fn next_step(p: &Project, sequence: &str, lead: &str) -> Option<(String, String, String)> {
    let v: Value = p
        .ok(&["preview", sequence, "--lead", lead, "--json"])
        .json();
    let steps = v["steps"].as_array().expect("steps");
    steps.iter().find(|s| s["state"] == "planned").map(|s| {
        (
            s["id"].as_str().expect("id").to_string(),
            s["kind"].as_str().expect("kind").to_string(),
            s["due_at"].as_str().expect("a due time").to_string(),
        )
    })
}

fn sample_leads() -> Vec<String> {
    let csv = std::fs::read_to_string(crate::support::repo().join("sample-leads.csv"))
        .expect("sample-leads.csv");
    csv.lines()
        .skip(1)
        .filter_map(|l| l.split(',').next())
        .map(|e| e.trim_matches('"'))
        .filter(|e| e.contains('@'))
        .map(str::to_string)
        .collect()
}

/// Walks every sample lead through `sequence`, comparing each email's preview with what the
/// daemon writes; `move_after` renames the sending mailbox once that many emails went out.
/// Returns the (lead, step) pairs compared.
fn walk(sequence: &str, move_after: Option<usize>) -> BTreeSet<(String, String)> {
    let p = Project::shipped();
    p.set_clock("2027-03-01T08:00:00Z");
    p.import_sample(&["--sequence", sequence]);
    let leads = sample_leads();
    assert!(leads.len() >= 5, "{leads:?}");
    let plan: Value = p
        .ok(&["preview", sequence, "--lead", &leads[0], "--json"])
        .json();
    let emails: BTreeSet<String> = plan["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter(|s| s["kind"] == "email")
        .map(|s| s["id"].as_str().expect("id").to_string())
        .collect();
    assert!(emails.len() >= 4, "{emails:?}");
    let mut compared = BTreeSet::new();
    let mut moved = false;
    // Bounded: each round sends or completes at least one step.
    for _round in 0..200 {
        let mut due: Vec<(String, String, String, String)> = leads
            .iter()
            .filter_map(|l| next_step(&p, sequence, l).map(|(s, k, at)| (at, l.clone(), s, k)))
            .collect();
        if due.is_empty() {
            let all: BTreeSet<(String, String)> = leads
                .iter()
                .flat_map(|l| emails.iter().map(move |s| (l.clone(), s.clone())))
                .collect();
            assert_eq!(compared, all, "every email step of every lead, compared");
            return compared;
        }
        due.sort();
        let at = due[0].0.clone();
        let now = DateTime::parse_from_rfc3339(&at)
            .expect("an instant")
            .to_rfc3339();
        p.set_clock(&now);
        let mut expected = BTreeMap::new();
        for (when, lead, step, kind) in due.iter().filter(|d| d.0 == at) {
            assert_eq!(when, &at);
            if kind == "email" {
                let raw = p
                    .ok(&["preview", sequence, "--lead", lead, "--step", step, "--raw"])
                    .stdout;
                expected.insert(lead.clone(), (step.clone(), raw));
            }
        }
        let before = outbox(&p);
        p.ok(&["run", "--once"]);
        for (name, bytes) in outbox(&p) {
            if before.contains_key(&name) {
                continue;
            }
            let text = String::from_utf8(bytes).expect("a message in UTF-8");
            let to = text
                .lines()
                .find_map(|l| l.strip_prefix("To: "))
                .expect("a To header")
                .trim()
                .to_string();
            let (lead, (step, raw)) = expected
                .iter()
                .find(|(lead, _)| to.contains(lead.as_str()))
                .unwrap_or_else(|| panic!("{name}: sent to {to}, which preview did not plan now"));
            assert_eq!(
                &text, raw,
                "{sequence}/{step} for {lead}: the outbox has other bytes than preview --raw"
            );
            compared.insert((lead.clone(), step.clone()));
        }
        // Tasks due now: done, so the sequence goes on.
        let tasks: Value = p.ok(&["tasks", "--json"]).json();
        for t in tasks.as_array().into_iter().flatten() {
            if let Some(id) = t["id"].as_i64() {
                p.ok(&["task", "done", &id.to_string()]);
            }
        }
        if !moved && move_after.is_some_and(|n| compared.len() >= n) {
            // The rep's mailbox changes: later threaded steps start a new thread.
            p.edit("config.toml", "name = \"ana\"", "name = \"ben\"");
            p.edit(
                &format!("sequences/{sequence}.yaml"),
                "mailboxes: [ana]",
                "mailboxes: [ben]",
            );
            moved = true;
        }
    }
    panic!("the sequence did not end in 200 rounds; compared so far: {compared:?}");
}

#[test]
fn preview_raw_is_the_outbox_message_for_every_cold_outbound_email_and_sample_lead() {
    let compared = walk("cold-outbound", None);
    let steps: BTreeSet<&str> = compared.iter().map(|(_, s)| s.as_str()).collect();
    assert!(
        steps.contains("value-add") && steps.contains("bump"),
        "{steps:?}"
    );
}

#[test]
fn preview_raw_is_the_outbox_message_for_every_inbound_fast_email_and_sample_lead() {
    let compared = walk("inbound-fast", None);
    let steps: BTreeSet<&str> = compared.iter().map(|(_, s)| s.as_str()).collect();
    assert!(
        steps.contains("welcome") && steps.contains("resource"),
        "{steps:?}"
    );
}

#[test]
fn preview_raw_is_the_outbox_message_after_the_mailbox_changes_mid_thread() {
    // After every lead's intro went out from "ana", the mailbox is "ben": the threaded
    // follow-ups start a new thread, without "Re:", and preview says so too.
    let leads = sample_leads().len();
    let compared = walk("cold-outbound", Some(leads));
    assert!(compared.len() > leads, "{compared:?}");
}

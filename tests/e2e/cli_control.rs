//! Controlling leads by hand: `pause`, `resume`, `stop` (with events in the timeline, and
//! impossible transitions refused), the suppression list (`suppress`, `unsuppress`,
//! `suppressions`) and `forget`.

use serde_json::Value;

use crate::support::{Project, SAMPLE_LEADS};

const MARIA: &str = "maria.garcia@northwind.example";
const LI: &str = "li.wei@fabrikam.example";

fn enrolled() -> Project {
    let p = Project::shipped();
    p.import_sample(&["--sequence", "cold-outbound"]);
    p
}

fn lead(p: &Project, email: &str) -> Value {
    p.ok(&["leads", "show", email, "--json"]).json()
}

/// (sequence, state) of each of a lead's enrollments.
fn enrollment_states(p: &Project, email: &str) -> Vec<(String, String)> {
    lead(p, email)["enrollments"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|e| {
            (
                e["sequence_id"].as_str().expect("sequence").to_string(),
                e["state"].as_str().expect("state").to_string(),
            )
        })
        .collect()
}

/// The kinds of a lead's timeline events, oldest first.
fn event_kinds(p: &Project, email: &str) -> Vec<String> {
    lead(p, email)["events"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|e| e["kind"].as_str().expect("kind").to_string())
        .collect()
}

fn pair(sequence: &str, state: &str) -> (String, String) {
    (sequence.to_string(), state.to_string())
}

#[test]
fn pause_resume_stop_change_states_and_leave_events_in_the_timeline() {
    let p = enrolled();
    let run = p.ok(&["pause", MARIA]);
    assert_eq!(
        run.stdout,
        "maria.garcia@northwind.example: cold-outbound active -> paused\n"
    );
    assert_eq!(
        enrollment_states(&p, MARIA),
        [pair("cold-outbound", "paused")]
    );
    let run = p.ok(&["resume", MARIA]);
    assert_eq!(
        run.stdout,
        "maria.garcia@northwind.example: cold-outbound paused -> active\n"
    );
    let run = p.ok(&["stop", MARIA, "--reason", "asked on the phone"]);
    assert_eq!(
        run.stdout,
        "maria.garcia@northwind.example: cold-outbound active -> stopped\n"
    );
    let v = lead(&p, MARIA);
    let e = &v["enrollments"][0];
    assert_eq!(e["state"], "stopped");
    assert_eq!(e["reason"], "asked on the phone");
    assert_eq!(e["next_due_at"], Value::Null);
    assert_eq!(
        event_kinds(&p, MARIA),
        ["received", "enrolled", "paused", "resumed", "stopped"]
    );
    let stopped = &v["events"][4];
    assert_eq!(stopped["sequence_id"], "cold-outbound");
    assert_eq!(stopped["data"]["reason"], "asked on the phone");
    assert_eq!(stopped["data"]["from"], "active");
    // Reports count it as a stop by hand.
    assert_eq!(stopped["data"]["by"], "hand");

    let out = p.ok(&["leads", "show", MARIA]).stdout;
    assert!(
        out.contains("  cold-outbound        stopped      (asked on the phone)\n"),
        "{out}"
    );
    // The other leads did not move.
    assert_eq!(enrollment_states(&p, LI), [pair("cold-outbound", "active")]);
}

#[test]
fn resume_of_a_stopped_lead_is_refused_and_changes_nothing() {
    let p = enrolled();
    p.ok(&["stop", MARIA]);
    let state = p.store_state(&SAMPLE_LEADS);
    let run = p.run(&["resume", MARIA]);
    run.code(1);
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr,
        "drumbeat: maria.garcia@northwind.example: nothing to change to active (cold-outbound is stopped)\n"
    );
    let run = p.run(&["pause", MARIA]);
    run.code(1);
    assert_eq!(
        run.stderr,
        "drumbeat: maria.garcia@northwind.example: nothing to change to paused (cold-outbound is stopped)\n"
    );
    assert_eq!(p.store_state(&SAMPLE_LEADS), state);
}

#[test]
fn pausing_twice_or_a_lead_without_enrollments_is_refused() {
    let p = enrolled();
    p.ok(&["pause", MARIA]);
    let run = p.run(&["pause", MARIA]);
    run.code(1);
    assert_eq!(
        run.stderr,
        "drumbeat: maria.garcia@northwind.example: nothing to change to paused (cold-outbound is paused)\n"
    );
    p.write("one.csv", "Email\nsolo@acme.example\n");
    p.ok(&["leads", "import", "one.csv"]);
    let run = p.run(&["stop", "solo@acme.example"]);
    run.code(1);
    assert_eq!(
        run.stderr,
        "drumbeat: solo@acme.example: nothing to change to stopped (no enrollments)\n"
    );
    let run = p.run(&["pause", "ghost@acme.example"]);
    run.code(1);
    assert_eq!(run.stderr, "drumbeat: no lead ghost@acme.example\n");
}

#[test]
fn sequence_flag_changes_only_that_enrollment() {
    let p = enrolled();
    p.ok(&["enroll", "inbound-fast", MARIA, "--force"]);
    let run = p.ok(&["pause", MARIA, "--sequence", "inbound-fast", "--json"]);
    assert_eq!(
        run.json(),
        serde_json::json!([{"sequence_id": "inbound-fast", "from": "active", "to": "paused"}])
    );
    assert_eq!(
        enrollment_states(&p, MARIA),
        [
            pair("cold-outbound", "active"),
            pair("inbound-fast", "paused")
        ]
    );
    // Without --sequence every enrollment that can change does.
    let run = p.ok(&["stop", MARIA]);
    assert_eq!(
        run.stdout,
        "maria.garcia@northwind.example: cold-outbound active -> stopped\n\
         maria.garcia@northwind.example: inbound-fast paused -> stopped\n"
    );
}

#[test]
fn suppressing_an_address_stops_its_open_enrollments() {
    let p = enrolled();
    p.ok(&["enroll", "inbound-fast", MARIA, "--force"]);
    p.ok(&["pause", MARIA, "--sequence", "inbound-fast"]);
    let run = p.ok(&[
        "suppress",
        "Maria.Garcia@Northwind.example",
        "--note",
        "asked us to stop",
    ]);
    assert_eq!(
        run.stdout,
        "maria.garcia@northwind.example: suppressed; open enrollments stopped\n"
    );
    assert_eq!(
        enrollment_states(&p, MARIA),
        [
            pair("cold-outbound", "stopped"),
            pair("inbound-fast", "stopped")
        ]
    );
    assert_eq!(enrollment_states(&p, LI), [pair("cold-outbound", "active")]);
    let run = p.ok(&["suppress", MARIA]);
    assert_eq!(
        run.stdout,
        "maria.garcia@northwind.example: already suppressed\n"
    );
}

#[test]
fn suppressing_a_domain_stops_every_lead_there_and_no_other() {
    let p = enrolled();
    p.write(
        "more.csv",
        "Email,First Name,Company\nzoe@northwind.example,Zoe,Northwind Traders\n",
    );
    p.ok(&["leads", "import", "more.csv", "--sequence", "cold-outbound"]);
    let run = p.ok(&["suppress", "@Northwind.example"]);
    assert_eq!(
        run.stdout,
        "@northwind.example: suppressed; open enrollments stopped\n"
    );
    for email in [MARIA, "zoe@northwind.example"] {
        assert_eq!(
            enrollment_states(&p, email),
            [pair("cold-outbound", "stopped")],
            "{email}"
        );
        assert_eq!(
            event_kinds(&p, email),
            ["received", "enrolled", "stopped"],
            "{email}"
        );
    }
    let status = p.ok(&["status", "--json"]).json();
    assert_eq!(status["sequences"][0]["states"]["active"], 4);
    assert_eq!(status["sequences"][0]["states"]["stopped"], 2);

    // A new lead at the domain is imported but not enrolled.
    p.write(
        "late.csv",
        "Email,Company\nbo@northwind.example,Northwind Traders\n",
    );
    let run = p.ok(&["leads", "import", "late.csv", "--sequence", "cold-outbound"]);
    assert_eq!(
        run.stdout,
        "imported late.csv: 1 new, 0 updated, 0 unchanged, 0 skipped; 0 enrolled in \
         cold-outbound (0 already in it, 1 suppressed)\n"
    );
}

#[test]
fn suppressions_json_lists_values_reasons_and_notes() {
    let p = enrolled();
    p.ok(&["suppress", "@northwind.example", "--note", "asked by legal"]);
    p.ok(&["suppress", LI]);
    let v = p.ok(&["suppressions", "--json"]).json();
    let entries = v.as_array().expect("a list");
    assert_eq!(entries.len(), 2);
    // Newest first.
    assert_eq!(entries[0]["value"], LI);
    assert_eq!(entries[0]["reason"], "manual");
    assert_eq!(entries[0]["note"], Value::Null);
    assert_eq!(entries[1]["value"], "@northwind.example");
    assert_eq!(entries[1]["note"], "asked by legal");
    for e in entries {
        let at = e["created_at"].as_str().expect("created_at");
        chrono::DateTime::parse_from_rfc3339(at).expect("RFC 3339");
    }
    let out = p.ok(&["suppressions"]).stdout;
    assert!(
        out.lines()
            .any(|l| l.ends_with("manual         @northwind.example  (asked by legal)")),
        "{out}"
    );
}

#[test]
fn unsuppress_takes_the_entry_off_and_stopped_enrollments_stay_stopped() {
    let p = enrolled();
    p.ok(&["suppress", "@northwind.example"]);
    let run = p.ok(&["unsuppress", "@northwind.example"]);
    assert_eq!(
        run.stdout,
        "@northwind.example: removed from the suppression list (stopped enrollments stay stopped)\n"
    );
    assert_eq!(
        p.ok(&["suppressions", "--json"]).json(),
        serde_json::json!([])
    );
    assert_eq!(
        enrollment_states(&p, MARIA),
        [pair("cold-outbound", "stopped")]
    );
    // Enrolling works again.
    p.ok(&["enroll", "inbound-fast", MARIA]);
    let run = p.run(&["unsuppress", "@northwind.example"]);
    run.code(1);
    assert_eq!(
        run.stderr,
        "drumbeat: @northwind.example is not on the suppression list\n"
    );
}

#[test]
fn forget_erases_the_lead_and_keeps_only_a_hash() {
    let p = enrolled();
    let run = p.ok(&["forget", LI, "--yes"]);
    assert_eq!(
        run.stdout,
        "li.wei@fabrikam.example: erased; only a hash stays on the suppression list\n"
    );
    let run = p.run(&["leads", "show", LI]);
    run.code(1);
    assert_eq!(run.stderr, "drumbeat: no lead li.wei@fabrikam.example\n");

    let list = p.ok(&["suppressions", "--json"]);
    assert!(!list.stdout.contains("li.wei"), "{}", list.stdout);
    let v = list.json();
    let entries = v.as_array().expect("a list");
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["reason"], "forgotten");
    let value = entries[0]["value"].as_str().expect("value");
    let hex = value.strip_prefix("sha256:").expect("a sha256: entry");
    assert_eq!(hex.len(), 64);
    assert!(hex.bytes().all(|b| b.is_ascii_hexdigit()));

    let status = p.ok(&["status", "--json"]);
    assert!(!status.stdout.contains("li.wei"), "{}", status.stdout);
    assert_eq!(status.json()["sequences"][0]["enrolled"], 4);

    // A re-import skips the person, with a row message.
    let before = p.store_state(&SAMPLE_LEADS);
    let run = p.import_sample(&["--sequence", "cold-outbound"]);
    assert_eq!(
        run.stderr,
        "sample-leads.csv:4: li.wei@fabrikam.example asked to be forgotten; not imported\n"
    );
    assert_eq!(
        run.stdout,
        "imported sample-leads.csv: 0 new, 0 updated, 4 unchanged, 1 skipped; 0 enrolled in \
         cold-outbound (4 already in it, 0 suppressed)\n"
    );
    assert_eq!(p.store_state(&SAMPLE_LEADS), before);
    let run = p.run(&["enroll", "cold-outbound", LI]);
    run.code(1);
}

#[test]
fn forget_without_yes_and_without_a_terminal_is_a_usage_error() {
    let p = enrolled();
    let files = p.files();
    let state = p.store_state(&SAMPLE_LEADS);
    let run = p.run(&["forget", LI]);
    run.code(2);
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr,
        "drumbeat: forget erases data for good; pass --yes to confirm\n"
    );
    assert_eq!(p.store_state(&SAMPLE_LEADS), state);
    assert!(p.files() == files);
}

#[test]
fn forget_of_an_unknown_address_still_blocks_it_for_good() {
    let p = enrolled();
    let run = p.ok(&["forget", "new.person@acme.example", "--yes"]);
    assert_eq!(
        run.stdout,
        "new.person@acme.example: no data stored; added a hash to the suppression list\n"
    );
    p.write("new.csv", "Email\nnew.person@acme.example\n");
    let run = p.ok(&["leads", "import", "new.csv"]);
    assert_eq!(
        run.stderr,
        "new.csv:2: new.person@acme.example asked to be forgotten; not imported\n"
    );
}

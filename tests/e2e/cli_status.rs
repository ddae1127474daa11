//! `drumbeat status`, `leads show` (and its `lead show` alias) and `enroll`: what a rep reads
//! about where leads stand, straight from the store.

use serde_json::Value;

use crate::support::{Project, SAMPLE_LEADS};

const MARIA: &str = "maria.garcia@northwind.example";

fn enrolled() -> Project {
    let p = Project::shipped();
    p.import_sample(&["--sequence", "cold-outbound"]);
    p
}

/// The counts per state of one sequence in `status --json`.
fn states(status: &Value, sequence: &str) -> Value {
    status["sequences"]
        .as_array()
        .expect("sequences is a list")
        .iter()
        .find(|s| s["sequence_id"] == sequence)
        .unwrap_or_else(|| panic!("{sequence} in status: {status:#}"))["states"]
        .clone()
}

#[test]
fn status_json_counts_enrollments_and_lists_upcoming_sends() {
    let p = enrolled();
    let v = p.ok(&["status", "--json"]).json();
    let seqs = v["sequences"].as_array().expect("a list");
    assert_eq!(seqs.len(), 1);
    assert_eq!(seqs[0]["sequence_id"], "cold-outbound");
    assert_eq!(seqs[0]["enrolled"], 5);
    assert_eq!(
        seqs[0]["states"],
        serde_json::json!({"active": 5, "paused": 0, "finished": 0, "replied": 0,
            "bounced": 0, "unsubscribed": 0, "stopped": 0, "failed": 0})
    );
    assert_eq!(
        v["mailboxes"],
        serde_json::json!([{"mailbox": "ana", "sent_today": 0, "daily_cap": 40}])
    );
    assert_eq!(v["needs_attention"], serde_json::json!([]));
    let upcoming = v["upcoming"].as_array().expect("a list");
    let mut emails: Vec<&str> = upcoming
        .iter()
        .map(|u| u["email"].as_str().expect("email"))
        .collect();
    emails.sort_unstable();
    let mut expected = SAMPLE_LEADS.to_vec();
    expected.sort_unstable();
    assert_eq!(emails, expected);
    let due: Vec<&str> = upcoming
        .iter()
        .map(|u| u["due_at"].as_str().expect("due_at"))
        .collect();
    assert!(due.is_sorted(), "soonest first: {due:?}");
    for u in upcoming {
        assert_eq!(u["sequence"], "cold-outbound");
        assert_eq!(u["step"], "intro");
    }
    let v = p.ok(&["status", "--json", "--limit", "2"]).json();
    assert_eq!(v["upcoming"].as_array().expect("a list").len(), 2);
}

#[test]
fn status_counts_follow_state_changes() {
    let p = enrolled();
    p.ok(&["pause", MARIA]);
    p.ok(&["stop", "tom.becker@contoso.example"]);
    p.ok(&["enroll", "inbound-fast", MARIA, "--force"]);
    let v = p.ok(&["status", "--json"]).json();
    let cold = states(&v, "cold-outbound");
    assert_eq!(cold["active"], 3);
    assert_eq!(cold["paused"], 1);
    assert_eq!(cold["stopped"], 1);
    assert_eq!(states(&v, "inbound-fast")["active"], 1);
    // Paused and stopped enrollments have nothing upcoming.
    let upcoming: Vec<(&str, &str)> = v["upcoming"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|u| {
            (
                u["email"].as_str().expect("email"),
                u["sequence"].as_str().expect("sequence"),
            )
        })
        .collect();
    assert!(
        !upcoming.contains(&(MARIA, "cold-outbound")),
        "{upcoming:?}"
    );
    assert!(
        !upcoming
            .iter()
            .any(|(e, _)| *e == "tom.becker@contoso.example")
    );
    assert!(upcoming.contains(&(MARIA, "inbound-fast")), "{upcoming:?}");
}

#[test]
fn status_table_shows_counts_cap_and_next_sends() {
    let p = enrolled();
    let out = p.ok(&["status"]).stdout;
    let lines: Vec<&str> = out.lines().collect();
    let row = lines
        .iter()
        .find(|l| l.trim_start().starts_with("cold-outbound"))
        .expect("a row for cold-outbound");
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        cells,
        ["cold-outbound", "5", "5", "0", "0", "0", "0", "0", "0", "0"]
    );
    let header = lines
        .iter()
        .find(|l| l.trim_start().starts_with("sequence "))
        .expect("a header row");
    assert_eq!(
        header.split_whitespace().collect::<Vec<_>>(),
        [
            "sequence",
            "enrolled",
            "active",
            "paused",
            "finished",
            "replied",
            "bounced",
            "unsubscribed",
            "stopped",
            "failed"
        ]
    );
    assert!(
        lines.contains(&"Mailboxes (sent today / daily cap)"),
        "{out}"
    );
    let mailbox = lines
        .iter()
        .find(|l| l.trim_start().starts_with("ana "))
        .expect("a row for mailbox ana");
    assert_eq!(
        mailbox.split_whitespace().collect::<Vec<_>>(),
        ["ana", "0", "/", "40"]
    );
    for email in SAMPLE_LEADS {
        assert!(
            lines
                .iter()
                .any(|l| l.contains(email) && l.contains("cold-outbound/intro")),
            "{email} not in Next up:\n{out}"
        );
    }
    assert!(out.contains("\nNeeds attention\n  (nothing)\n"), "{out}");
}

#[test]
fn status_of_an_empty_store_says_how_to_start() {
    let p = Project::shipped();
    let out = p.ok(&["status"]).stdout;
    assert!(
        out.contains("(no enrollments yet: drumbeat leads import FILE.csv --sequence ID)"),
        "{out}"
    );
    assert!(out.contains("Next up\n  (nothing scheduled)"), "{out}");
}

#[test]
fn leads_show_lists_fields_enrollments_and_timeline() {
    let p = enrolled();
    let run = p.ok(&["leads", "show", MARIA]);
    let out = &run.stdout;
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("maria.garcia@northwind.example  (lead "),
        "{out}"
    );
    for (key, value) in [
        ("name", "Maria Garcia"),
        ("company", "Northwind Traders"),
        ("title", "VP Sales"),
        ("timezone", "America/Chicago"),
        ("phone", "+1 312 555 0142"),
        ("account", "northwind.example"),
        ("source", "csv:sample-leads.csv"),
        ("interest", "pricing"),
    ] {
        assert!(
            lines.contains(&format!("  {key:<10} {value}").as_str()),
            "{key}: {out}"
        );
    }
    let at = |title: &str| {
        lines
            .iter()
            .position(|l| *l == title)
            .unwrap_or_else(|| panic!("no {title} section: {out}"))
    };
    let (enrollments, timeline) = (at("Enrollments"), at("Timeline"));
    assert!(enrollments < timeline);
    let enrollment = lines[enrollments + 1];
    assert!(
        enrollment.starts_with("  cold-outbound        active       next: intro at "),
        "{out}"
    );
    // The lead's arrival, then its enrollment.
    assert!(lines[timeline + 1].contains("  received "), "{out}");
    assert!(
        lines[timeline + 2].ends_with("  enrolled       cold-outbound"),
        "{out}"
    );

    // `lead show` is the same command.
    assert_eq!(p.ok(&["lead", "show", MARIA]).stdout, run.stdout);

    let v = p.ok(&["leads", "show", MARIA, "--json"]).json();
    assert_eq!(v["lead"]["email"], MARIA);
    assert_eq!(
        v["lead"]["custom"],
        serde_json::json!({"interest": "pricing"})
    );
    assert_eq!(v["enrollments"][0]["sequence_id"], "cold-outbound");
    assert_eq!(v["enrollments"][0]["state"], "active");
    assert_eq!(v["touches"], serde_json::json!([]));
    assert_eq!(v["events"][0]["kind"], "received");
    assert_eq!(v["events"][0]["data"]["source"], "csv:sample-leads.csv");
    assert_eq!(v["events"][1]["kind"], "enrolled");
    assert_eq!(v["events"][1]["sequence_id"], "cold-outbound");
}

#[test]
fn leads_show_of_an_unknown_address_fails() {
    let p = enrolled();
    let run = p.run(&["leads", "show", "Ghost@Acme.example"]);
    run.code(1);
    assert_eq!(run.stdout, "");
    assert_eq!(run.stderr, "drumbeat: no lead ghost@acme.example\n");
}

#[test]
fn enroll_enrolls_imported_leads_and_reports_each() {
    let p = Project::shipped();
    p.import_sample(&[]);
    let run = p.ok(&["enroll", "inbound-fast", MARIA, "li.wei@fabrikam.example"]);
    let lines = run.out_lines();
    assert_eq!(lines.len(), 2, "{}", run.stdout);
    assert!(
        lines[0].starts_with(
            "maria.garcia@northwind.example: enrolled in inbound-fast, first step due 20"
        ),
        "{}",
        run.stdout
    );
    assert!(lines[1].starts_with("li.wei@fabrikam.example: enrolled in inbound-fast"));
    let run = p.ok(&["enroll", "inbound-fast", MARIA]);
    assert_eq!(
        run.stdout,
        "maria.garcia@northwind.example: already in inbound-fast\n"
    );
    let v = p.ok(&["status", "--json"]).json();
    assert_eq!(states(&v, "inbound-fast")["active"], 2);
}

#[test]
fn enroll_of_an_address_not_imported_fails_but_enrolls_the_others() {
    let p = Project::shipped();
    p.import_sample(&[]);
    let run = p.run(&["enroll", "cold-outbound", "nobody@acme.example", MARIA]);
    run.code(1);
    assert_eq!(
        run.stderr,
        "nobody@acme.example: no such lead; import it first (drumbeat leads import FILE.csv)\n"
    );
    assert!(
        run.stdout
            .starts_with("maria.garcia@northwind.example: enrolled in cold-outbound"),
        "{}",
        run.stdout
    );
    let v = p.run(&["enroll", "cold-outbound", "nobody@acme.example", "--json"]);
    v.code(1);
    assert_eq!(
        v.json(),
        serde_json::json!([{"email": "nobody@acme.example", "result": "not-found"}])
    );
}

#[test]
fn enroll_of_a_suppressed_lead_does_not_enroll_it() {
    let p = Project::shipped();
    p.import_sample(&[]);
    p.ok(&["suppress", "@contoso.example"]);
    let state = p.store_state(&SAMPLE_LEADS);
    let run = p.ok(&["enroll", "cold-outbound", "tom.becker@contoso.example"]);
    assert_eq!(
        run.stdout,
        "tom.becker@contoso.example: suppressed, not enrolled\n"
    );
    assert_eq!(p.store_state(&SAMPLE_LEADS), state);
    let v = p
        .ok(&[
            "enroll",
            "cold-outbound",
            "tom.becker@contoso.example",
            "--json",
        ])
        .json();
    assert_eq!(
        v,
        serde_json::json!([{"email": "tom.becker@contoso.example", "result": "suppressed"}])
    );
}

#[test]
fn enroll_into_an_unknown_sequence_or_a_bad_address_is_a_usage_error() {
    let p = Project::shipped();
    p.import_sample(&[]);
    let state = p.store_state(&SAMPLE_LEADS);
    let run = p.run(&["enroll", "cold-outbund", MARIA]);
    run.code(2);
    assert_eq!(
        run.stderr,
        "drumbeat: unknown sequence \"cold-outbund\"; did you mean \"cold-outbound\"?\n"
    );
    let run = p.run(&["enroll", "cold-outbound", MARIA, "maria@"]);
    run.code(2);
    assert_eq!(
        run.stderr,
        "drumbeat: \"maria@\" is not a valid email address (missing domain)\n"
    );
    assert_eq!(p.store_state(&SAMPLE_LEADS), state);
}

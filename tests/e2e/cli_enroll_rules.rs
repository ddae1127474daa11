//! `[enrollment]` from the command line: `enroll` and `leads import --sequence` refuse a lead
//! active in another exclusive sequence, or over an account's cap, name the rule per lead and
//! count refusals per rule; `--force` enrolls anyway and the lead's timeline says so.

use serde_json::{Value, json};

use crate::support::Project;

const MARIA: &str = "maria.garcia@northwind.example";
const LI: &str = "li.wei@fabrikam.example";

fn enrolled() -> Project {
    let p = Project::shipped();
    p.import_sample(&["--sequence", "cold-outbound"]);
    p
}

#[test]
fn enroll_refuses_a_lead_active_in_another_sequence_and_force_enrolls_it_on_record() {
    let p = enrolled();
    let run = p.run(&["enroll", "inbound-fast", MARIA, LI, "--json"]);
    run.code(1);
    assert_eq!(
        run.json(),
        json!([
            {"email": MARIA, "result": "already-active", "active_in": "cold-outbound"},
            {"email": LI, "result": "already-active", "active_in": "cold-outbound"}
        ])
    );
    let run = p.run(&["enroll", "inbound-fast", MARIA]);
    run.code(1);
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr,
        format!(
            "{MARIA}: not enrolled (already-active): already active in cold-outbound; --force enrolls anyway\n"
        )
    );
    let run = p.ok(&["enroll", "inbound-fast", MARIA, "--force"]);
    assert!(
        run.stdout.starts_with(&format!(
            "{MARIA}: enrolled in inbound-fast by force (already active in cold-outbound), first step due 20"
        )),
        "{}",
        run.stdout
    );
    let shown = p.ok(&["leads", "show", MARIA, "--json"]).json();
    let forced: Vec<&Value> = shown["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["kind"] == "enrolled" && e["sequence_id"] == "inbound-fast")
        .collect();
    assert_eq!(forced.len(), 1, "{shown:#}");
    assert_eq!(forced[0]["data"]["forced"], "already-active", "{shown:#}");
    assert!(
        forced[0]["data"]["by"]
            .as_str()
            .is_some_and(|b| b.starts_with("cli enroll")),
        "{shown:#}"
    );
    let text = p.ok(&["leads", "show", MARIA]).stdout;
    assert!(
        text.contains("inbound-fast (forced over already-active by cli enroll"),
        "{text}"
    );
    // Li was refused: nothing changed for her.
    let li = p.ok(&["leads", "show", LI, "--json"]).json();
    assert_eq!(
        li["enrollments"].as_array().map(Vec::len),
        Some(1),
        "{li:#}"
    );
}

#[test]
fn a_sequence_or_a_config_that_is_not_exclusive_lets_leads_be_in_two() {
    let p = enrolled();
    p.edit(
        "sequences/inbound-fast.yaml",
        "id: inbound-fast\n",
        "id: inbound-fast\nexclusive: false\n",
    );
    let run = p.ok(&["enroll", "inbound-fast", MARIA]);
    assert!(
        run.stdout.contains("enrolled in inbound-fast, first step"),
        "{}",
        run.stdout
    );

    let p = enrolled();
    let config = std::fs::read_to_string(p.file("config.toml")).expect("config");
    p.write(
        "config.toml",
        format!("{config}\n[enrollment]\nexclusive = false\n"),
    );
    p.ok(&["enroll", "inbound-fast", MARIA]);
}

#[test]
fn import_counts_refusals_per_rule_and_names_their_rows() {
    let p = enrolled();
    let config = std::fs::read_to_string(p.file("config.toml")).expect("config");
    p.write(
        "config.toml",
        format!("{config}\n[enrollment]\nmax_active_per_account = 1\n"),
    );
    p.write(
        "more.csv",
        format!("email\nann@acme.example\nbob@acme.example\n{MARIA}\n"),
    );
    let run = p.ok(&[
        "leads",
        "import",
        "more.csv",
        "--sequence",
        "inbound-fast",
        "--json",
    ]);
    let v = run.json();
    assert_eq!(v["enrolled"], 1, "{v:#}");
    assert_eq!(
        v["refused"],
        json!({"account-cap": 1, "already-active": 1}),
        "{v:#}"
    );
    assert_eq!(
        v["refusals"],
        json!([
            {"file": "more.csv", "row": 3, "email": "bob@acme.example", "result": "account-cap",
             "account": "acme.example", "cap": 1,
             "reason": "acme.example is at its cap of leads in sequences (max_active_per_account = 1)"},
            {"file": "more.csv", "row": 4, "email": MARIA, "result": "already-active",
             "active_in": "cold-outbound", "reason": "already active in cold-outbound"}
        ]),
        "{v:#}"
    );
    assert!(v.get("forced").is_none(), "{v:#}");
    // For a person: the rows on stderr, the counts on stdout; refusals are no failure.
    let run = p.ok(&["leads", "import", "more.csv", "--sequence", "inbound-fast"]);
    assert_eq!(
        run.err_lines(),
        [
            "more.csv:3: bob@acme.example: not enrolled: acme.example is at its cap of leads in sequences (max_active_per_account = 1)",
            &format!("more.csv:4: {MARIA}: not enrolled: already active in cold-outbound"),
            "(--force enrolls them anyway)"
        ]
    );
    assert!(
        run.stdout.contains(
            "0 enrolled in inbound-fast (1 already in it, 0 suppressed, 1 account-cap, 1 already-active)"
        ),
        "{}",
        run.stdout
    );
    let v = p
        .ok(&[
            "leads",
            "import",
            "more.csv",
            "--sequence",
            "inbound-fast",
            "--force",
            "--json",
        ])
        .json();
    assert_eq!(
        (&v["enrolled"], &v["forced"]),
        (&json!(2), &json!(2)),
        "{v:#}"
    );
    assert!(v.get("refused").is_none(), "{v:#}");
}

#[test]
fn force_on_import_needs_a_sequence() {
    let p = Project::shipped();
    let run = p.run(&["leads", "import", "sample-leads.csv", "--force"]);
    run.code(2);
    assert!(run.stderr.contains("--sequence"), "{}", run.stderr);
}

#[test]
fn a_bad_exclusive_or_enrollment_table_is_named_where_it_is_and_changes_nothing() {
    let p = Project::shipped();
    p.edit(
        "sequences/inbound-fast.yaml",
        "id: inbound-fast\n",
        "id: inbound-fast\nexclusive: sometimes\n",
    );
    let run = p.problems(&["validate"]);
    assert!(
        run.stdout
            .contains("sequences/inbound-fast.yaml:4:12: exclusive: expected true or false"),
        "{}",
        run.stdout
    );
    let p = Project::shipped();
    let config = std::fs::read_to_string(p.file("config.toml")).expect("config");
    p.write(
        "config.toml",
        format!("{config}\n[enrollment]\nexclusiv = true\n"),
    );
    let run = p.run(&["enroll", "cold-outbound", MARIA]);
    run.code(1);
    assert!(run.stderr.starts_with("config.toml:"), "{}", run.stderr);
    assert!(
        run.stderr
            .contains(": unknown key `exclusiv`; did you mean `exclusive`?"),
        "{}",
        run.stderr
    );
    assert!(!p.file("data").exists(), "nothing was written");
}

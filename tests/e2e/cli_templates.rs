//! `drumbeat validate` on templates: syntax errors and undefined variables at their line in
//! the `.txt` file (front-matter lines counted), no-ask warnings that do not fail, and
//! `validate --leads FILE.csv`, which reports the rows whose emails would not render.

use crate::support::Project;

const INTRO: &str = "templates/cold/intro.txt";
const VALUE_ADD: &str = "templates/cold/value-add.txt";

#[test]
fn template_syntax_error_in_body_counts_front_matter_lines() {
    let p = Project::shipped();
    // Body line 3 of intro.txt is file line 6 (three lines of front matter above it).
    p.edit(
        INTRO,
        "I noticed {{ lead.company }} is hiring",
        "I noticed {{ lead.company | upper( }} is hiring",
    );
    let before = p.files();
    let run = p.run(&["validate"]);
    run.code(1);
    assert_eq!(
        run.stdout,
        "templates/cold/intro.txt:6:36: Found `}}` but expected identifier.\n\
         2 sequence(s), 11 template(s): 1 error(s), 0 warning(s)\n"
    );
    assert!(p.files() == before);
}

#[test]
fn template_syntax_error_in_subject_names_the_front_matter_line() {
    let p = Project::shipped();
    p.edit(
        "templates/cold/intro-short.txt",
        "subject: \"follow-ups at {{ lead.company }}\"",
        "subject: \"follow-ups at {{ lead.company }\"",
    );
    let before = p.files();
    let run = p.run(&["validate"]);
    run.code(1);
    // `subject: "` takes ten columns; the stray `}` is the 31st character of the subject.
    assert_eq!(
        run.stdout,
        "templates/cold/intro-short.txt:2:41: Found `}` but expected }}.\n\
         2 sequence(s), 11 template(s): 1 error(s), 0 warning(s)\n"
    );
    assert!(p.files() == before);
}

#[test]
fn unclosed_block_is_reported_in_its_template_file() {
    let p = Project::shipped();
    p.edit(
        "templates/cold/bump.txt",
        "Would it make sense",
        "{% if lead.title %}Would it make sense",
    );
    let run = p.run(&["validate"]);
    run.code(1);
    // Tera notices at the end of the file (five lines long) that the block never closed.
    assert_eq!(
        run.stdout,
        "templates/cold/bump.txt:6:1: Unexpected end of input\n\
         2 sequence(s), 11 template(s): 1 error(s), 0 warning(s)\n"
    );
}

#[test]
fn unknown_filters_and_tests_are_each_reported_at_their_place_with_a_suggestion() {
    let p = Project::shipped();
    p.edit(
        "templates/cold/bump.txt",
        "Would it make sense",
        "{{ lead.company | uppper }} {% if lead.title is evn %}x{% endif %} Would it make sense",
    );
    let before = p.files();
    let run = p.run(&["validate"]);
    run.code(1);
    let line = std::fs::read_to_string(p.file("templates/cold/bump.txt"))
        .expect("bump.txt")
        .lines()
        .position(|l| l.contains("uppper"))
        .expect("the edited line")
        + 1;
    assert_eq!(
        run.stdout,
        format!(
            "templates/cold/bump.txt:{line}:19: unknown filter `uppper` (did you mean `upper`?)\n\
             templates/cold/bump.txt:{line}:49: unknown test `evn`\n\
             2 sequence(s), 11 template(s): 2 error(s), 0 warning(s)\n"
        )
    );
    assert!(p.files() == before, "validate changed files");
}

#[test]
fn misspelled_lead_variable_is_reported_at_template_line_with_suggestion() {
    let p = Project::shipped();
    p.edit(
        INTRO,
        "{{ lead.first_name | default(value=\"there\") }}",
        "{{ lead.frist_name }}",
    );
    let before = p.files();
    let run = p.run(&["validate"]);
    run.code(1);
    assert_eq!(
        run.stdout,
        "templates/cold/intro.txt:4:39: lead.frist_name is not a variable templates can use\n  \
         hint: did you mean lead.first_name?\n\
         2 sequence(s), 11 template(s): 1 error(s), 0 warning(s)\n"
    );
    assert!(p.files() == before);
}

#[test]
fn misspelled_sender_variable_is_reported_with_the_sender_fields() {
    let p = Project::shipped();
    p.edit(
        "templates/inbound/check-in.txt",
        "{{ sender.first_name | default(value=sender.email) }}",
        "{{ sender.nmae }}",
    );
    let run = p.run(&["validate"]);
    run.code(1);
    assert_eq!(
        run.stdout,
        "templates/inbound/check-in.txt:3:11: sender.nmae is not a variable templates can use\n  \
         hint: sender fields: name, first_name, email, signature, mailbox\n\
         2 sequence(s), 11 template(s): 1 error(s), 0 warning(s)\n"
    );
}

#[test]
fn custom_column_variable_is_left_to_validate_leads() {
    let p = Project::shipped();
    p.edit(
        "templates/cold/bump.txt",
        "floating this back up",
        "about {{ lead.pain_point }}: floating this back up",
    );
    p.ok(&["validate"]);
    p.write(
        "leads.csv",
        "Email,First Name,Company,Pain Point\n\
         a@acme.example,Al,Acme,slow ramp\n\
         b@beta.example,Bea,Beta,\n",
    );
    let run = p.run(&[
        "validate",
        "--leads",
        "leads.csv",
        "--sequence",
        "cold-outbound",
    ]);
    run.code(1);
    assert_eq!(
        run.stdout,
        "leads.csv:3: step \"bump\": template \"templates/cold/bump.txt\" needs lead.pain_point, \
         which is empty or not a column of this lead (line 1)\n\
         2 sequence(s), 11 template(s): 1 error(s), 0 warning(s); leads.csv: 2 row(s), 1 would fail\n"
    );
}

#[test]
fn no_ask_step_whose_template_asks_gets_warnings_naming_the_lines() {
    let p = Project::shipped();
    // value-add.txt: three lines of front matter; "Thought it might help" is file line 13.
    p.edit(
        VALUE_ADD,
        "Thought it might help",
        "Worth a look?\nGrab a slot: https://calendly.com/ana/15min\nThought it might help",
    );
    let before = p.files();
    let run = p.run(&["validate"]);
    run.code(0);
    let hint =
        "  hint: a no-ask follow-up gives value (an insight, a resource) and asks for nothing";
    assert_eq!(
        run.stdout,
        format!(
            "templates/cold/value-add.txt:13: warning: step \"value-add\" of sequences/cold-outbound.yaml \
             is no_ask, but this line asks a question\n{hint}\n\
             templates/cold/value-add.txt:14: warning: step \"value-add\" of sequences/cold-outbound.yaml \
             is no_ask, but this line links to a calendar (calendly.com)\n{hint}\n\
             2 sequence(s), 11 template(s): 0 error(s), 2 warning(s)\n"
        )
    );
    assert!(p.files() == before);

    let v = p.ok(&["validate", "--json"]).json();
    assert_eq!(v["ok"], true);
    assert_eq!(v["errors"], 0);
    assert_eq!(v["warnings"], 2);
    let d = &v["diagnostics"][1];
    assert_eq!(d["severity"], "warning");
    assert_eq!(d["file"], VALUE_ADD);
    assert_eq!(d["line"], 14);
    assert_eq!(d["column"], serde_json::Value::Null);
}

#[test]
fn asking_template_on_a_step_without_no_ask_gets_no_warning() {
    let p = Project::shipped();
    // bump.txt asks "Would it make sense to talk…?"; its step is not no_ask.
    let run = p.ok(&["validate"]);
    assert!(!run.stdout.contains("warning:"), "{}", run.stdout);
}

#[test]
fn validate_leads_reports_only_the_row_missing_a_needed_field() {
    let p = Project::shipped();
    // Row 2 spans two lines (a quoted note); the row without a company is row 3.
    p.write(
        "leads.csv",
        "Email,First Name,Company,Notes\n\
         a@acme.example,Al,Acme,\"met at the fair,\nasked for pricing\"\n\
         b@beta.example,Bea,,\n\
         c@gamma.example,Cy,Gamma,\n",
    );
    let before = p.files();
    let run = p.run(&[
        "validate",
        "--leads",
        "leads.csv",
        "--sequence",
        "cold-outbound",
    ]);
    run.code(1);
    let needs = "template \"templates/cold/intro.txt\" needs lead.company, which is empty (line 2)";
    assert_eq!(
        run.stdout,
        format!(
            "leads.csv:3: step \"intro\": {needs}\n\
             2 sequence(s), 11 template(s): 1 error(s), 0 warning(s); leads.csv: 3 row(s), 1 would fail\n"
        )
    );
    assert!(p.files() == before, "validate --leads changed files");

    let v = p
        .run(&["validate", "--leads", "leads.csv", "--json"])
        .json();
    assert_eq!(v["ok"], false);
    assert_eq!(
        v["leads"],
        serde_json::json!({"file": "leads.csv", "rows": 3, "failed_rows": 1, "undeliverable_rows": 0})
    );
    let first = &v["diagnostics"][0];
    assert_eq!(first["file"], "leads.csv");
    assert_eq!(first["line"], 3);
    assert_eq!(
        first["message"],
        format!("cold-outbound: step \"intro\": {needs}")
    );
}

#[test]
fn validate_leads_with_complete_rows_passes() {
    let p = Project::shipped();
    let run = p.ok(&["validate", "--leads", "sample-leads.csv"]);
    assert_eq!(
        run.stdout,
        "2 sequence(s), 11 template(s): 0 error(s), 0 warning(s); sample-leads.csv: 5 row(s), 0 would fail\n"
    );
}

#[test]
fn validate_leads_reports_bad_rows_of_the_sheet_itself() {
    let p = Project::shipped();
    p.write(
        "leads.csv",
        "Email,First Name,Company\nnot-an-email,Al,Acme\nb@beta.example,Bea,Beta\n",
    );
    let run = p.run(&["validate", "--leads", "leads.csv"]);
    run.code(1);
    assert_eq!(
        run.stdout,
        "leads.csv:2: \"not-an-email\" is not a valid email address (missing \"@\")\n\
         2 sequence(s), 11 template(s): 1 error(s), 0 warning(s); leads.csv: 2 row(s), 1 would fail\n"
    );
}

#[test]
fn validate_leads_is_skipped_while_the_catalog_has_errors() {
    let p = Project::shipped();
    p.edit(
        "sequences/cold-outbound.yaml",
        "    wait: 3 business days",
        "    wiat: 3 business days",
    );
    let run = p.run(&["validate", "--leads", "sample-leads.csv"]);
    run.code(1);
    assert_eq!(
        run.stdout,
        "sequences/cold-outbound.yaml:23:5: unknown key `wiat`; did you mean `wait`?\n\
         sample-leads.csv: warning: leads not checked: fix the errors above first\n\
         1 sequence(s), 11 template(s): 1 error(s), 1 warning(s)\n"
    );
}

#[test]
fn unbalanced_spintax_is_a_validate_error_at_its_line_and_nothing_is_sent() {
    let p = Project::shipped();
    // The leads are in, their first emails due, before the template is broken.
    p.set_clock("2027-03-04T15:00:00Z");
    p.import_sample(&["--sequence", "cold-outbound"]);
    // The leads are in, their first emails due, before the template is broken.
    p.set_clock("2027-03-04T15:00:00Z");
    p.import_sample(&["--sequence", "cold-outbound"]);
    p.edit(
        "templates/cold/intro-short.txt",
        "{{ lead.first_name | default(value=\"Hi\") }},",
        "{{ \"{Hi|Hello\" | spin }} {{ lead.first_name | default(value=\"there\") }},",
    );
    let run = p.run(&["validate"]);
    run.code(1);
    assert!(
        run.stdout.starts_with("templates/cold/intro-short.txt:4:"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("the group opened at character 1 is never closed"),
        "{}",
        run.stdout
    );
    // The daemon refuses a catalog with errors: no prospect reads "{Hi|Hello".
    let run = p.run(&["run", "--once"]);
    run.code(1);
    let sent = std::fs::read_dir(p.file("data/outbox")).map_or(0, |d| d.count());
    assert_eq!(sent, 0, "{}", run.stderr);
}

#[test]
fn a_stray_closing_brace_in_spintax_is_refused_not_sent() {
    let p = Project::shipped();
    p.edit(
        "templates/cold/intro-short.txt",
        "Open to a quick call?",
        "{{ \"plain {x|y} text}\" | spin }}",
    );
    let run = p.run(&["validate"]);
    run.code(1);
    assert!(
        run.stdout.contains("templates/cold/intro-short.txt:9:")
            && run
                .stdout
                .contains("a \"}\" at character 17 closes no group"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_spintax_group_without_spin_is_an_error_not_sent_as_written() {
    let p = Project::shipped();
    p.edit(
        "templates/cold/intro-short.txt",
        "Open to a quick call?",
        "{Open to a quick call?|Worth a chat?}",
    );
    let run = p.run(&["validate"]);
    run.code(1);
    assert!(
        run.stdout.contains(
            "templates/cold/intro-short.txt:9: the email would show template syntax as written: \"{Open to a quick call?|Worth a chat?}\""
        ),
        "{}",
        run.stdout
    );
}

//! `drumbeat validate` on broken sequence files: each problem is reported as
//! `file:line:col: message` (with a hint where one helps), the exit code is 1, and nothing in
//! the project changes. Also: every problem is reported, not only the first, and `--json`.

use crate::support::{Project, Run};

const SEQ: &str = "sequences/cold-outbound.yaml";

/// Runs `validate` on a project, asserts exit 1, that stdout is exactly `expected` and that
/// no file changed.
#[track_caller]
fn validate_fails_with(p: &Project, expected: &str) -> Run {
    let before = p.files();
    let run = p.run(&["validate"]);
    run.code(1);
    assert_eq!(run.stdout, expected, "stderr:\n{}", run.stderr);
    assert_eq!(run.stderr, "", "validate prints its report on stdout");
    assert!(p.files() == before, "validate changed files");
    run
}

#[test]
fn shipped_project_is_valid() {
    let p = Project::shipped();
    let run = p.ok(&["validate"]);
    assert_eq!(
        run.stdout,
        "2 sequence(s), 11 template(s): 0 error(s), 0 warning(s)\n"
    );
}

#[test]
fn yaml_syntax_error_names_line_and_column() {
    let p = Project::shipped();
    p.edit(SEQ, "mailboxes: [ana]", "mailboxes: [ana");
    validate_fails_with(
        &p,
        "sequences/cold-outbound.yaml:7:7: illegal placement of ':' indicator\n\
         1 sequence(s), 11 template(s): 1 error(s), 0 warning(s)\n",
    );
}

#[test]
fn unknown_key_in_sequence_names_line_and_suggests_fix() {
    let p = Project::shipped();
    p.edit(
        SEQ,
        "    wait: 3 business days",
        "    wiat: 3 business days",
    );
    validate_fails_with(
        &p,
        "sequences/cold-outbound.yaml:23:5: unknown key `wiat`; did you mean `wait`?\n\
         1 sequence(s), 11 template(s): 1 error(s), 0 warning(s)\n",
    );
}

#[test]
fn unknown_key_far_from_any_names_the_expected_keys() {
    let p = Project::shipped();
    p.edit(
        SEQ,
        "    no_ask: true",
        "    no_ask: true\n    colour: blue",
    );
    validate_fails_with(
        &p,
        "sequences/cold-outbound.yaml:27:5: unknown key `colour` (expected one of id, wait, \
         template, thread, no_ask, variants, task, note, when, unless, goto, end, on_outcome, review)\n\
         1 sequence(s), 11 template(s): 1 error(s), 0 warning(s)\n",
    );
}

#[test]
fn wrong_type_names_line_and_column_of_the_value() {
    let p = Project::shipped();
    p.edit(SEQ, "    no_ask: true", "    no_ask: yes please");
    validate_fails_with(
        &p,
        "sequences/cold-outbound.yaml:26:13: no_ask: expected true or false\n\
         1 sequence(s), 11 template(s): 1 error(s), 0 warning(s)\n",
    );
}

#[test]
fn list_given_a_scalar_is_a_type_error_at_the_value() {
    let p = Project::shipped();
    p.edit(SEQ, "mailboxes: [ana]", "mailboxes: ana");
    validate_fails_with(
        &p,
        "sequences/cold-outbound.yaml:6:12: mailboxes: expected a list, e.g. [a, b] or lines starting with '- '\n\
         1 sequence(s), 11 template(s): 1 error(s), 0 warning(s)\n",
    );
}

#[test]
fn unknown_template_names_the_missing_file_and_suggests_the_closest() {
    let p = Project::shipped();
    p.edit(SEQ, "template: cold/bump", "template: cold/bumpp");
    validate_fails_with(
        &p,
        "sequences/cold-outbound.yaml:38:15: unknown template \"cold/bumpp\" (no templates/cold/bumpp.txt)\n  \
         hint: did you mean \"cold/bump\"?\n\
         2 sequence(s), 11 template(s): 1 error(s), 0 warning(s)\n",
    );
}

#[test]
fn duplicate_step_id_names_the_second_one() {
    let p = Project::shipped();
    p.edit(SEQ, "  - id: bump", "  - id: call");
    validate_fails_with(
        &p,
        "sequences/cold-outbound.yaml:36:9: duplicate step id \"call\"\n  \
         hint: step ids are stable names; give each step its own\n\
         1 sequence(s), 11 template(s): 1 error(s), 0 warning(s)\n",
    );
}

#[test]
fn thread_true_on_first_email_step_is_refused_at_the_thread_key() {
    let p = Project::shipped();
    p.edit(SEQ, "    wait: 0\n", "    wait: 0\n    thread: true\n");
    validate_fails_with(
        &p,
        "sequences/cold-outbound.yaml:18:13: step \"intro\" has thread: true but no earlier email step to reply to\n  \
         hint: the first email of a sequence starts the thread; remove `thread: true`\n\
         1 sequence(s), 11 template(s): 1 error(s), 0 warning(s)\n",
    );
}

#[test]
fn unknown_wait_unit_names_step_and_suggests_the_unit() {
    let p = Project::shipped();
    p.edit(
        SEQ,
        "    wait: 2 business days\n    task: call",
        "    wait: 3 bussiness days\n    task: call",
    );
    validate_fails_with(
        &p,
        "sequences/cold-outbound.yaml:29:11: step \"call\" waits \"3 bussiness days\": unknown unit \
         \"bussiness days\" (expected minutes, hours, days, business days, weeks); did you mean \"business days\"?\n\
         1 sequence(s), 11 template(s): 1 error(s), 0 warning(s)\n",
    );
}

#[test]
fn send_window_without_days_is_refused() {
    let p = Project::shipped();
    p.edit(SEQ, "days: [mon-fri]", "days: []");
    validate_fails_with(
        &p,
        "sequences/cold-outbound.yaml:8:9: window days: the send window lists no days \
         (write e.g. [\"mon-fri\"] or [\"mon\", \"wed\", \"fri\"])\n\
         1 sequence(s), 11 template(s): 1 error(s), 0 warning(s)\n",
    );
}

#[test]
fn send_window_with_reversed_hours_is_refused() {
    let p = Project::shipped();
    p.edit(SEQ, "hours: \"09:00-16:30\"", "hours: \"16:30-09:00\"");
    validate_fails_with(
        &p,
        "sequences/cold-outbound.yaml:9:10: window hours \"16:30-09:00\": send hours \"16:30-09:00\" do not end \
         after they start; a window cannot run across midnight, so keep both times within one day (e.g. \"09:00-17:00\")\n\
         1 sequence(s), 11 template(s): 1 error(s), 0 warning(s)\n",
    );
}

#[test]
fn invalid_time_zone_in_window_names_line_and_suggests_the_zone() {
    let p = Project::shipped();
    p.edit(
        SEQ,
        "timezone: America/New_York ",
        "timezone: America/New_Yrok ",
    );
    validate_fails_with(
        &p,
        "sequences/cold-outbound.yaml:10:13: \"America/New_Yrok\" is not an IANA time zone \
         (e.g. Europe/Berlin, America/New_York); did you mean \"America/New_York\"?\n\
         1 sequence(s), 11 template(s): 1 error(s), 0 warning(s)\n",
    );
}

#[test]
fn every_problem_is_reported_not_only_the_first() {
    let p = Project::shipped();
    p.edit(
        SEQ,
        "    wait: 3 business days",
        "    wiat: 3 business days",
    );
    p.edit(
        "sequences/inbound-fast.yaml",
        "    wait: 1 week",
        "    wait: 1 fortnight",
    );
    p.edit(
        "templates/inbound/check-in.txt",
        "Happy to work",
        "{{ lead.company | upper( }} Happy to work",
    );
    let run = validate_fails_with(
        &p,
        "sequences/cold-outbound.yaml:23:5: unknown key `wiat`; did you mean `wait`?\n\
         sequences/inbound-fast.yaml:62:11: step \"close-the-loop\" waits \"1 fortnight\": unknown unit \
         \"fortnight\" (expected minutes, hours, days, business days, weeks)\n\
         templates/inbound/check-in.txt:1:116: Found `}}` but expected identifier.\n\
         0 sequence(s), 11 template(s): 3 error(s), 0 warning(s)\n",
    );
    assert_eq!(run.out_lines().len(), 4);
}

#[test]
fn errors_exit_1_and_json_lists_every_diagnostic_with_position() {
    let p = Project::shipped();
    p.edit(
        SEQ,
        "    wait: 3 business days",
        "    wiat: 3 business days",
    );
    p.edit(SEQ, "template: cold/bump", "template: cold/bumpp");
    p.edit(
        "sequences/inbound-fast.yaml",
        "  hours: \"07:30-20:00\"",
        "  hours: \"20:00-07:30\"",
    );
    let before = p.files();
    let run = p.run(&["validate", "--json"]);
    run.code(1);
    assert!(p.files() == before);
    let v = run.json();
    assert_eq!(v["ok"], false);
    assert_eq!(v["errors"], 2);
    assert_eq!(v["warnings"], 0);
    let diags = v["diagnostics"].as_array().expect("diagnostics is a list");
    assert_eq!(diags.len(), 2, "{diags:#?}");
    let first = &diags[0];
    assert_eq!(first["severity"], "error");
    assert_eq!(first["file"], "sequences/cold-outbound.yaml");
    assert_eq!(first["line"], 23);
    assert_eq!(first["column"], 5);
    assert_eq!(first["message"], "unknown key `wiat`; did you mean `wait`?");
    let second = &diags[1];
    assert_eq!(second["file"], "sequences/inbound-fast.yaml");
    assert_eq!(second["line"], 7);
    assert_eq!(second["column"], 10);
    assert!(
        second["message"]
            .as_str()
            .expect("message is text")
            .starts_with("window hours \"20:00-07:30\": send hours"),
        "{second}"
    );
    // The unknown template of the first file is not reported: that file did not parse.
    assert!(!run.stdout.contains("bumpp"));
}

#[test]
fn json_of_a_valid_project_says_ok_with_counts() {
    let p = Project::shipped();
    let v = p.ok(&["validate", "--json"]).json();
    assert_eq!(
        v,
        serde_json::json!({
            "ok": true,
            "sequences": 2,
            "templates": 11,
            "errors": 0,
            "warnings": 0,
            "diagnostics": []
        })
    );
}

#[test]
fn sequence_id_used_twice_names_the_other_file() {
    let p = Project::shipped();
    let text = std::fs::read_to_string(p.file(SEQ)).expect("read sequence");
    p.write("sequences/copy.yaml", text);
    validate_fails_with(
        &p,
        "sequences/copy.yaml:1: sequence id \"cold-outbound\" is already used by sequences/cold-outbound.yaml\n\
         2 sequence(s), 11 template(s): 1 error(s), 0 warning(s)\n",
    );
}

#[test]
fn error_inside_a_block_task_note_names_its_file_line_and_column() {
    let p = Project::shipped();
    // The note is a `|` block indented six columns; this is its second line, file line 33.
    p.edit(
        SEQ,
        "mention the benchmark you emailed about",
        "mention the {{ x | upper( }} benchmark",
    );
    validate_fails_with(
        &p,
        "sequences/cold-outbound.yaml:33:73: Found `}}` but expected identifier.\n\
         2 sequence(s), 11 template(s): 1 error(s), 0 warning(s)\n",
    );
}

#[test]
fn error_inside_an_inline_task_note_names_its_column_in_the_file() {
    let p = Project::shipped();
    p.edit(
        "sequences/inbound-fast.yaml",
        "    note: Last call attempt. Leave a voicemail pointing to the case study email.",
        "    note: \"Last {{ x | upper( }} call attempt.\"",
    );
    validate_fails_with(
        &p,
        "sequences/inbound-fast.yaml:54:31: Found `}}` but expected identifier.\n\
         2 sequence(s), 11 template(s): 1 error(s), 0 warning(s)\n",
    );
}

#[test]
fn validate_with_errors_leaves_an_existing_store_unchanged() {
    let p = Project::shipped();
    p.import_sample(&["--sequence", "cold-outbound"]);
    p.edit(
        SEQ,
        "    wait: 3 business days",
        "    wiat: 3 business days",
    );
    let state = p.store_state(&crate::support::SAMPLE_LEADS);
    validate_fails_with(
        &p,
        "sequences/cold-outbound.yaml:23:5: unknown key `wiat`; did you mean `wait`?\n\
         1 sequence(s), 11 template(s): 1 error(s), 0 warning(s)\n",
    );
    assert_eq!(p.store_state(&crate::support::SAMPLE_LEADS), state);
}

/// Every problem of a sequence file, each at its place and in file order (what `validate`
/// reports for the file), through the library's parser; and a good file read in full.
#[test]
fn every_sequence_problem_is_reported_at_its_place() {
    let config = drumbeat::config::Config::parse(
        "[[mailbox]]\nname = \"ana\"\nfrom = \"ana@example.com\"\noutbox = \"o\"\n",
        "config.toml",
        std::path::Path::new("config.toml"),
        std::path::Path::new("/srv"),
    )
    .expect("a config");
    let parse = |text: &str| drumbeat::catalog::sequence::parse(text, "s.yaml", &config);

    let (seq, refs, problems) = parse(BAD_SEQUENCE);
    assert!(seq.is_none());
    let refs: Vec<String> = refs
        .iter()
        .map(|r| format!("{}@{}:{}", r.name, r.line, r.column))
        .collect();
    assert_eq!(refs, ["cold/intro@11:15", "a@30:19", "b@33:19"]);
    let problems: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert_eq!(problems, BAD_SEQUENCE_PROBLEMS);

    let (seq, refs, problems) = parse(GOOD_SEQUENCE);
    assert!(problems.is_empty(), "{problems:#?}");
    assert_eq!(refs.len(), 3);
    assert_eq!(
        format!("{:?}", seq.expect("a sequence")),
        GOOD_SEQUENCE_READ
    );
}

const BAD_SEQUENCE: &str = "id: Bad_ID!
mailboxes: [anna, zed, ana]
window:
  days: []
  hours: \"25:00-26:00\"
  timezone: Europe/Berln
  holidays: [\"2026-13-01\", \"2026-12-25\"]
steps:
  - id: intro
    wait: 3 bussiness days
    template: cold/intro
    thread: true
    note: hello
  - id: intro
    task: call
    thread: true
    no_ask: true
  - id: both
    task: call
    template: x
  - id: none
  - id: v
    template: a
    variants:
      - id: a
        template: a
  - id: w
    variants:
      - id: A
        template: a
        weight: 0
      - id: A
        template: b
  - id: e
    variants: []
";

const BAD_SEQUENCE_PROBLEMS: [&str; 21] = [
    "s.yaml:1:5: sequence id \"Bad_ID!\" must be lowercase letters, digits and '-' (e.g. cold-outbound)",
    "s.yaml:2:13: unknown mailbox \"anna\"\n  hint: did you mean \"ana\"?",
    "s.yaml:2:19: unknown mailbox \"zed\"\n  hint: config.toml defines: ana",
    "s.yaml:4:9: window days: the send window lists no days (write e.g. [\"mon-fri\"] or [\"mon\", \"wed\", \"fri\"])",
    "s.yaml:5:10: window hours \"25:00-26:00\": send hours \"25:00-26:00\": \"25:00\" is not a time of day (write 24-hour times such as \"09:00-17:30\")",
    "s.yaml:6:13: \"Europe/Berln\" is not an IANA time zone (e.g. Europe/Berlin, America/New_York); did you mean \"Europe/Berlin\"?",
    "s.yaml:7:14: holiday \"2026-13-01\" is not a date like 2026-12-25",
    "s.yaml:10:11: step \"intro\" waits \"3 bussiness days\": unknown unit \"bussiness days\" (expected minutes, hours, days, business days, weeks); did you mean \"business days\"?",
    "s.yaml:13:11: step \"intro\": note is only for task steps",
    "s.yaml:12:13: step \"intro\" has thread: true but no earlier email step to reply to\n  hint: the first email of a sequence starts the thread; remove `thread: true`",
    "s.yaml:14:9: duplicate step id \"intro\"\n  hint: step ids are stable names; give each step its own",
    "s.yaml:16:13: step \"intro\": thread is only for email steps",
    "s.yaml:14:9: step \"intro\": no_ask is only for email steps",
    "s.yaml:18:9: step \"both\" has both task and template; a step is an email or a task",
    "s.yaml:21:9: step \"none\" has neither template nor task\n  hint: add `template: NAME` for an email or `task: call|linkedin|custom` for a manual step",
    "s.yaml:23:15: step \"v\" has both template and variants; put each template under variants",
    "s.yaml:29:13: variant id \"A\" must be lowercase letters, digits and '-'",
    "s.yaml:29:13: step \"w\": variant \"A\" has weight 0; remove it instead",
    "s.yaml:32:13: variant id \"A\" must be lowercase letters, digits and '-'",
    "s.yaml:32:13: step \"w\": duplicate variant id \"A\"",
    "s.yaml:35:15: step \"e\" has an empty variants list",
];

const GOOD_SEQUENCE: &str = "id: good
name: Good
mailboxes: [ana]
window:
  days: [mon-fri]
  hours: \"09:00-17:00\"
  timezone: Europe/Berlin
  holidays: [\"2026-12-25\"]
steps:
  - id: intro
    template: ./templates/cold/intro.txt
  - id: call
    wait: 2 days
    task: call
    note: |
      Call {{ lead.first_name }}.
  - id: bump
    wait: 3 business days
    thread: true
    no_ask: true
    variants:
      - id: a
        template: cold/bump
        weight: 2
      - id: b
        template: cold/bump-b
";

const GOOD_SEQUENCE_READ: &str = "Sequence { id: \"good\", name: \"Good\", file: \"s.yaml\", mailboxes: [\"ana\"], window: SendWindow { days: Weekdays(31), start: 09:00:00, end: 17:00:00, timezone: Some(Europe/Berlin), holidays: {2026-12-25}, countries: [], lead_holidays: false }, stop: StopRules { on_reply: StopLead, on_auto_reply: Pause }, steps: [Step { id: \"intro\", wait: Wait { amount: 0, unit: Minutes }, kind: Email(EmailStep { variants: [Variant { id: \"main\", template: \"cold/intro\", weight: 1 }], thread: false, no_ask: false, review: None }), line: 10, flow: StepFlow { guard: None, then: Next, on_outcome: [] } }, Step { id: \"call\", wait: Wait { amount: 2, unit: Days }, kind: Task(TaskStep { kind: Call, note: Some(\"Call {{ lead.first_name }}.\\n\"), note_line: 16, note_column: 7, note_indent: 6 }), line: 12, flow: StepFlow { guard: None, then: Next, on_outcome: [] } }, Step { id: \"bump\", wait: Wait { amount: 3, unit: BusinessDays }, kind: Email(EmailStep { variants: [Variant { id: \"a\", template: \"cold/bump\", weight: 2 }, Variant { id: \"b\", template: \"cold/bump-b\", weight: 1 }], thread: true, no_ask: true, review: None }), line: 17, flow: StepFlow { guard: None, then: Next, on_outcome: [] } }], tracking: SequenceTracking { clicks: None, opens: None }, unsubscribe_footer: false, exclusive: None }";

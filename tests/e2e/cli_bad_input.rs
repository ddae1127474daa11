//! `drumbeat leads import` on bad spreadsheets: a file that cannot be used fails with exit 1
//! and changes nothing (not even creating the store); a bad row is reported as `FILE:ROW:
//! reason` (the row a spreadsheet shows, header = row 1) while the good rows import.

use crate::support::{Project, SAMPLE_LEADS};

/// A project whose store already holds the sample leads.
fn project_with_store() -> Project {
    let p = Project::shipped();
    p.import_sample(&["--sequence", "cold-outbound"]);
    p
}

#[test]
fn csv_without_email_column_fails_naming_the_columns_and_creates_nothing() {
    let p = Project::shipped();
    p.write("people.csv", "Name,Company\nAl Smith,Acme\n");
    let before = p.files();
    let run = p.run(&["leads", "import", "people.csv"]);
    run.code(1);
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr,
        "drumbeat: people.csv:1: no email column (columns: Name, Company); name one \"email\" or pass --map \"COLUMN=email\"\n"
    );
    assert!(p.files() == before, "a failed import left files behind");
}

#[test]
fn csv_without_email_column_leaves_an_existing_store_unchanged() {
    let p = project_with_store();
    p.write("people.csv", "Name,Company\nAl Smith,Acme\n");
    let files = p.files();
    let state = p.store_state(&SAMPLE_LEADS);
    p.run(&[
        "leads",
        "import",
        "people.csv",
        "--sequence",
        "cold-outbound",
    ])
    .code(1);
    assert!(p.files() == files);
    assert_eq!(p.store_state(&SAMPLE_LEADS), state);
}

#[test]
fn missing_file_fails_with_its_name() {
    let p = Project::shipped();
    let before = p.files();
    let run = p.run(&["leads", "import", "nope.csv"]);
    run.code(1);
    assert_eq!(
        run.stderr,
        "drumbeat: nope.csv: cannot open: No such file or directory (os error 2)\n"
    );
    assert!(p.files() == before);
}

#[test]
fn row_with_bad_email_is_reported_with_row_number_and_good_rows_import() {
    let p = Project::shipped();
    p.write(
        "leads.csv",
        "Email,First Name\na@acme.example,Al\nnot-an-email,Bo\nc@gamma.example,Cy\n",
    );
    let run = p.problems(&["leads", "import", "leads.csv"]);
    assert_eq!(
        run.stderr,
        "leads.csv:3: \"not-an-email\" is not a valid email address (missing \"@\")\n"
    );
    assert_eq!(
        run.stdout,
        "imported leads.csv: 2 new, 0 updated, 0 unchanged, 1 skipped\n"
    );
    p.ok(&["leads", "show", "a@acme.example"]);
    p.ok(&["leads", "show", "c@gamma.example"]);

    let v = p
        .problems(&["leads", "import", "leads.csv", "--json"])
        .json();
    assert_eq!(
        v["errors"],
        serde_json::json!([{
            "file": "leads.csv",
            "row": 3,
            "reason": "\"not-an-email\" is not a valid email address (missing \"@\")"
        }])
    );
}

#[test]
fn ragged_rows_are_reported_and_the_others_import() {
    let p = Project::shipped();
    p.write(
        "leads.csv",
        "Email,First Name,Company\n\
         a@acme.example,Al,Acme\n\
         b@beta.example,Bea\n\
         c@gamma.example,Cy,Gamma,extra\n\
         d@delta.example,Di,Delta\n",
    );
    let run = p.problems(&["leads", "import", "leads.csv"]);
    assert_eq!(
        run.stderr,
        "leads.csv:3: row has 2 cells but the header has 3\n\
         leads.csv:4: row has 4 cells but the header has 3\n"
    );
    assert_eq!(
        run.stdout,
        "imported leads.csv: 2 new, 0 updated, 0 unchanged, 2 skipped\n"
    );
    p.ok(&["leads", "show", "a@acme.example"]);
    p.ok(&["leads", "show", "d@delta.example"]);
    p.run(&["leads", "show", "b@beta.example"]).code(1);
    p.run(&["leads", "show", "c@gamma.example"]).code(1);
}

#[test]
fn invalid_utf8_row_is_reported_with_encoding_hint_and_imports_with_windows_1252() {
    let p = Project::shipped();
    // "François" in windows-1252: 0xE7 is "ç", not valid UTF-8.
    p.write(
        "legacy.csv",
        b"Email,First Name,Company\nf@acme.example,Fran\xe7ois,Acme\ng@acme.example,Gus,Acme\n",
    );
    let run = p.problems(&["leads", "import", "legacy.csv"]);
    assert_eq!(
        run.stderr,
        "legacy.csv:2: not valid UTF-8 (byte 0xE7 in column \"First Name\"); if the file came \
         from Excel, re-export as \"CSV UTF-8\" or pass --encoding windows-1252\n"
    );
    assert_eq!(
        run.stdout,
        "imported legacy.csv: 1 new, 0 updated, 0 unchanged, 1 skipped\n"
    );
    p.run(&["leads", "show", "f@acme.example"]).code(1);

    let run = p.ok(&[
        "leads",
        "import",
        "legacy.csv",
        "--encoding",
        "windows-1252",
    ]);
    assert_eq!(run.stderr, "");
    assert_eq!(
        run.stdout,
        "imported legacy.csv: 1 new, 0 updated, 1 unchanged, 0 skipped\n"
    );
    let lead = p.ok(&["leads", "show", "f@acme.example", "--json"]).json();
    assert_eq!(lead["lead"]["first_name"], "François");
}

#[test]
fn unknown_encoding_is_a_usage_error() {
    let p = Project::shipped();
    let before = p.files();
    let run = p.run(&[
        "leads",
        "import",
        "sample-leads.csv",
        "--encoding",
        "klingon",
    ]);
    run.code(2);
    assert!(
        run.stderr.contains("unknown encoding \"klingon\""),
        "{}",
        run.stderr
    );
    assert!(p.files() == before);
}

#[test]
fn quoted_newlines_keep_later_row_numbers_right() {
    let p = Project::shipped();
    // Row 2 spans three lines, row 4 three lines with a blank one inside its quotes.
    p.write(
        "leads.csv",
        "Email,First Name,Notes\n\
         a@acme.example,Al,\"line1\nline2\nline3\"\n\
         bad-email,Bo,x\n\
         c@gamma.example,Cy,\"multi\n\nline\"\n\
         also bad,Di,y\n",
    );
    let run = p.problems(&["leads", "import", "leads.csv"]);
    assert_eq!(
        run.stderr,
        "leads.csv:3: \"bad-email\" is not a valid email address (missing \"@\")\n\
         leads.csv:5: \"also bad\" is not a valid email address (missing \"@\")\n"
    );
    assert_eq!(
        run.stdout,
        "imported leads.csv: 2 new, 0 updated, 0 unchanged, 2 skipped\n"
    );
    let lead = p.ok(&["leads", "show", "c@gamma.example", "--json"]).json();
    assert_eq!(lead["lead"]["custom"]["notes"], "multi\n\nline");
}

#[test]
fn bad_time_zone_cell_is_reported_with_a_suggestion() {
    let p = Project::shipped();
    p.write(
        "leads.csv",
        "Email,Time Zone\na@acme.example,Europe/Berln\nb@beta.example,Europe/Berlin\n",
    );
    let run = p.problems(&["leads", "import", "leads.csv"]);
    assert_eq!(
        run.stderr,
        "leads.csv:2: timezone \"Europe/Berln\" is not an IANA time zone (e.g. Europe/Berlin); \
         did you mean \"Europe/Berlin\"?\n"
    );
    assert_eq!(
        run.stdout,
        "imported leads.csv: 1 new, 0 updated, 0 unchanged, 1 skipped\n"
    );
}

#[test]
fn bad_rows_are_reported_but_do_not_touch_stored_leads() {
    let p = project_with_store();
    p.write(
        "leads.csv",
        "Email,First Name,Company\nnot-an-email,Maria,Evil Corp\nmaria.garcia@northwind.example,Maria\n",
    );
    let before = p.store_state(&SAMPLE_LEADS);
    let run = p.problems(&["leads", "import", "leads.csv"]);
    assert_eq!(
        run.stderr,
        "leads.csv:2: \"not-an-email\" is not a valid email address (missing \"@\")\n\
         leads.csv:3: row has 2 cells but the header has 3\n"
    );
    assert_eq!(
        run.stdout,
        "imported leads.csv: 0 new, 0 updated, 0 unchanged, 2 skipped\n"
    );
    assert_eq!(p.store_state(&SAMPLE_LEADS), before);
}

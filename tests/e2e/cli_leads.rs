//! `drumbeat leads import` on good spreadsheets: Excel's `;` exports with a BOM, imports that
//! are idempotent, updates that never erase, dry runs that change nothing, enrolling with
//! `--sequence`, owners, and the `--json` summary.

use crate::support::{Project, SAMPLE_LEADS};

#[test]
fn semicolon_excel_export_with_bom_imports_every_field() {
    let p = Project::shipped();
    p.write(
        "excel.csv",
        "\u{feff}E-Mail;Vorname;Nachname;Firma\r\n\
         x@acme.example;Jürgen;Weiß;Acme GmbH\r\n\
         y@beta.example;Ute;Lang;\"Beta; Co\"\r\n",
    );
    let run = p.ok(&["leads", "import", "excel.csv"]);
    assert_eq!(run.stderr, "");
    assert_eq!(
        run.stdout,
        "imported excel.csv: 2 new, 0 updated, 0 unchanged, 0 skipped\n"
    );
    let x = p.ok(&["leads", "show", "x@acme.example", "--json"]).json();
    assert_eq!(x["lead"]["first_name"], "Jürgen");
    assert_eq!(x["lead"]["last_name"], "Weiß");
    assert_eq!(x["lead"]["company"], "Acme GmbH");
    assert_eq!(x["lead"]["custom"], serde_json::json!({}));
    let y = p.ok(&["leads", "show", "y@beta.example", "--json"]).json();
    assert_eq!(y["lead"]["company"], "Beta; Co");
}

#[test]
fn importing_the_same_file_twice_changes_nothing() {
    let p = Project::shipped();
    let run = p.import_sample(&[]);
    assert_eq!(
        run.stdout,
        "imported sample-leads.csv: 5 new, 0 updated, 0 unchanged, 0 skipped\n"
    );
    let files = p.files();
    let state = p.store_state(&SAMPLE_LEADS);
    let run = p.import_sample(&[]);
    assert_eq!(
        run.stdout,
        "imported sample-leads.csv: 0 new, 0 updated, 5 unchanged, 0 skipped\n"
    );
    assert_eq!(run.stderr, "");
    assert_eq!(p.store_state(&SAMPLE_LEADS), state);
    assert!(
        p.files() == files,
        "an import of unchanged rows wrote to the store"
    );
}

#[test]
fn changed_row_updates_the_lead_and_empty_cells_keep_stored_values() {
    let p = Project::shipped();
    p.import_sample(&[]);
    let before = p
        .ok(&["leads", "show", "maria.garcia@northwind.example", "--json"])
        .json();
    p.write(
        "update.csv",
        "Email,First Name,Company,Title,Phone,Interest\n\
         Maria.Garcia@Northwind.example,Maria,Northwind Traders Inc,,,\n",
    );
    let run = p.ok(&["leads", "import", "update.csv"]);
    assert_eq!(
        run.stdout,
        "imported update.csv: 0 new, 1 updated, 0 unchanged, 0 skipped\n"
    );
    let after = p
        .ok(&["leads", "show", "maria.garcia@northwind.example", "--json"])
        .json();
    assert_eq!(after["lead"]["company"], "Northwind Traders Inc");
    for kept in [
        "first_name",
        "last_name",
        "title",
        "timezone",
        "phone",
        "custom",
        "created_at",
        "id",
    ] {
        assert_eq!(after["lead"][kept], before["lead"][kept], "{kept} changed");
    }
    assert_eq!(after["lead"]["title"], "VP Sales");
    assert_eq!(after["lead"]["custom"]["interest"], "pricing");
    // The other leads are untouched.
    let tom = p
        .ok(&["leads", "show", "tom.becker@contoso.example", "--json"])
        .json();
    assert_eq!(tom["lead"]["updated_at"], tom["lead"]["created_at"]);
}

#[test]
fn dry_run_reports_counts_and_changes_nothing() {
    let p = Project::shipped();
    p.write(
        "first.csv",
        "Email,First Name,Company\nmaria.garcia@northwind.example,Maria,Northwind Traders\n\
         tom.becker@contoso.example,Tom,Contoso\n",
    );
    p.ok(&["leads", "import", "first.csv"]);
    let files = p.files();
    let state = p.store_state(&SAMPLE_LEADS);

    let run = p.import_sample(&["--dry-run", "--sequence", "cold-outbound"]);
    assert_eq!(
        run.stdout,
        "would import sample-leads.csv: 3 new, 2 updated, 0 unchanged, 0 skipped; 5 enrolled in \
         cold-outbound (0 already in it, 0 suppressed) (dry run: nothing changed)\n"
    );
    assert!(p.files() == files, "a dry run wrote to the store");
    assert_eq!(p.store_state(&SAMPLE_LEADS), state);
    let run = p.run(&["leads", "show", "li.wei@fabrikam.example"]);
    run.code(1);
    assert_eq!(run.stderr, "drumbeat: no lead li.wei@fabrikam.example\n");

    let v = p
        .import_sample(&["--dry-run", "--sequence", "cold-outbound", "--json"])
        .json();
    assert_eq!(v["dry_run"], true);
    assert_eq!(v["new"], 3);
    assert_eq!(v["enrolled"], 5);
    assert!(p.files() == files);

    // The real import then does what the dry run said.
    let run = p.import_sample(&["--sequence", "cold-outbound"]);
    assert_eq!(
        run.stdout,
        "imported sample-leads.csv: 3 new, 2 updated, 0 unchanged, 0 skipped; 5 enrolled in \
         cold-outbound (0 already in it, 0 suppressed)\n"
    );
    assert!(
        p.files() != files,
        "the snapshot sees what a real import writes"
    );
}

#[test]
fn dry_run_counts_suppressed_new_leads_as_suppressed() {
    let p = Project::shipped();
    p.write("first.csv", "Email\nmaria.garcia@northwind.example\n");
    p.ok(&[
        "leads",
        "import",
        "first.csv",
        "--sequence",
        "cold-outbound",
    ]);
    p.ok(&["suppress", "@gmail.com"]);
    let state = p.store_state(&SAMPLE_LEADS);
    let run = p.import_sample(&["--dry-run", "--sequence", "cold-outbound"]);
    assert_eq!(
        run.stdout,
        "would import sample-leads.csv: 4 new, 1 updated, 0 unchanged, 0 skipped; 3 enrolled in \
         cold-outbound (1 already in it, 1 suppressed) (dry run: nothing changed)\n"
    );
    assert_eq!(p.store_state(&SAMPLE_LEADS), state);
}

#[test]
fn sequence_flag_enrolls_and_a_second_run_says_already_in_it() {
    let p = Project::shipped();
    let run = p.import_sample(&["--sequence", "cold-outbound"]);
    assert_eq!(
        run.stdout,
        "imported sample-leads.csv: 5 new, 0 updated, 0 unchanged, 0 skipped; 5 enrolled in \
         cold-outbound (0 already in it, 0 suppressed)\n"
    );
    let state = p.store_state(&SAMPLE_LEADS);
    let run = p.import_sample(&["--sequence", "cold-outbound"]);
    assert_eq!(
        run.stdout,
        "imported sample-leads.csv: 0 new, 0 updated, 5 unchanged, 0 skipped; 0 enrolled in \
         cold-outbound (5 already in it, 0 suppressed)\n"
    );
    assert_eq!(p.store_state(&SAMPLE_LEADS), state);
    let lead = p
        .ok(&["leads", "show", "li.wei@fabrikam.example", "--json"])
        .json();
    let enrollments = lead["enrollments"].as_array().expect("a list");
    assert_eq!(enrollments.len(), 1);
    assert_eq!(enrollments[0]["sequence_id"], "cold-outbound");
    assert_eq!(enrollments[0]["state"], "active");
    assert_eq!(enrollments[0]["next_step_id"], "intro");
}

#[test]
fn unknown_sequence_is_a_usage_error_with_suggestion_and_imports_nothing() {
    let p = Project::shipped();
    let before = p.files();
    let run = p.run(&[
        "leads",
        "import",
        "sample-leads.csv",
        "--sequence",
        "cold-outbund",
    ]);
    run.code(2);
    assert_eq!(
        run.stderr,
        "drumbeat: unknown sequence \"cold-outbund\"; did you mean \"cold-outbound\"?\n"
    );
    assert!(p.files() == before);
}

#[test]
fn owner_that_is_no_mailbox_is_a_usage_error_and_changes_nothing() {
    let p = Project::shipped();
    p.write("first.csv", "Email\nmaria.garcia@northwind.example\n");
    p.ok(&["leads", "import", "first.csv"]);
    let files = p.files();
    let state = p.store_state(&SAMPLE_LEADS);
    let run = p.run(&["leads", "import", "sample-leads.csv", "--owner", "bob"]);
    run.code(2);
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr,
        "drumbeat: --owner \"bob\" is not a mailbox in config.toml (mailboxes: ana)\n"
    );
    assert!(p.files() == files);
    assert_eq!(p.store_state(&SAMPLE_LEADS), state);
}

#[test]
fn owner_flag_sets_the_owner_of_every_lead() {
    let p = Project::shipped();
    p.import_sample(&["--owner", "ana"]);
    for email in SAMPLE_LEADS {
        let lead = p.ok(&["leads", "show", email, "--json"]).json();
        assert_eq!(lead["lead"]["owner"], "ana", "{email}");
    }
}

#[test]
fn owner_column_naming_no_mailbox_is_kept_with_a_warning() {
    let p = Project::shipped();
    p.write(
        "leads.csv",
        "Email,Owner\na@acme.example,Ana Lopez\nb@beta.example,Zed\n",
    );
    let run = p.ok(&["leads", "import", "leads.csv"]);
    assert_eq!(
        run.stderr,
        "warning: owner \"Zed\" is not a mailbox in config.toml; kept as written\n"
    );
    // The display name of a mailbox resolves to its name.
    let a = p.ok(&["leads", "show", "a@acme.example", "--json"]).json();
    assert_eq!(a["lead"]["owner"], "ana");
    let b = p.ok(&["leads", "show", "b@beta.example", "--json"]).json();
    assert_eq!(b["lead"]["owner"], "Zed");
}

#[test]
fn json_summary_has_every_count() {
    let p = Project::shipped();
    p.write(
        "leads.csv",
        "Email,First Name\nmaria.garcia@northwind.example,Maria\nnope,X\nnew@acme.example,New\n",
    );
    p.import_sample(&["--sequence", "cold-outbound"]);
    p.ok(&["suppress", "new@acme.example"]);
    let run = p.problems(&[
        "leads",
        "import",
        "leads.csv",
        "--sequence",
        "cold-outbound",
        "--json",
    ]);
    assert_eq!(run.stderr, "");
    assert_eq!(
        run.json(),
        serde_json::json!({
            "rows": 3,
            "new": 1,
            "updated": 0,
            "unchanged": 1,
            "skipped": 1,
            "invalid": 1,
            "enrolled": 0,
            "already_enrolled": 1,
            "suppressed": 1,
            "errors": [{
                "file": "leads.csv",
                "row": 3,
                "reason": "\"nope\" is not a valid email address (missing \"@\")"
            }],
            "unknown_owners": [],
            "dry_run": false
        })
    );
}

#[test]
fn a_stray_quote_is_named_where_it_opened_not_as_a_cell_count() {
    let p = Project::shipped();
    let mut csv = String::from("Email,First Name,Company\nann@acme.example,\"Ann,Acme\n");
    for i in 0..20_000 {
        csv.push_str(&format!("lead{i}@corp{i}.example,Lead,Corp {i}\n"));
    }
    p.write("stray.csv", csv);
    let run = p.problems(&["leads", "import", "stray.csv"]);
    assert!(
        run.stderr.contains(
            "stray.csv:2: a quote (\") opens a cell at line 2, column 18 and is never closed, \
             so the 20000 lines after it, to the end of the file, became part of this row"
        ),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("cells but the header"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_lead_at_a_disposable_domain_is_flagged_in_lead_show_and_validate() {
    let p = Project::shipped();
    p.write(
        "leads.csv",
        "Email,First Name,Company\nthrowaway@mailinator.com,Tom,Acme\nreal@acme.example,Ria,Acme\n",
    );
    p.ok(&["leads", "import", "leads.csv"]);
    let v = p
        .ok(&["lead", "show", "throwaway@mailinator.com", "--json"])
        .json();
    assert_eq!(v["disposable_domain"], true, "{v:#}");
    let human = p.ok(&["lead", "show", "throwaway@mailinator.com"]);
    assert!(human.stdout.contains("disposable"), "{}", human.stdout);
    let v = p
        .ok(&["lead", "show", "real@acme.example", "--json"])
        .json();
    assert_eq!(v["disposable_domain"], false, "{v:#}");
    // validate --leads warns about the row, naming it; a warning does not fail.
    let run = p.ok(&["validate", "--leads", "leads.csv"]);
    assert!(
        run.stdout.contains(
            "leads.csv:2: warning: mailinator.com is a disposable (throwaway) mail domain"
        ),
        "{}",
        run.stdout
    );
}

//! The command line itself: usage errors exit 2 and change nothing, `--help` works for every
//! command, and `completions` prints a script for each shell.

use crate::support::{Project, SAMPLE_LEADS};

/// Every command and subcommand, as typed.
const COMMANDS: &[&[&str]] = &[
    &["validate"],
    &["leads"],
    &["leads", "import"],
    &["leads", "show"],
    &["enroll"],
    &["preview"],
    &["status"],
    &["pause"],
    &["resume"],
    &["stop"],
    &["suppress"],
    &["unsuppress"],
    &["suppressions"],
    &["forget"],
    &["run"],
    &["tasks"],
    &["task"],
    &["task", "done"],
    &["task", "skip"],
    &["resolve"],
    &["drafts"],
    &["draft"],
    &["draft", "show"],
    &["draft", "edit"],
    &["draft", "send"],
    &["draft", "skip"],
    &["auth"],
    &["mailbox"],
    &["mailbox", "list"],
    &["mailbox", "resume"],
    &["replies"],
    &["reply"],
    &["reply", "handled"],
    &["report"],
    &["digest"],
    &["doctor"],
    &["classify"],
    &["completions"],
];

#[test]
fn help_works_for_every_command() {
    let p = Project::shipped();
    for command in COMMANDS {
        let mut args = command.to_vec();
        args.push("--help");
        let run = p.ok(&args);
        let usage = format!("Usage: drumbeat {}", command.join(" "));
        assert!(run.stdout.contains(&usage), "{args:?}:\n{}", run.stdout);
        assert_eq!(run.stderr, "", "{args:?}");
    }
    // `lead` is an alias of `leads`.
    assert!(
        p.ok(&["lead", "show", "--help"])
            .stdout
            .contains("Usage: drumbeat leads show")
    );
    // `help COMMAND` says the same as `COMMAND --help`.
    assert_eq!(
        p.ok(&["help", "preview"]).stdout,
        p.ok(&["preview", "--help"]).stdout
    );
}

#[test]
fn top_level_help_lists_exactly_the_tested_commands() {
    let p = Project::shipped();
    let out = p.ok(&["--help"]).stdout;
    let listed: Vec<&str> = out
        .split("Commands:\n")
        .nth(1)
        .expect("a Commands section")
        .lines()
        .take_while(|l| !l.is_empty())
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    let mut expected: Vec<&str> = COMMANDS
        .iter()
        .filter(|c| c.len() == 1)
        .map(|c| c[0])
        .collect();
    expected.push("help");
    assert_eq!(listed, expected, "{out}");
}

#[test]
fn version_prints_the_crate_version() {
    let p = Project::shipped();
    let run = p.ok(&["--version"]);
    assert_eq!(
        run.stdout,
        format!("drumbeat {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn unknown_flag_is_a_usage_error_and_changes_nothing() {
    let p = Project::shipped();
    p.import_sample(&["--sequence", "cold-outbound"]);
    let files = p.files();
    let state = p.store_state(&SAMPLE_LEADS);
    for args in [
        &["status", "--bogus"][..],
        &[
            "leads",
            "import",
            "sample-leads.csv",
            "--sequnce",
            "cold-outbound",
        ],
        &["validate", "--lead", "sample-leads.csv"],
        &["frobnicate"],
        &["enroll", "cold-outbound"],
    ] {
        let run = p.run(args);
        run.code(2);
        assert_eq!(run.stdout, "", "{args:?}");
        assert!(
            run.stderr.starts_with("error: ") && run.stderr.contains("Usage: drumbeat"),
            "{args:?}:\n{}",
            run.stderr
        );
    }
    // A command group without its subcommand shows its help, as a usage error.
    let run = p.run(&["leads"]);
    run.code(2);
    assert!(
        run.stderr
            .contains("Usage: drumbeat leads [OPTIONS] <COMMAND>"),
        "{}",
        run.stderr
    );
    let run = p.run(&["status", "--bogus"]);
    assert!(
        run.stderr
            .starts_with("error: unexpected argument '--bogus' found\n"),
        "{}",
        run.stderr
    );
    let run = p.run(&["leads", "import", "sample-leads.csv", "--sequnce", "x"]);
    assert!(
        run.stderr
            .contains("tip: a similar argument exists: '--sequence'"),
        "{}",
        run.stderr
    );
    assert_eq!(p.store_state(&SAMPLE_LEADS), state);
    assert!(p.files() == files);
}

#[test]
fn bad_email_argument_is_a_usage_error_and_changes_nothing() {
    let p = Project::shipped();
    p.import_sample(&["--sequence", "cold-outbound"]);
    let files = p.files();
    let state = p.store_state(&SAMPLE_LEADS);
    for (args, message) in [
        (
            &["pause", "maria"][..],
            "\"maria\" is not a valid email address (missing \"@\")",
        ),
        (
            &["resume", "a@@b.example"][..],
            "\"a@@b.example\" is not a valid email address (more than one \"@\"; put one address per row)",
        ),
        (
            &["stop", "bob@localhost"][..],
            "\"bob@localhost\" is not a valid email address (domain \"localhost\" has no dot)",
        ),
        (
            &["leads", "show", "not an email"][..],
            "\"not an email\" is not a valid email address (missing \"@\")",
        ),
        (
            &["preview", "cold-outbound", "--lead", "maria"][..],
            "\"maria\" is not a valid email address (missing \"@\")",
        ),
        (
            &["suppress", "maria"][..],
            "\"maria\" is not a valid email address (missing \"@\")",
        ),
        (
            &["forget", "maria", "--yes"][..],
            "\"maria\" is not a valid email address (missing \"@\")",
        ),
    ] {
        let run = p.run(args);
        run.code(2);
        assert_eq!(run.stdout, "", "{args:?}");
        assert_eq!(run.stderr, format!("drumbeat: {message}\n"), "{args:?}");
    }
    let run = p.run(&["suppress", "@"]);
    run.code(2);
    assert_eq!(p.store_state(&SAMPLE_LEADS), state);
    assert!(p.files() == files);
}

#[test]
fn completions_print_a_script_for_each_shell() {
    let p = Project::shipped();
    for (shell, marker) in [
        ("bash", "complete -F _drumbeat"),
        ("zsh", "#compdef drumbeat"),
        ("fish", "complete -c drumbeat"),
    ] {
        let run = p.ok(&["completions", shell]);
        assert!(run.stdout.contains(marker), "{shell}:\n{}", run.stdout);
        for command in ["preview", "suppressions", "forget"] {
            assert!(run.stdout.contains(command), "{shell} lacks {command}");
        }
        assert_eq!(run.stderr, "");
    }
    assert!(!p.file("data").exists(), "completions touched the store");
    let run = p.run(&["completions", "tcsh"]);
    run.code(2);
    assert!(
        run.stderr.contains("invalid value 'tcsh'"),
        "{}",
        run.stderr
    );
}

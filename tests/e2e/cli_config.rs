//! config.toml: broken files are reported at `config.toml:line:col`, a secret written inline
//! is refused without ever being printed, and `--config PATH` / `DRUMBEAT_CONFIG` choose the
//! file (and with it where the store lives).

use crate::support::{Project, Run};

const SECRET: &str = "hunter2-s3cret-VALUE";

/// `validate` must fail with exactly these diagnostics (then the summary of an unusable
/// config) and change nothing.
#[track_caller]
fn config_fails_with(p: &Project, diagnostics: &str) -> Run {
    let before = p.files();
    let run = p.run(&["validate"]);
    run.code(1);
    assert_eq!(
        run.stdout,
        format!("{diagnostics}0 sequence(s), 0 template(s): 1 error(s), 0 warning(s)\n")
    );
    assert!(p.files() == before, "validate changed files");
    run
}

#[test]
fn toml_syntax_error_names_line_and_column() {
    let p = Project::shipped();
    p.edit(
        "config.toml",
        "timezone = \"America/New_York\"",
        "timezone = \"America/New_York",
    );
    config_fails_with(
        &p,
        "config.toml:13:29: invalid basic string, expected `\"`\n",
    );
}

#[test]
fn unknown_config_key_names_line_and_suggests_fix() {
    let p = Project::shipped();
    p.edit(
        "config.toml",
        "timezone = \"America/New_York\"",
        "timezon = \"America/New_York\"",
    );
    config_fails_with(
        &p,
        "config.toml:13:1: unknown key `timezon`; did you mean `timezone`?\n",
    );
}

#[test]
fn unknown_mailbox_key_suggests_fix() {
    let p = Project::shipped();
    let line = line_of(&p, "daily_cap = 40");
    p.edit("config.toml", "daily_cap = 40", "daly_cap = 40");
    config_fails_with(
        &p,
        &format!("config.toml:{line}:1: unknown key `daly_cap`; did you mean `daily_cap`?\n"),
    );
}

#[test]
fn wrong_type_in_config_names_the_value() {
    let p = Project::shipped();
    let line = line_of(&p, "daily_cap = 40");
    p.edit("config.toml", "daily_cap = 40", "daily_cap = \"forty\"");
    config_fails_with(
        &p,
        &format!("config.toml:{line}:13: invalid type: string \"forty\", expected u32\n"),
    );
}

/// The 1-based line of the shipped config.toml that starts with `text`.
fn line_of(p: &Project, text: &str) -> usize {
    std::fs::read_to_string(p.file("config.toml"))
        .expect("config.toml")
        .lines()
        .position(|l| l.starts_with(text))
        .expect("the line is in the shipped config.toml")
        + 1
}

#[test]
fn invalid_time_zone_in_config_names_line_and_suggests_the_zone() {
    let p = Project::shipped();
    p.edit(
        "config.toml",
        "timezone = \"America/New_York\"",
        "timezone = \"Amerika/New_York\"",
    );
    config_fails_with(
        &p,
        "config.toml:13:12: \"Amerika/New_York\" is not an IANA time zone (e.g. Europe/Berlin, \
         America/New_York); did you mean \"America/New_York\"?\n",
    );
}

#[test]
fn inline_password_is_refused_and_never_printed() {
    let p = Project::shipped();
    let lines = std::fs::read_to_string(p.file("config.toml"))
        .expect("read config")
        .lines()
        .count();
    let mut config = std::fs::read_to_string(p.file("config.toml")).expect("read config");
    config.push_str(&format!(
        "\n[[mailbox]]\nname = \"ben\"\nfrom = \"ben@example.com\"\n[mailbox.smtp]\nhost = \"smtp.example.com\"\npassword = \"{SECRET}\"\n"
    ));
    p.write("config.toml", config);
    let password_line = lines + 7;
    let run = config_fails_with(
        &p,
        &format!(
            "config.toml:{password_line}:12: secrets are not written inline in config.toml; use \
             {{ env = \"VAR\" }}, {{ file = \"path\" }} or {{ credential = \"name\" }} (systemd LoadCredential)\n"
        ),
    );
    assert!(!run.stdout.contains(SECRET) && !run.stderr.contains(SECRET));

    for args in [
        &["validate", "--json"][..],
        &["status"],
        &["leads", "import", "sample-leads.csv"],
    ] {
        let run = p.run(args);
        run.code(1);
        assert!(
            !run.stdout.contains(SECRET) && !run.stderr.contains(SECRET),
            "{args:?} printed the secret:\n{}{}",
            run.stdout,
            run.stderr
        );
        assert!(
            run.stdout.contains("secrets are not written inline")
                || run.stderr.contains("secrets are not written inline"),
            "{args:?}: {}{}",
            run.stdout,
            run.stderr
        );
    }
    assert!(
        !p.file("data").exists(),
        "a command ran with a broken config"
    );
}

#[test]
fn an_unset_smtp_password_is_an_error_naming_it_without_its_value() {
    let p = Project::shipped();
    p.edit(
        "config.toml",
        "outbox = \"data/outbox\"",
        "[mailbox.smtp]\nhost = \"smtp.example.com\"\npassword = { env = \"DRUMBEAT_TEST_NO_SUCH_VAR\" }",
    );
    let run = p.run(&["validate"]);
    run.code(1);
    assert_eq!(
        run.stdout,
        "config.toml: mailbox \"ana\": smtp password: environment variable \
         DRUMBEAT_TEST_NO_SUCH_VAR is not set\n  \
         hint: drumbeat run refuses to start without it: set it, or remove the setting\n\
         2 sequence(s), 11 template(s): 1 error(s), 0 warning(s)\n"
    );
    // The daemon refuses to start, naming the secret, and touches nothing.
    let run = p.run(&["run", "--once"]);
    run.code(1);
    assert_eq!(
        run.stderr.trim_end(),
        "drumbeat: cannot start: mailbox \"ana\": smtp password: environment variable \
         DRUMBEAT_TEST_NO_SUCH_VAR is not set"
    );
    assert!(!p.file("data").exists(), "the daemon started");
}

#[test]
fn an_unset_imap_password_keeps_the_daemon_from_writing_blind() {
    let p = Project::shipped();
    // Leads in, first emails due: a daemon that started would send them.
    p.set_clock("2027-03-04T15:00:00Z");
    p.import_sample(&["--sequence", "cold-outbound"]);
    p.edit(
        "config.toml",
        "outbox = \"data/outbox\"",
        "outbox = \"data/outbox\"\n[mailbox.imap]\nhost = \"127.0.0.1\"\nusername = \"ana\"\n\
         password = { env = \"DRUMBEAT_TEST_NO_SUCH_VAR\" }",
    );
    let run = p.run(&["validate"]);
    run.code(1);
    assert!(
        run.stdout.contains(
            "mailbox \"ana\": imap password: environment variable DRUMBEAT_TEST_NO_SUCH_VAR is not set"
        ),
        "{}",
        run.stdout
    );
    let run = p.run(&["run", "--once"]);
    run.code(1);
    assert!(
        run.stderr
            .contains("cannot start: mailbox \"ana\": imap password"),
        "{}",
        run.stderr
    );
    let sent = std::fs::read_dir(p.file("data/outbox")).map_or(0, |d| d.count());
    assert_eq!(sent, 0);
}

#[test]
fn unreadable_http_and_provider_secrets_are_warnings_naming_the_key() {
    let p = Project::shipped();
    p.edit(
        "config.toml",
        "base_url = \"http://127.0.0.1:8025\"",
        "base_url = \"http://127.0.0.1:8025\"\napi_token = { file = \"no-such-token\" }\n\n\
         [providers.mailgun]\nsigning_key = { env = \"DRUMBEAT_TEST_NO_SUCH_VAR\" }",
    );
    let run = p.run(&["validate"]);
    run.code(0);
    assert!(
        run.stdout.contains(
            "config.toml: warning: providers.mailgun.signing_key: environment variable \
             DRUMBEAT_TEST_NO_SUCH_VAR is not set\n"
        ),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("config.toml: warning: http.api_token: cannot read secret file"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("0 error(s), 2 warning(s)"),
        "{}",
        run.stdout
    );
}

#[test]
fn every_command_refuses_a_broken_config_with_its_position() {
    let p = Project::shipped();
    p.edit(
        "config.toml",
        "timezone = \"America/New_York\"",
        "timezon = \"America/New_York\"",
    );
    let before = p.files();
    for args in [
        &["status"][..],
        &["leads", "import", "sample-leads.csv"],
        &[
            "preview",
            "cold-outbound",
            "--lead",
            "maria.garcia@northwind.example",
        ],
        &["suppressions"],
    ] {
        let run = p.run(args);
        run.code(1);
        assert_eq!(
            run.stderr, "config.toml:13:1: unknown key `timezon`; did you mean `timezone`?\n",
            "{args:?}"
        );
        assert_eq!(run.stdout, "", "{args:?}");
    }
    assert!(p.files() == before);
}

/// A project whose config is `sub/other.toml` (sequences, templates, store relative to it).
fn project_with_config_elsewhere() -> Project {
    let p = Project::shipped();
    std::fs::create_dir(p.file("sub")).expect("mkdir sub");
    for name in ["sequences", "templates"] {
        std::fs::rename(p.file(name), p.file(&format!("sub/{name}"))).expect("move folder");
    }
    std::fs::rename(p.file("config.toml"), p.file("sub/other.toml")).expect("move config");
    p
}

#[test]
fn missing_default_config_says_how_to_choose_one() {
    let p = project_with_config_elsewhere();
    let run = p.run(&["validate"]);
    run.code(1);
    assert_eq!(
        run.stdout,
        "config.toml: cannot read the config: No such file or directory (os error 2)\n  \
         hint: pass --config PATH or set DRUMBEAT_CONFIG\n\
         0 sequence(s), 0 template(s): 1 error(s), 0 warning(s)\n"
    );
}

#[test]
fn config_flag_selects_the_file_and_paths_are_relative_to_it() {
    let p = project_with_config_elsewhere();
    let run = p.ok(&["validate", "--config", "sub/other.toml"]);
    assert_eq!(
        run.stdout,
        "2 sequence(s), 11 template(s): 0 error(s), 0 warning(s)\n"
    );
    // A global flag: it may come before the command too.
    p.ok(&[
        "--config",
        "sub/other.toml",
        "leads",
        "import",
        "sample-leads.csv",
    ]);
    assert!(p.file("sub/data/drumbeat.db").is_file());
    assert!(!p.file("data").exists());
    p.ok(&[
        "leads",
        "show",
        "maria.garcia@northwind.example",
        "--config",
        "sub/other.toml",
    ]);
}

#[test]
fn drumbeat_config_variable_selects_the_file() {
    let p = project_with_config_elsewhere();
    let run = p
        .cmd(&["validate"])
        .env("DRUMBEAT_CONFIG", "sub/other.toml")
        .output()
        .expect("run drumbeat");
    assert_eq!(run.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&run.stdout),
        "2 sequence(s), 11 template(s): 0 error(s), 0 warning(s)\n"
    );
    let run = p
        .cmd(&["leads", "import", "sample-leads.csv"])
        .env("DRUMBEAT_CONFIG", "sub/other.toml")
        .output()
        .expect("run drumbeat");
    assert_eq!(run.status.code(), Some(0));
    assert!(p.file("sub/data/drumbeat.db").is_file());
}

#[test]
fn config_flag_wins_over_the_variable() {
    let p = project_with_config_elsewhere();
    p.write("broken.toml", "stor = 1\n");
    let run = p
        .cmd(&["validate", "--config", "sub/other.toml"])
        .env("DRUMBEAT_CONFIG", "broken.toml")
        .output()
        .expect("run drumbeat");
    assert_eq!(run.status.code(), Some(0));
    let run = p
        .cmd(&["validate"])
        .env("DRUMBEAT_CONFIG", "broken.toml")
        .output()
        .expect("run drumbeat");
    assert_eq!(run.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&run.stdout)
            .starts_with("broken.toml:1:1: unknown key `stor`; did you mean `store`?\n")
    );
}

#[test]
fn a_connection_cap_out_of_range_names_its_line() {
    let p = Project::shipped();
    p.edit("config.toml", "[http]\n", "[http]\nmax_connections = 3\n");
    let line = line_of(&p, "max_connections = 3");
    config_fails_with(
        &p,
        &format!(
            "config.toml:{line}:19: http.max_connections = 3 is out of range (16 to 1000000; default 4096)\n"
        ),
    );
}

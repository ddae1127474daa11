//! Never write blind (DESIGN.md invariant 7), end to end on a real Dovecot and a real SMTP
//! sink: while a watched mailbox's inbox cannot be read (its IMAP port closed, its password
//! missing), no follow-up goes out from it, `status` says why, and first emails still go; a
//! reply that arrived meanwhile stops its lead as soon as the inbox is read again.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::Project;
use crate::support::daemon::{at, run_once, smtp_project};
use crate::support::imap::{Imap, fresh_user, imap_server};
use crate::support::sink::Sink;

/// Thursday 2026-03-05, 10:00 in New York: the intro goes out.
const T0: &str = "2026-03-05T15:00:00Z";
/// When the follow-up is due (2 business days later; Monday 9 March is a holiday).
const T1: &str = "2026-03-10T15:00:00Z";
/// A little later the same day.
const T2: &str = "2026-03-10T15:05:00Z";

struct Setup {
    p: Project,
    sink: Sink,
    imap: Imap,
    server: (String, u16),
    user: String,
}

/// The `[mailbox.imap]` table of the project's one mailbox: `user` at `port`, its password
/// read from the environment variable `password_env`.
fn imap_table(host: &str, port: u16, user: &str, password_env: &str) -> String {
    format!(
        "[mailbox.imap]\nhost = \"{host}\"\nport = {port}\nsecurity = \"none\"\nusername = \"{user}\"\n\
         password = {{ env = \"{password_env}\" }}\n"
    )
}

/// Points the mailbox's IMAP at `port` with the password in `password_env`.
fn watch(s: &Setup, port: u16, password_env: &str) {
    let config = std::fs::read_to_string(s.p.file("config.toml")).expect("config");
    let base = config
        .split("[mailbox.imap]")
        .next()
        .expect("split gives a first part")
        .to_string();
    let table = imap_table(&s.server.0, port, &s.user, password_env);
    s.p.write("config.toml", format!("{base}{table}"));
}

/// A loopback port nobody listens on: connecting is refused at once.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback listener");
    l.local_addr().expect("its address").port()
}

/// A project watching a fresh Dovecot user, with Ann imported and her intro sent at T0.
fn setup(test: &str) -> Option<Setup> {
    let server = imap_server(test)?;
    let sink = Sink::start(test, &[])?;
    let user = fresh_user(test);
    let p = smtp_project(
        &sink,
        "[sending]\njitter = \"0\"\ndomain_hourly_limit = 0\n",
    );
    let imap = Imap::login(&server, &user);
    let s = Setup {
        p,
        sink,
        imap,
        server,
        user,
    };
    watch(&s, s.server.1, "DRUMBEAT_TEST_IMAP_PASSWORD");
    import(&s.p, "ann@acme.example", "2026-03-05T14:00:00Z");
    let (r, _) = run_once(&s.p, T0);
    assert_eq!(r["sent"], 1, "{r:#}");
    s.sink.wait_for(1, Duration::from_secs(5));
    Some(s)
}

fn import(p: &Project, email: &str, now: &str) {
    p.write(
        "leads.csv",
        format!("Email,First Name,Company,Time Zone\n{email},Ann,Acme,America/New_York\n"),
    );
    at(
        p,
        now,
        &["leads", "import", "leads.csv", "--sequence", "e2e"],
    );
}

/// Ann's answer to her intro, as her mail server would put it in the rep's INBOX.
fn answer(s: &mut Setup) {
    let intro = &s.sink.messages()[0];
    let mid = intro.header("Message-ID").expect("Message-ID");
    let reply = format!(
        "From: Ann Lead <ann@acme.example>\r\nTo: Rita Rep <rep@example.com>\r\nSubject: Re: intro\r\n\
         Date: Fri, 06 Mar 2026 16:12:09 +0100\r\nMessage-ID: <blind-reply@mail.example>\r\n\
         In-Reply-To: {mid}\r\nReferences: {mid}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         Thanks Rita, can we talk Tuesday at 3?\r\n"
    );
    s.imap.append("INBOX", reply.as_bytes());
}

fn state(p: &Project, email: &str, now: &str) -> String {
    let lead = at(p, now, &["lead", "show", email, "--json"]).json();
    lead["enrollments"][0]["state"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// The mailbox's entry in `status --json`.
fn mailbox_status(p: &Project, now: &str) -> serde_json::Value {
    let status = at(p, now, &["status", "--json"]).json();
    status["mailboxes"][0].clone()
}

#[test]
fn follow_ups_wait_while_the_inbox_cannot_be_read_and_first_emails_still_go() {
    let test = "follow_ups_wait_while_the_inbox_cannot_be_read_and_first_emails_still_go";
    let Some(s) = setup(test) else {
        return;
    };
    watch(&s, closed_port(), "DRUMBEAT_TEST_IMAP_PASSWORD");
    // A new lead arrives: her first email is not held.
    import(&s.p, "cy@other.example", T1);

    let run = at(&s.p, T1, &["run", "--once", "--json"]);
    let r = run.json();
    assert_eq!(r["sent"], 1, "only Cy's intro: {r:#}");
    assert_eq!(r["held"], 1, "Ann's follow-up waits: {r:#}");
    assert_eq!(r["failed"], 0, "{r:#}");
    assert_eq!(r["inbox_unread"][0]["mailbox"], "rep", "{r:#}");
    assert!(run.stderr.contains("could not be read"), "{}", run.stderr);
    let got = s.sink.wait_for(2, Duration::from_secs(5));
    assert_eq!(got.len(), 2);
    let to: Vec<&str> = got.iter().map(|m| m.rcpt.as_str()).collect();
    assert!(to.contains(&"cy@other.example"), "{to:?}");
    assert_eq!(state(&s.p, "ann@acme.example", T1), "active");

    let m = mailbox_status(&s.p, T1);
    let wait = &m["inbox_wait"];
    let reason = wait["reason"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with("waiting for the inbox: IMAP unreachable since 2026-03-10 15:00 UTC")
            && reason.contains("refused"),
        "{m:#}"
    );
    assert_eq!(wait["steps_held"], 1, "{m:#}");
    let text = at(&s.p, T1, &["status"]).stdout;
    assert!(
        text.contains("waiting for the inbox: IMAP unreachable since 2026-03-10 15:00 UTC"),
        "{text}"
    );
    assert!(text.contains("1 follow-up(s) held"), "{text}");
    // The plain summary says so too.
    let again = at(&s.p, T2, &["run", "--once"]);
    assert!(
        again.stdout.contains("waiting for the inbox 1"),
        "{}",
        again.stdout
    );
    assert_eq!(s.sink.messages().len(), 2, "nothing else went out");
}

#[test]
fn a_reply_that_arrived_while_the_inbox_was_unreachable_stops_the_lead_once_it_is_read() {
    let test =
        "a_reply_that_arrived_while_the_inbox_was_unreachable_stops_the_lead_once_it_is_read";
    let Some(mut s) = setup(test) else {
        return;
    };
    watch(&s, closed_port(), "DRUMBEAT_TEST_IMAP_PASSWORD");
    answer(&mut s);
    let (r, _) = run_once(&s.p, T1);
    assert_eq!(
        (r["sent"].as_u64(), r["held"].as_u64()),
        (Some(0), Some(1)),
        "{r:#}"
    );
    assert_eq!(state(&s.p, "ann@acme.example", T1), "active");

    // The inbox is reachable again: the reply is read before anything is claimed.
    watch(&s, s.server.1, "DRUMBEAT_TEST_IMAP_PASSWORD");
    let (r, _) = run_once(&s.p, T2);
    assert_eq!(
        (r["sent"].as_u64(), r["held"].as_u64()),
        (Some(0), Some(0)),
        "{r:#}"
    );
    assert!(r.get("inbox_unread").is_none(), "{r:#}");
    assert_eq!(state(&s.p, "ann@acme.example", T2), "replied");
    assert!(mailbox_status(&s.p, T2).get("inbox_wait").is_none());
    assert_eq!(s.sink.messages().len(), 1, "only the intro ever went out");
}

#[test]
fn with_the_imap_secret_missing_run_refuses_to_start_and_nothing_goes_out_blind() {
    let test = "with_the_imap_secret_missing_run_refuses_to_start_and_nothing_goes_out_blind";
    let Some(mut s) = setup(test) else {
        return;
    };
    let unset = "DRUMBEAT_BLIND_TEST_UNSET_PASSWORD";
    watch(&s, s.server.1, unset);
    answer(&mut s);
    for args in [&["run", "--once"][..], &["run"][..], &["validate"][..]] {
        let out =
            s.p.cmd(args)
                .env_remove(unset)
                .env("DRUMBEAT_NOW", T1)
                .output()
                .expect("run drumbeat");
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_ne!(out.status.code(), Some(0), "{args:?}: {all}");
        assert!(
            all.contains("imap password") && all.contains(unset),
            "{args:?} names the secret: {all}"
        );
        assert!(!all.contains("login refused"), "{args:?}: {all}");
    }
    assert_eq!(state(&s.p, "ann@acme.example", T1), "active");

    // With the secret back, the reply is read first and stops Ann.
    watch(&s, s.server.1, "DRUMBEAT_TEST_IMAP_PASSWORD");
    let (r, _) = run_once(&s.p, T2);
    assert_eq!(r["sent"], 0, "{r:#}");
    assert_eq!(state(&s.p, "ann@acme.example", T2), "replied");
    assert_eq!(s.sink.messages().len(), 1, "only the intro ever went out");
}

#[test]
fn the_daemon_holds_follow_ups_while_its_watcher_cannot_reach_the_inbox() {
    let test = "the_daemon_holds_follow_ups_while_its_watcher_cannot_reach_the_inbox";
    let Some(s) = setup(test) else {
        return;
    };
    watch(&s, closed_port(), "DRUMBEAT_TEST_IMAP_PASSWORD");
    let log = s.p.file("daemon.log");
    // The daemon's clock starts at T1 (and runs): Ann's follow-up is due, in its window.
    let mut child = Command::new(env!("CARGO_BIN_EXE_drumbeat"))
        .current_dir(s.p.path())
        .env_remove("DRUMBEAT_CONFIG")
        .env("DRUMBEAT_NOW", T1)
        .env("RUST_LOG", "drumbeat=info")
        .env("NO_COLOR", "1")
        .args(["run", "--instance", "blind-1"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("daemon log"))
        .spawn()
        .expect("start drumbeat run");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut seen = serde_json::Value::Null;
    while std::time::Instant::now() < deadline {
        seen =
            s.p.cmd(&["status", "--json"])
                .env("DRUMBEAT_NOW", T1)
                .output()
                .ok()
                .and_then(|o| serde_json::from_slice(&o.stdout).ok())
                .unwrap_or_default();
        let wait = &seen["mailboxes"][0]["inbox_wait"];
        if wait["steps_held"] == 1
            && wait["reason"]
                .as_str()
                .is_some_and(|r| r.contains("IMAP unreachable"))
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = child.kill();
    let _ = child.wait();
    let logged = std::fs::read_to_string(&log).unwrap_or_default();
    let wait = &seen["mailboxes"][0]["inbox_wait"];
    assert_eq!(wait["steps_held"], 1, "{seen:#}\n{logged}");
    assert!(
        wait["reason"]
            .as_str()
            .is_some_and(|r| r.contains("IMAP unreachable")),
        "{seen:#}\n{logged}"
    );
    assert!(!logged.contains("login refused"), "{logged}");
    assert_eq!(
        s.sink.messages().len(),
        1,
        "no follow-up went out: {logged}"
    );
}

#[test]
fn an_imap_table_without_a_password_is_refused_before_anything_is_sent() {
    let p = Project::shipped();
    p.set_clock("2027-03-04T15:00:00Z");
    p.import_sample(&["--sequence", "cold-outbound"]);
    p.edit(
        "config.toml",
        "outbox = \"data/outbox\"",
        "outbox = \"data/outbox\"\n[mailbox.imap]\nhost = \"127.0.0.1\"\nusername = \"ana\"",
    );
    for args in [&["validate"][..], &["run", "--once"][..]] {
        let run = p.run(args);
        let all = format!("{}{}", run.stdout, run.stderr);
        assert_ne!(run.code, 0, "{args:?}: {all}");
        assert!(
            all.contains("mailbox \"ana\": [mailbox.imap] has no password"),
            "{args:?}: {all}"
        );
        assert!(!all.contains("login refused"), "{args:?}: {all}");
    }
    assert!(
        !p.file("data/outbox").exists()
            || std::fs::read_dir(p.file("data/outbox"))
                .expect("outbox")
                .next()
                .is_none(),
        "nothing was sent"
    );
}

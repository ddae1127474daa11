//! The inbox watcher end to end: the real daemon against a real Dovecot (mail delivered by
//! IMAP APPEND) and a real SMTP sink. `run --once` reads the inbox before it claims anything,
//! so these tests also show the race that matters: a reply recorded before the claim always
//! wins, and nothing is sent after it.

use std::time::{Duration, Instant};

use crate::support::Project;
use crate::support::daemon::{at, run_once, smtp_project};
use crate::support::imap::{Imap, fresh_user, imap_server};
use crate::support::sink::Sink;

/// Thursday 2026-03-05, 10:00 in New York: the intro goes out.
const T0: &str = "2026-03-05T15:00:00Z";
/// When the no-ask follow-up is due (2 business days later; Monday 9 March is a holiday).
pub(crate) const T1: &str = "2026-03-10T15:00:00Z";

/// Appends an `[mailbox.imap]` table to the project's one mailbox: `user` on `server`, with
/// the test password, and `extra` lines (security, folders, ca_file…).
fn watch_mailbox(p: &Project, server: &(String, u16), user: &str, extra: &str) {
    let config = std::fs::read_to_string(p.file("config.toml")).expect("config");
    p.write(
        "config.toml",
        format!(
            "{config}[mailbox.imap]\nhost = \"{}\"\nport = {}\nusername = \"{user}\"\n\
             password = {{ env = \"DRUMBEAT_TEST_IMAP_PASSWORD\" }}\n{extra}",
            server.0, server.1
        ),
    );
}

pub(crate) struct Setup {
    pub(crate) p: Project,
    pub(crate) sink: Sink,
    pub(crate) imap: Imap,
}

pub(crate) fn setup(test: &str, leads: &[(&str, &str)]) -> Option<Setup> {
    let server = imap_server(test)?;
    let sink = Sink::start(test, &[])?;
    let user = fresh_user(test);
    let p = smtp_project(
        &sink,
        "[sending]\njitter = \"0\"\ndomain_hourly_limit = 0\n",
    );
    // A reply from anyone at a company stops everyone there.
    p.edit(
        "sequences/e2e.yaml",
        "steps:\n",
        "stop: { on_reply: stop_account, on_auto_reply: pause }\nsteps:\n",
    );
    watch_mailbox(
        &p,
        &server,
        &user,
        "security = \"none\"\nfolders = [\"Junk\"]\n",
    );
    let mut csv = String::from("Email,First Name,Company,Time Zone\n");
    for (email, company) in leads {
        csv.push_str(&format!("{email},Ann,{company},America/New_York\n"));
    }
    p.write("leads.csv", csv);
    at(
        &p,
        "2026-03-05T14:00:00Z",
        &["leads", "import", "leads.csv", "--sequence", "e2e"],
    );
    let mut imap = Imap::login(&server, &user);
    imap.create("Junk");
    Some(Setup { p, sink, imap })
}

/// Sends the intros; returns (recipient, Message-ID, Subject) of each.
pub(crate) fn send_intros(s: &Setup, n: usize) -> Vec<(String, String, String)> {
    let (r, _) = run_once(&s.p, T0);
    assert_eq!(r["sent"].as_u64(), Some(n as u64), "{r:#}");
    s.sink
        .wait_for(n, Duration::from_secs(5))
        .iter()
        .map(|m| {
            (
                m.rcpt.clone(),
                m.header("Message-ID").expect("mid"),
                m.header("Subject").expect("subject"),
            )
        })
        .collect()
}

/// `lead` answers the intro it got (from `send_intros`): a reply lands in INBOX.
pub(crate) fn answer_intro(
    s: &mut Setup,
    sent: &[(String, String, String)],
    lead: &str,
    body: &str,
) {
    let (_, mid, subject) = sent
        .iter()
        .find(|m| m.0 == lead)
        .unwrap_or_else(|| panic!("no intro to {lead}"));
    s.imap.append("INBOX", &reply(lead, mid, subject, body));
}

fn reply(from: &str, mid: &str, subject: &str, body: &str) -> Vec<u8> {
    format!(
        "Return-Path: <{from}>\r\nFrom: Ann Lead <{from}>\r\nTo: Rita Rep <rep@example.com>\r\nSubject: Re: {subject}\r\n\
         Date: Fri, 06 Mar 2026 16:12:09 +0100\r\nMessage-ID: <CAF{n}x@mail.gmail.com>\r\nIn-Reply-To: {mid}\r\nReferences: {mid}\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=\"UTF-8\"\r\n\r\n{body}\r\n\r\n\
         On Thu, Mar 5, 2026 at 10:00 AM Rita Rep <rep@example.com> wrote:\r\n> Hello Ann,\r\n> Worth a 15-minute look next week?\r\n",
        n = crate::support::daemon::short_hash(&format!("{from}{mid}{body}"))
    )
    .into_bytes()
}

pub(crate) fn lead(p: &Project, email: &str) -> serde_json::Value {
    at(p, T1, &["lead", "show", email, "--json"]).json()
}

#[test]
fn a_reply_stops_the_lead_before_its_next_step_and_waits_for_the_rep() {
    let test = "a_reply_stops_the_lead_before_its_next_step_and_waits_for_the_rep";
    let Some(mut s) = setup(
        test,
        &[
            ("ann@acme.example", "Acme"),
            ("bob@acme.example", "Acme"),
            ("cy@other.example", "Other"),
        ],
    ) else {
        return;
    };
    let sent = send_intros(&s, 3);
    answer_intro(
        &mut s,
        &sent,
        "ann@acme.example",
        "Thanks Rita, this is timely. Can we talk Tuesday at 3?",
    );

    // The follow-up is due now; the reply is read first, so it never goes out to Ann, nor to
    // Bob (the sequence stops the whole account), while Cy gets his.
    let (r, _) = run_once(&s.p, T1);
    assert_eq!(r["sent"], 1, "{r:#}");
    let got = s.sink.wait_for(4, Duration::from_secs(5));
    assert_eq!(got.len(), 4);
    assert_eq!(
        got.iter().filter(|m| m.rcpt == "cy@other.example").count(),
        2
    );
    let ann = lead(&s.p, "ann@acme.example");
    assert_eq!(ann["enrollments"][0]["state"], "replied");
    assert_eq!(
        lead(&s.p, "bob@acme.example")["enrollments"][0]["state"],
        "stopped"
    );
    assert!(
        ann["events"]
            .as_array()
            .expect("events")
            .iter()
            .any(|e| e["kind"] == "replied")
    );

    // It waits for the rep under "needs attention", with the reply's first line.
    let status = at(&s.p, T1, &["status", "--json"]).json();
    let item = status["needs_attention"]
        .as_array()
        .expect("attention")
        .iter()
        .find(|a| a["kind"] == "reply")
        .cloned()
        .unwrap_or_else(|| panic!("{status:#}"));
    assert_eq!(item["email"], "ann@acme.example");
    assert!(
        item["detail"]
            .as_str()
            .expect("detail")
            .contains("this is timely"),
        "{item:#}"
    );
    assert!(
        !item["detail"]
            .as_str()
            .expect("detail")
            .contains("15-minute"),
        "quoted text leaked: {item:#}"
    );
    let id = item["id"].as_i64().expect("reply id").to_string();
    at(
        &s.p,
        T1,
        &["reply", "handled", &id, "--outcome", "interested"],
    );
    let status = at(&s.p, T1, &["status", "--json"]).json();
    assert!(
        !status["needs_attention"]
            .as_array()
            .expect("attention")
            .iter()
            .any(|a| a["kind"] == "reply")
    );

    // Watching changed nothing in the mailbox (no \Seen flag set).
    let after = s.imap.flags("INBOX");
    assert_eq!(after.len(), 1, "{after:?}");
    assert!(after.iter().all(|l| !l.contains("\\Seen")), "{after:?}");
}

#[test]
fn out_of_office_pauses_until_the_return_date() {
    let test = "out_of_office_pauses_until_the_return_date";
    let Some(mut s) = setup(test, &[("ann@acme.example", "Acme")]) else {
        return;
    };
    let sent = send_intros(&s, 1);
    let (_, mid, subject) = sent[0].clone();
    let ooo = format!(
        "From: Ann Lead <ann@acme.example>\r\nTo: rep@example.com\r\nSubject: Automatic reply: {subject}\r\n\
         Date: Thu, 05 Mar 2026 15:00:05 +0000\r\nMessage-ID: <ooo-1@acme.example>\r\nIn-Reply-To: {mid}\r\n\
         Auto-Submitted: auto-replied\r\nX-Auto-Response-Suppress: All\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         Thank you for your message. I am out of the office until March 20, 2026 with limited access to email.\r\n"
    );
    s.imap.append("INBOX", ooo.as_bytes());
    let (r, _) = run_once(&s.p, T1);
    let recorded = at(&s.p, T1, &["replies", "--all", "--json"]).json();
    assert_eq!(r["sent"], 0, "{r:#} {recorded:#}");
    let ann = lead(&s.p, "ann@acme.example");
    let e = &ann["enrollments"][0];
    assert_eq!(e["state"], "paused", "{ann:#}");
    // Until the business day after the return date, at midnight in config.toml's zone
    // (New York): Monday 2026-03-23 04:00 UTC.
    assert_eq!(e["paused_until"], 1_774_238_400, "{e:#}");
    // `lead show` says so in the rep's zone and the lead's, and what comes after.
    let shown = at(&s.p, T1, &["lead", "show", "ann@acme.example"]).stdout;
    assert!(
        shown.contains(
            "  e2e                  paused       until Mon 2026-03-23 00:00 EDT (rep, America/New_York) \
             / 00:00 EDT (lead, America/New_York), then "
        ),
        "{shown}"
    );
    assert!(
        ann["events"]
            .as_array()
            .expect("events")
            .iter()
            .any(|e| e["kind"] == "auto-replied")
    );
}

#[test]
fn hard_bounce_in_the_junk_folder_bounces_and_suppresses() {
    let test = "hard_bounce_in_the_junk_folder_bounces_and_suppresses";
    let Some(mut s) = setup(test, &[("gone@acme.example", "Acme")]) else {
        return;
    };
    let sent = send_intros(&s, 1);
    let (_, mid, subject) = sent[0].clone();
    let dsn = format!(
        "From: MAILER-DAEMON@mx.acme.example (Mail Delivery System)\r\nTo: rep@example.com\r\n\
         Subject: Undelivered Mail Returned to Sender\r\nDate: Thu, 05 Mar 2026 15:00:09 +0000\r\nMessage-ID: <dsn-1@mx.acme.example>\r\n\
         Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"B1\"\r\n\r\n\
         --B1\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nI'm sorry to have to inform you that your message could not\r\nbe delivered to one or more recipients.\r\n\r\n\
         <gone@acme.example>: host mx.acme.example said: 550 5.1.1 <gone@acme.example>: Recipient address rejected: User unknown\r\n\r\n\
         --B1\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.acme.example\r\nArrival-Date: Thu,  5 Mar 2026 15:00:08 +0000\r\n\r\n\
         Final-Recipient: rfc822; gone@acme.example\r\nOriginal-Recipient: rfc822;gone@acme.example\r\nAction: failed\r\nStatus: 5.1.1\r\n\
         Diagnostic-Code: smtp; 550 5.1.1 <gone@acme.example>: Recipient address rejected: User unknown\r\n\r\n\
         --B1\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: Rita Rep <rep@example.com>\r\nTo: gone@acme.example\r\nSubject: {subject}\r\nMessage-ID: {mid}\r\n\r\n--B1--\r\n"
    );
    s.imap.append("Junk", dsn.as_bytes());
    let (r, _) = run_once(&s.p, T1);
    assert_eq!(r["sent"], 0, "{r:#}");
    assert_eq!(
        lead(&s.p, "gone@acme.example")["enrollments"][0]["state"],
        "bounced"
    );
    let list = at(&s.p, T1, &["suppressions", "--json"]).json();
    assert_eq!(list[0]["value"], "gone@acme.example", "{list:#}");
    assert_eq!(list[0]["reason"], "bounced");
}

#[test]
fn a_bounce_or_removal_request_not_tied_to_our_mail_suppresses_nobody_and_waits_for_the_rep() {
    let test =
        "a_bounce_or_removal_request_not_tied_to_our_mail_suppresses_nobody_and_waits_for_the_rep";
    let Some(mut s) = setup(
        test,
        &[
            ("victim@target.example", "Target"),
            ("ann@acme.example", "Acme"),
        ],
    ) else {
        return;
    };
    send_intros(&s, 2);
    // A delivery report from an outsider: no In-Reply-To, no References, no copy of anything
    // we sent, only a Final-Recipient naming the victim.
    let forged = "From: MAILER-DAEMON@attacker.example\r\nTo: rep@example.com\r\n\
         Subject: Undelivered Mail Returned to Sender\r\nDate: Thu, 05 Mar 2026 16:00:00 +0000\r\nMessage-ID: <forged-dsn@attacker.example>\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"F\"\r\n\r\n\
         --F\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n\r\n\
         --F\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.attacker.example\r\n\r\n\
         Final-Recipient: rfc822; victim@target.example\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n--F--\r\n";
    s.imap.append("INBOX", forged.as_bytes());
    // A spoofed removal request from Ann's address that refers to none of our emails.
    s.imap.append(
        "INBOX",
        b"From: Ann Lead <ann@acme.example>\r\nTo: rep@example.com\r\nSubject: remove me\r\n\
          Date: Thu, 05 Mar 2026 16:05:00 +0000\r\nMessage-ID: <spoof-1@attacker.example>\r\n\r\n\
          Please remove me from your list.\r\n",
    );
    let (r, _) = run_once(&s.p, T1);
    assert_eq!(r["sent"], 2, "both follow-ups still go: {r:#}");
    for email in ["victim@target.example", "ann@acme.example"] {
        assert_eq!(
            lead(&s.p, email)["enrollments"][0]["state"],
            "active",
            "{email}"
        );
    }
    let list = at(&s.p, T1, &["suppressions", "--json"]).json();
    assert_eq!(list.as_array().map(Vec::len), Some(0), "{list:#}");
    // Both wait for the rep, saying why nothing was done.
    let replies = at(&s.p, T1, &["replies", "--json"]).json();
    let replies = replies.as_array().expect("replies");
    assert_eq!(replies.len(), 2, "{replies:#?}");
    for r in replies {
        assert!(
            r["rule"]
                .as_str()
                .is_some_and(|rule| rule.contains("not tied to an email we sent")),
            "{r:#}"
        );
    }
}

#[test]
fn a_reply_with_terminal_escapes_is_listed_as_text() {
    let test = "a_reply_with_terminal_escapes_is_listed_as_text";
    let Some(mut s) = setup(test, &[("ann@acme.example", "Acme")]) else {
        return;
    };
    let sent = send_intros(&s, 1);
    answer_intro(
        &mut s,
        &sent,
        "ann@acme.example",
        "Sounds good\u{1b}[2J\u{1b}]0;owned\u{7} - call me Tuesday.",
    );
    run_once(&s.p, T1);
    let listed = at(&s.p, T1, &["replies"]);
    assert!(
        listed.stdout.contains("ann@acme.example"),
        "{}",
        listed.stdout
    );
    assert!(
        listed.stdout.contains("Sounds good^[[2J^[]0;owned^G"),
        "{}",
        listed.stdout
    );
    assert!(
        !listed.stdout.contains(['\u{1b}', '\u{7}']),
        "{:?}",
        listed.stdout
    );
    let status = at(&s.p, T1, &["status"]);
    assert!(
        !status.stdout.contains(['\u{1b}', '\u{7}']),
        "{:?}",
        status.stdout
    );
}

#[test]
fn unsubscribe_reply_suppresses_and_strangers_are_ignored() {
    let test = "unsubscribe_reply_suppresses_and_strangers_are_ignored";
    let Some(mut s) = setup(
        test,
        &[("ann@acme.example", "Acme"), ("cy@other.example", "Other")],
    ) else {
        return;
    };
    let sent = send_intros(&s, 2);
    answer_intro(
        &mut s,
        &sent,
        "ann@acme.example",
        "Please remove me from your list.",
    );
    s.imap.append(
        "INBOX",
        b"From: someone@stranger.example\r\nTo: rep@example.com\r\nSubject: Lunch?\r\nMessage-ID: <s1@stranger.example>\r\n\r\nAre you free Friday?\r\n",
    );
    s.imap
        .append("INBOX", b"this is \xff\xfe not a mail message at all");
    let (r, _) = run_once(&s.p, T1);
    assert_eq!(r["sent"], 1, "only Cy's follow-up: {r:#}");
    assert_eq!(
        lead(&s.p, "ann@acme.example")["enrollments"][0]["state"],
        "unsubscribed"
    );
    let list = at(&s.p, T1, &["suppressions", "--json"]).json();
    assert_eq!(list[0]["value"], "ann@acme.example");
    assert_eq!(list[0]["reason"], "unsubscribed");
    // The stranger's mail left no trace: nothing needs attention.
    let replies = at(&s.p, T1, &["replies", "--all", "--json"]).json();
    assert_eq!(replies.as_array().expect("replies").len(), 1, "{replies:#}");
}

#[test]
fn mail_that_arrived_while_stopped_is_processed_once_and_renumbering_is_harmless() {
    let test = "mail_that_arrived_while_stopped_is_processed_once_and_renumbering_is_harmless";
    let emails: Vec<(String, String)> = (0..20)
        .map(|i| (format!("l{i}@co{i}.example"), format!("Co {i}")))
        .collect();
    let rows: Vec<(&str, &str)> = emails
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let Some(mut s) = setup(test, &rows) else {
        return;
    };
    let sent = send_intros(&s, 20);
    // 20 replies arrive while nothing watches; half in a folder we will renumber.
    s.imap.create("Replies");
    let mut msgs = Vec::new();
    for (i, (to, mid, subject)) in sent.iter().enumerate() {
        let m = reply(
            to,
            mid,
            subject,
            &format!("Reply number {i}: sounds good, let's talk."),
        );
        let folder = if i % 2 == 0 { "INBOX" } else { "Replies" };
        s.imap.append(folder, &m);
        msgs.push((folder, m));
    }
    let config = std::fs::read_to_string(s.p.file("config.toml")).expect("config");
    s.p.write(
        "config.toml",
        config.replace("folders = [\"Junk\"]", "folders = [\"Junk\", \"Replies\"]"),
    );
    run_once(&s.p, T1);
    let replies = |p: &Project| {
        at(p, T1, &["replies", "--all", "--json"])
            .json()
            .as_array()
            .expect("replies")
            .len()
    };
    assert_eq!(replies(&s.p), 20);
    // Again: nothing is new.
    run_once(&s.p, T1);
    assert_eq!(replies(&s.p), 20);
    // The server renumbers a folder (new UIDVALIDITY) holding the same messages: they are
    // recognised, not acted on again.
    s.imap.delete("Replies");
    s.imap.create("Replies");
    for (folder, m) in &msgs {
        if *folder == "Replies" {
            s.imap.append("Replies", m);
        }
    }
    run_once(&s.p, T1);
    assert_eq!(replies(&s.p), 20);
    let status = at(&s.p, T1, &["status", "--json"]).json();
    assert_eq!(
        status["sequences"][0]["states"]["replied"], 20,
        "{status:#}"
    );
}

#[test]
fn an_uncertain_send_found_in_the_sent_folder_is_recorded_as_sent() {
    let test = "an_uncertain_send_found_in_the_sent_folder_is_recorded_as_sent";
    let Some(server) = imap_server(test) else {
        return;
    };
    let Some(mut sink) = Sink::start(test, &["-q", "."]) else {
        return;
    };
    let user = fresh_user(test);
    let p = smtp_project(&sink, "[sending]\njitter = \"0\"\n");
    watch_mailbox(&p, &server, &user, "security = \"none\"\n");
    p.write(
        "leads.csv",
        "Email,First Name,Company,Time Zone\nann@acme.example,Ann,Acme,America/New_York\n",
    );
    at(
        &p,
        "2026-03-05T14:00:00Z",
        &["leads", "import", "leads.csv", "--sequence", "e2e"],
    );
    let (r, _) = run_once(&p, T0);
    assert_eq!(r["uncertain"], 1, "{r:#}");
    let got = sink.wait_for(1, Duration::from_secs(5));
    // The server did take it, and (like Gmail) filed it under Sent.
    let mut imap = Imap::login(&server, &user);
    imap.append("Sent", &got[0].raw);
    sink.restart(&[]);
    run_once(&p, T0);
    let ann = at(&p, T0, &["lead", "show", "ann@acme.example", "--json"]).json();
    assert_eq!(ann["touches"][0]["state"], "sent", "{ann:#}");
    assert_eq!(ann["enrollments"][0]["next_step_id"], "value");
}

#[test]
fn the_daemon_sees_a_reply_within_seconds_with_idle() {
    let test = "the_daemon_sees_a_reply_within_seconds_with_idle";
    let Some(mut s) = setup(test, &[("ann@acme.example", "Acme")]) else {
        return;
    };
    let sent = send_intros(&s, 1);
    let (_, mid, subject) = sent[0].clone();
    let mut daemon = s.p.spawn(&["run", "--instance", "idle-test"]);
    // Wait until the watcher is idling on INBOX.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let st = s.p.ok(&["status", "--json"]).json();
        if st["inbox"][0]["state"] == "idle" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the watcher did not reach IDLE: {st:#}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    s.imap.append(
        "INBOX",
        &reply("ann@acme.example", &mid, &subject, "Yes, interested."),
    );
    let appended = Instant::now();
    loop {
        let state =
            s.p.ok(&["lead", "show", "ann@acme.example", "--json"])
                .json()["enrollments"][0]["state"]
                .clone();
        if state == "replied" {
            break;
        }
        assert!(
            appended.elapsed() < Duration::from_secs(20),
            "reply not seen within 20 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!("APPEND to enrollment stopped: {:?}", appended.elapsed());
    // SAFETY: kill(2) on the daemon we spawned.
    unsafe { libc::kill(i32::try_from(daemon.id()).expect("pid"), libc::SIGTERM) };
    let _ = daemon.wait();
}

/// A server address.
type Server = (String, u16);

/// The plain and TLS endpoints of the test Dovecot and its CA, or None after a loud skip.
fn tls_server(test: &str) -> Option<(Server, Server, String)> {
    let plain = imap_server(test)?;
    let (Ok(tls), Ok(ca)) = (
        std::env::var("DRUMBEAT_TEST_IMAPS"),
        std::env::var("DRUMBEAT_TEST_IMAP_CA"),
    ) else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{test}: DRUMBEAT_TEST_IMAPS/DRUMBEAT_TEST_IMAP_CA are not set under CI");
        }
        eprintln!("\n*** SKIPPED {test}: no TLS IMAP server (run scripts/test) ***\n");
        return None;
    };
    let (host, port) = tls.rsplit_once(':').expect("HOST:PORT");
    Some((plain, (host.to_string(), port.parse().expect("port")), ca))
}

#[test]
fn the_watcher_speaks_tls_and_starttls_and_refuses_an_unknown_certificate() {
    let test = "the_watcher_speaks_tls_and_starttls_and_refuses_an_unknown_certificate";
    let Some((plain, tls, ca)) = tls_server(test) else {
        return;
    };
    for (security, server, ca_file) in [
        ("tls", &tls, Some(ca.as_str())),
        ("starttls", &plain, Some(ca.as_str())),
        ("tls", &tls, None),
    ] {
        let Some(sink) = Sink::start(test, &[]) else {
            return;
        };
        let user = fresh_user(test);
        let p = smtp_project(&sink, "[sending]\njitter = \"0\"\n");
        let ca_line = ca_file
            .map(|c| format!("ca_file = \"{c}\"\n"))
            .unwrap_or_default();
        watch_mailbox(
            &p,
            server,
            &user,
            &format!("security = \"{security}\"\n{ca_line}"),
        );
        p.write(
            "leads.csv",
            "Email,First Name,Company,Time Zone\nann@acme.example,Ann,Acme,America/New_York\n",
        );
        at(
            &p,
            "2026-03-05T14:00:00Z",
            &["leads", "import", "leads.csv", "--sequence", "e2e"],
        );
        run_once(&p, T0);
        let got = sink.wait_for(1, Duration::from_secs(5));
        let mid = got[0].header("Message-ID").expect("mid");
        let subject = got[0].header("Subject").expect("subject");
        Imap::login(&plain, &user).append(
            "INBOX",
            &reply("ann@acme.example", &mid, &subject, "Interested, call me."),
        );
        run_once(&p, T1);
        let state = lead(&p, "ann@acme.example")["enrollments"][0]["state"].clone();
        if ca_file.is_some() {
            assert_eq!(state, "replied", "{security}");
        } else {
            // A certificate nobody vouches for: no connection, and status says why.
            assert_eq!(state, "active", "{security} without the CA");
            let st = at(&p, T1, &["status", "--json"]).json();
            assert_eq!(st["inbox"][0]["state"], "disconnected", "{st:#}");
            let detail = st["inbox"][0]["detail"]
                .as_str()
                .expect("detail")
                .to_lowercase();
            assert!(
                detail.contains("certificate") || detail.contains("issuer"),
                "{detail}"
            );
        }
    }
}

#[test]
fn every_corpus_message_delivered_to_dovecot_is_recorded_as_its_kind() {
    let test = "every_corpus_message_delivered_to_dovecot_is_recorded_as_its_kind";
    let dir = crate::support::repo().join("tests/fixtures/mail");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("corpus")
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|n| n.ends_with(".eml"))
        .collect();
    names.sort();
    assert!(names.len() >= 25, "the corpus is there: {names:?}");
    // Each message is about a lead of its own: the address the watcher matches on (the sender,
    // or a bounce's failed recipient) is rewritten to a fresh lead's.
    let received = chrono::NaiveDate::from_ymd_opt(2026, 3, 5).expect("date");
    let mut cases = Vec::new(); // (name, lead address or None for "must leave no trace", expected kind, raw)
    for (i, name) in names.iter().enumerate() {
        let raw = std::fs::read(dir.join(name)).expect("fixture");
        let expected: serde_json::Value =
            std::fs::read_to_string(dir.join(name.replace(".eml", ".json")))
                .ok()
                .and_then(|t| serde_json::from_str(&t).ok())
                .unwrap_or(serde_json::Value::Null);
        let Ok(mail) = drumbeat::inbox::parse(&raw) else {
            cases.push((name.clone(), None, String::new(), raw));
            continue;
        };
        let c = drumbeat::inbox::classify(&mail, received);
        let address = match c.kind.as_str() {
            "bounce-hard" | "bounce-soft" => c.recipient.clone(),
            _ => mail.from.clone(),
        };
        let (Some(address), Some(kind)) = (address, expected["kind"].as_str()) else {
            cases.push((name.clone(), None, String::new(), raw));
            continue;
        };
        if name.contains("stranger") {
            cases.push((name.clone(), None, String::new(), raw));
            continue;
        }
        let lead = format!("f{i:03}@leads{i:03}.example");
        let text = String::from_utf8_lossy(&raw).into_owned();
        let re = regex_lite_replace(&text, &address, &lead);
        cases.push((name.clone(), Some(lead), kind.to_string(), re.into_bytes()));
    }

    let Some(mut s) = setup(test, &[]) else {
        return;
    };
    let mut csv = String::from("Email,First Name,Company,Time Zone\n");
    for (_, lead, _, _) in &cases {
        if let Some(l) = lead {
            csv.push_str(&format!("{l},Pat,Co,America/New_York\n"));
        }
    }
    s.p.write("leads.csv", csv);
    at(
        &s.p,
        "2026-03-05T14:00:00Z",
        &["leads", "import", "leads.csv", "--sequence", "e2e"],
    );
    for (_, _, _, raw) in &cases {
        s.imap.append("INBOX", raw);
    }
    // A weekend: nothing is sent, only the inbox is read.
    run_once(&s.p, "2026-03-07T15:00:00Z");
    let recorded = at(&s.p, T1, &["replies", "--all", "--limit", "1000", "--json"]).json();
    let recorded = recorded.as_array().expect("rows");
    let mut wrong = Vec::new();
    for (name, lead, kind, _) in &cases {
        if let Some(l) = lead {
            let got: Vec<&str> = recorded
                .iter()
                .filter(|r| r["email"] == l.as_str())
                .filter_map(|r| r["kind"].as_str())
                .collect();
            if got != [kind.as_str()] {
                wrong.push(format!("{name}: expected {kind}, recorded {got:?}"));
            }
        }
    }
    let leads = cases.iter().filter(|c| c.1.is_some()).count();
    assert!(
        wrong.is_empty(),
        "{} of {leads} wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    // Nothing else was recorded: strangers and non-messages leave no trace.
    assert_eq!(recorded.len(), leads, "{recorded:#?}");
}

/// Replaces every occurrence of `from` (any letter case) in `text` by `to`.
fn regex_lite_replace(text: &str, from: &str, to: &str) -> String {
    let lower = text.to_lowercase();
    let needle = from.to_lowercase();
    if lower.len() != text.len() {
        return text.replace(from, to);
    }
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while let Some(pos) = lower[i..].find(&needle) {
        out.push_str(&text[i..i + pos]);
        out.push_str(to);
        i += pos + needle.len();
    }
    out.push_str(&text[i..]);
    out
}

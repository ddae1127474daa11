//! The daemon against a misbehaving SMTP server (smtp-sink's fault options): a 4xx is retried
//! with the same Message-ID, a 5.1.1 bounces and suppresses, a connection dropped after the
//! message was handed over leaves the touch uncertain and never resent blindly, and a server
//! that is down loses nothing.

use std::time::Duration;

use crate::support::Project;
use crate::support::daemon::{at, run_once, smtp_project};
use crate::support::sink::Sink;

const LEAD: &str = "lead0@company0.example";
/// Thursday 2026-03-05, 10:00 in New York: the window is open.
const T0: &str = "2026-03-05T15:00:00Z";

fn one_lead(p: &Project) {
    p.write(
        "leads.csv",
        format!("Email,First Name,Company,Time Zone\n{LEAD},Ada,Company 0,America/New_York\n"),
    );
    at(
        p,
        "2026-03-05T14:00:00Z",
        &["leads", "import", "leads.csv", "--sequence", "e2e"],
    );
}

/// The lead's first touch as `lead show` reports it.
fn intro_touch(p: &Project, now: &str) -> serde_json::Value {
    let v = at(p, now, &["lead", "show", LEAD, "--json"]).json();
    v["touches"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["step_id"] == "intro").cloned())
        .unwrap_or_else(|| panic!("no intro touch: {v:#}"))
}

fn enrollment_state(p: &Project, now: &str) -> String {
    let v = at(p, now, &["lead", "show", LEAD, "--json"]).json();
    v["enrollments"][0]["state"]
        .as_str()
        .expect("state")
        .to_string()
}

#[test]
fn temporary_failure_is_retried_with_the_same_message_id() {
    temporary_failure("temporary_failure_is_retried_with_the_same_message_id", &[]);
}

/// The same against a server that does not offer PIPELINING (one command at a time).
#[test]
fn temporary_failure_without_pipelining_is_retried_the_same_way() {
    temporary_failure(
        "temporary_failure_without_pipelining_is_retried_the_same_way",
        &["-p"],
    );
}

fn temporary_failure(test: &str, extra: &[&str]) {
    let mut args = vec!["-r", "RCPT"];
    args.extend_from_slice(extra);
    let Some(mut sink) = Sink::start(test, &args) else {
        return;
    };
    let p = smtp_project(&sink, "");
    one_lead(&p);

    let (r, next) = run_once(&p, T0);
    assert_eq!(
        (r["sent"].as_u64(), r["retried"].as_u64()),
        (Some(0), Some(1)),
        "{r:#}"
    );
    let first = intro_touch(&p, T0);
    assert_eq!(first["state"], "scheduled");
    let mid = first["message_id"]
        .as_str()
        .expect("a Message-ID was given at claim time")
        .to_string();
    assert!(
        first["error"].as_str().expect("error").contains("450"),
        "{first:#}"
    );
    // The retry is due one minute later (the first wait of the default schedule).
    assert_eq!(next.as_deref(), Some("2026-03-05T15:01:00+00:00"));
    assert!(sink.messages().is_empty());

    sink.restart(extra);
    let (r, _) = run_once(&p, "2026-03-05T15:01:00Z");
    assert_eq!(r["sent"], 1, "{r:#}");
    let got = sink.wait_for(1, Duration::from_secs(5));
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].header("Message-ID"), Some(mid.clone()));
    assert_eq!(intro_touch(&p, "2026-03-05T15:01:00Z")["state"], "sent");
}

#[test]
fn no_such_user_bounces_the_lead_and_suppresses_the_address() {
    no_such_user(
        "no_such_user_bounces_the_lead_and_suppresses_the_address",
        &[],
    );
}

/// The same against a server that does not offer PIPELINING: with it, the answer to DATA
/// that follows the refused RCPT must not decide.
#[test]
fn no_such_user_without_pipelining_bounces_the_same_way() {
    no_such_user(
        "no_such_user_without_pipelining_bounces_the_same_way",
        &["-p"],
    );
}

fn no_such_user(test: &str, extra: &[&str]) {
    let reply = "550 5.1.1 <lead0@company0.example>: Recipient address rejected: User unknown";
    let mut args = vec!["-f", "RCPT", "-B", reply];
    args.extend_from_slice(extra);
    let Some(sink) = Sink::start(test, &args) else {
        return;
    };
    let p = smtp_project(&sink, "");
    one_lead(&p);
    let (r, next) = run_once(&p, T0);
    assert_eq!(
        (r["failed"].as_u64(), r["bounced"].as_u64()),
        (Some(1), Some(1)),
        "{r:#}"
    );
    assert_eq!(next, None, "nothing else is scheduled");
    let t = intro_touch(&p, T0);
    assert_eq!(t["state"], "failed");
    assert!(
        t["error"].as_str().expect("error").contains("5.1.1"),
        "{t:#}"
    );
    assert_eq!(enrollment_state(&p, T0), "bounced");
    let list = at(&p, T0, &["suppressions", "--json"]).json();
    assert_eq!(list[0]["value"], LEAD, "{list:#}");
    assert_eq!(list[0]["reason"], "bounced");
    assert!(sink.messages().is_empty());
}

#[test]
fn a_server_failure_is_the_leads_soft_bounce_retried_for_days_then_stopped_unsuppressed() {
    let test =
        "a_server_failure_is_the_leads_soft_bounce_retried_for_days_then_stopped_unsuppressed";
    // smtp-sink's default hard reply: 500 5.3.0 (the receiving system failed; sisimai's
    // systemerror): not a bad address, so soft whatever its 5xx.
    let Some(sink) = Sink::start(test, &["-f", "DATA"]) else {
        return;
    };
    let p = smtp_project(&sink, "");
    one_lead(&p);
    let (r, next) = run_once(&p, T0);
    assert_eq!(
        (r["retried"].as_u64(), r["bounced"].as_u64()),
        (Some(1), Some(0)),
        "{r:#}"
    );
    // Tried again a day later, then two days after that; the third refusal stops the lead.
    assert_eq!(next.as_deref(), Some("2026-03-06T15:00:00+00:00"));
    let t = intro_touch(&p, T0);
    assert_eq!(t["state"], "scheduled", "{t:#}");
    assert!(
        t["error"]
            .as_str()
            .unwrap_or_default()
            .contains("[systemerror]"),
        "{t:#}"
    );
    let (_, next) = run_once(&p, "2026-03-06T15:00:00Z");
    assert_eq!(next.as_deref(), Some("2026-03-08T15:00:00+00:00"));
    // Sunday: the step waits for the sequence's next window, then is refused a third time.
    let (r, next) = run_once(&p, "2026-03-08T15:00:00Z");
    assert_eq!(r["deferred"], 1, "{r:#}");
    let window = next.expect("the next send time");
    let (r, _) = run_once(&p, &window);
    assert_eq!(r["bounced"], 1, "{r:#}");
    assert_eq!(enrollment_state(&p, &window), "bounced");
    assert_eq!(
        at(&p, T0, &["suppressions", "--json"]).json(),
        serde_json::json!([]),
        "a soft bounce never suppresses the address"
    );
}

#[test]
fn refusals_of_the_sender_leave_the_lead_alone_and_pause_the_mailbox() {
    let test = "refusals_of_the_sender_leave_the_lead_alone_and_pause_the_mailbox";
    let reply =
        "554 5.7.1 Service unavailable; Client host [127.0.0.1] blocked using zen.spamhaus.org";
    let Some(sink) = Sink::start(test, &["-f", "RCPT", "-B", reply]) else {
        return;
    };
    let p = smtp_project(&sink, "");
    let rows: String = (0..3)
        .map(|i| format!("lead{i}@company{i}.example,Ada,Company {i},America/New_York\n"))
        .collect();
    p.write(
        "leads.csv",
        format!("Email,First Name,Company,Time Zone\n{rows}"),
    );
    at(
        &p,
        "2026-03-05T14:00:00Z",
        &["leads", "import", "leads.csv", "--sequence", "e2e"],
    );
    let (r, _) = run_once(&p, T0);
    assert_eq!(
        (r["retried"].as_u64(), r["bounced"].as_u64()),
        (Some(3), Some(0)),
        "{r:#}"
    );
    // Nobody is suppressed or stopped: the refusal was about us.
    assert_eq!(
        at(&p, T0, &["suppressions", "--json"]).json(),
        serde_json::json!([])
    );
    assert_eq!(enrollment_state(&p, T0), "active");
    let t = intro_touch(&p, T0);
    assert!(
        t["error"]
            .as_str()
            .unwrap_or_default()
            .contains("[blocked]"),
        "{t:#}"
    );
    // Three refusals in a day: the next tick pauses the mailbox and sends nothing.
    let later = "2026-03-05T21:00:00Z";
    let (r, _) = run_once(&p, later);
    assert_eq!(
        (r["sent"].as_u64(), r["retried"].as_u64()),
        (Some(0), Some(0)),
        "nothing was tried: {r:#}"
    );
    let list = at(&p, later, &["mailbox", "list", "--json"]).json();
    assert_eq!(list[0]["mailbox"], "rep", "{list:#}");
    assert_eq!(list[0]["state"], "paused", "{list:#}");
    assert_eq!(list[0]["blocks_today"], 3, "{list:#}");
    let why = list[0]["why"].as_str().unwrap_or_default();
    assert!(why.contains("refused as a sender 3 times"), "{why}");
    let status = at(&p, later, &["status", "--json"]).json();
    let paused = status["mailboxes"][0]["paused"]
        .as_str()
        .unwrap_or_default();
    assert!(paused.contains("drumbeat mailbox resume rep"), "{status:#}");
    // Resumed (after the fix), the steps go out again.
    at(&p, later, &["mailbox", "resume", "rep"]);
    let list = at(&p, later, &["mailbox", "list", "--json"]).json();
    assert_eq!(list[0]["state"], "ok", "{list:#}");
    assert!(sink.messages().is_empty());
}

#[test]
fn connection_dropped_after_the_message_leaves_it_uncertain_and_never_resent() {
    let test = "connection_dropped_after_the_message_leaves_it_uncertain_and_never_resent";
    // Disconnect without answering the end of the message.
    let Some(sink) = Sink::start(test, &["-q", "."]) else {
        return;
    };
    let p = smtp_project(&sink, "");
    one_lead(&p);
    let (r, next) = run_once(&p, T0);
    assert_eq!(r["uncertain"], 1, "{r:#}");
    assert_eq!(
        next, None,
        "an uncertain step waits for a person, nothing is scheduled"
    );
    let t = intro_touch(&p, T0);
    assert_eq!(t["state"], "uncertain");
    let before = sink.messages().len();
    // Hours later, nothing was sent again.
    let (r, _) = run_once(&p, "2026-03-05T19:00:00Z");
    assert_eq!(r["sent"], 0, "{r:#}");
    assert_eq!(sink.messages().len(), before);
    assert_eq!(
        intro_touch(&p, "2026-03-05T19:00:00Z")["state"],
        "uncertain"
    );
    // status shows it with the command that decides it.
    let status = at(&p, "2026-03-05T19:00:00Z", &["status", "--json"]).json();
    let item = status["needs_attention"]
        .as_array()
        .and_then(|a| a.iter().find(|i| i["kind"] == "uncertain-send").cloned())
        .unwrap_or_else(|| panic!("{status:#}"));
    assert_eq!(item["touch"], t["id"]);
    // The rep found it in the Sent folder: the lead moves on to the next step.
    let id = t["id"].as_i64().expect("id").to_string();
    at(&p, "2026-03-05T19:00:00Z", &["resolve", &id, "--sent"]);
    assert_eq!(intro_touch(&p, "2026-03-05T19:00:00Z")["state"], "sent");
    let v = at(
        &p,
        "2026-03-05T19:00:00Z",
        &["lead", "show", LEAD, "--json"],
    )
    .json();
    assert_eq!(v["enrollments"][0]["next_step_id"], "value");
    // Deciding twice is refused.
    let again = p
        .cmd(&["resolve", &id, "--not-sent"])
        .env("DRUMBEAT_NOW", "2026-03-05T19:00:00Z")
        .output()
        .expect("run");
    assert_eq!(again.status.code(), Some(1));
}

#[test]
fn uncertain_send_resolved_as_not_sent_goes_again_with_the_same_message_id() {
    let test = "uncertain_send_resolved_as_not_sent_goes_again_with_the_same_message_id";
    let Some(mut sink) = Sink::start(test, &["-q", "."]) else {
        return;
    };
    let p = smtp_project(&sink, "");
    one_lead(&p);
    run_once(&p, T0);
    let t = intro_touch(&p, T0);
    assert_eq!(t["state"], "uncertain");
    let mid = t["message_id"].as_str().expect("mid").to_string();
    sink.restart(&[]);
    let id = t["id"].as_i64().expect("id").to_string();
    at(&p, "2026-03-05T16:00:00Z", &["resolve", &id, "--not-sent"]);
    let (r, _) = run_once(&p, "2026-03-05T16:00:00Z");
    assert_eq!(r["sent"], 1, "{r:#}");
    let got = sink.wait_for(1, Duration::from_secs(5));
    assert_eq!(got.last().and_then(|m| m.header("Message-ID")), Some(mid));
}

#[test]
fn server_down_retries_with_backoff_and_loses_nothing() {
    let test = "server_down_retries_with_backoff_and_loses_nothing";
    let Some(mut sink) = Sink::start(test, &[]) else {
        return;
    };
    let p = smtp_project(&sink, "");
    one_lead(&p);
    sink.stop();
    let (r, next) = run_once(&p, T0);
    assert_eq!(r["retried"], 1, "{r:#}");
    assert_eq!(next.as_deref(), Some("2026-03-05T15:01:00+00:00"));
    // Still down: the next wait is longer (5 minutes).
    let (r, next) = run_once(&p, "2026-03-05T15:01:00Z");
    assert_eq!(r["retried"], 1, "{r:#}");
    assert_eq!(next.as_deref(), Some("2026-03-05T15:06:00+00:00"));
    sink.restart(&[]);
    let (r, _) = run_once(&p, "2026-03-05T15:06:00Z");
    assert_eq!(r["sent"], 1, "{r:#}");
    assert_eq!(sink.wait_for(1, Duration::from_secs(5)).len(), 1);
}

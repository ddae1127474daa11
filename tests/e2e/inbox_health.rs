//! What the inbox tells about the sending mailbox's health, end to end: delivery reports and
//! spam complaints delivered into a real Dovecot (IMAP APPEND), read by the real daemon.
//! A report of a refusal of the *sender* ("550 5.7.1 … blocked using zen.spamhaus.org")
//! leaves the lead alone and counts against the mailbox, which pauses past its limit; an ARF
//! complaint (RFC 5965) suppresses the address and counts too; a challenge-response request
//! (Boxbe) is the rep's task and stops nobody.

use crate::inbox_watch::{T1, lead, send_intros, setup};
use crate::support::daemon::{at, run_once};

/// An hour after the intros: the reports have arrived.
const LATER: &str = "2026-03-05T16:00:00Z";

/// A Postfix-style DSN: the receiving server refused our server as a sender.
fn blocked_dsn(to: &str, mid: &str, subject: &str, n: usize) -> Vec<u8> {
    let domain = to.split('@').nth(1).unwrap_or("example.net");
    let diag =
        "554 5.7.1 Service unavailable; Client host [192.0.2.10] blocked using zen.spamhaus.org";
    format!(
        "From: MAILER-DAEMON@relay.example.com (Mail Delivery System)\r\nTo: rep@example.com\r\n\
         Subject: Undelivered Mail Returned to Sender\r\nDate: Thu, 05 Mar 2026 15:00:09 +0000\r\n\
         Message-ID: <dsn-{n}@relay.example.com>\r\nAuto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"B1\"\r\n\r\n\
         --B1\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n\
         I'm sorry to have to inform you that your message could not\r\nbe delivered to one or more recipients.\r\n\r\n\
         <{to}>: host mx.{domain}[203.0.113.5] said: {diag} (in reply to RCPT TO command)\r\n\r\n\
         --B1\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; relay.example.com\r\n\r\n\
         Final-Recipient: rfc822; {to}\r\nAction: failed\r\nStatus: 5.7.1\r\n\
         Remote-MTA: dns; mx.{domain}\r\nDiagnostic-Code: smtp; {diag}\r\n\r\n\
         --B1\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: Rita Rep <rep@example.com>\r\nTo: {to}\r\n\
         Subject: {subject}\r\nMessage-ID: {mid}\r\n\r\n--B1--\r\n"
    )
    .into_bytes()
}

/// An ARF report (RFC 5965) as a mailbox provider's feedback loop sends it.
fn complaint(to: &str, mid: &str, subject: &str) -> Vec<u8> {
    format!(
        "From: Feedback Loop <fbl@mail.example.net>\r\nTo: rep@example.com\r\n\
         Subject: Abuse report\r\nDate: Thu, 05 Mar 2026 15:30:00 +0000\r\nMessage-ID: <arf-1@mail.example.net>\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=feedback-report; boundary=\"F1\"\r\n\r\n\
         --F1\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nThis is an email abuse report for an email message received.\r\n\r\n\
         --F1\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\nUser-Agent: ExampleFBL/1.0\r\nVersion: 1\r\n\
         Original-Mail-From: <rep@example.com>\r\nOriginal-Rcpt-To: <{to}>\r\nArrival-Date: Thu, 05 Mar 2026 15:00:05 +0000\r\n\r\n\
         --F1\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: Rita Rep <rep@example.com>\r\nTo: {to}\r\n\
         Subject: {subject}\r\nMessage-ID: {mid}\r\n\r\n--F1--\r\n"
    )
    .into_bytes()
}

fn health(p: &crate::support::Project, now: &str) -> serde_json::Value {
    at(p, now, &["mailbox", "list", "--json"]).json()[0].clone()
}

#[test]
fn reports_of_refusals_of_the_sender_leave_the_leads_and_pause_the_mailbox() {
    let test = "reports_of_refusals_of_the_sender_leave_the_leads_and_pause_the_mailbox";
    let leads = [
        ("ann@one.example", "One"),
        ("bob@two.example", "Two"),
        ("cy@three.example", "Three"),
    ];
    let Some(mut s) = setup(test, &leads) else {
        return;
    };
    let sent = send_intros(&s, 3);
    for (i, (to, mid, subject)) in sent.iter().enumerate() {
        s.imap.append("INBOX", &blocked_dsn(to, mid, subject, i));
    }
    let (r, _) = run_once(&s.p, LATER);
    assert_eq!(r["sent"], 0, "{r:#}");
    // The leads are not at fault: nobody stopped, nobody suppressed.
    for (email, _) in leads {
        let v = lead(&s.p, email);
        assert_eq!(v["enrollments"][0]["state"], "active", "{email}: {v:#}");
    }
    assert_eq!(
        at(&s.p, LATER, &["suppressions", "--json"]).json(),
        serde_json::json!([])
    );
    // The mailbox is: three refusals in a day pause it, and its follow-ups wait.
    let h = health(&s.p, LATER);
    assert_eq!(h["blocks_today"], 3, "{h:#}");
    assert_eq!(h["state"], "paused", "{h:#}");
    let (r, _) = run_once(&s.p, T1);
    assert_eq!(r["sent"], 0, "the follow-ups wait while paused: {r:#}");
    assert_eq!(s.sink.messages().len(), 3);
}

#[test]
fn a_spam_complaint_suppresses_the_address_and_counts_against_the_mailbox() {
    let test = "a_spam_complaint_suppresses_the_address_and_counts_against_the_mailbox";
    let Some(mut s) = setup(test, &[("dee@four.example", "Four")]) else {
        return;
    };
    let sent = send_intros(&s, 1);
    let (to, mid, subject) = &sent[0];
    s.imap.append("INBOX", &complaint(to, mid, subject));
    run_once(&s.p, LATER);
    let v = lead(&s.p, "dee@four.example");
    assert_eq!(v["enrollments"][0]["state"], "unsubscribed", "{v:#}");
    let list = at(&s.p, LATER, &["suppressions", "--json"]).json();
    assert_eq!(list[0]["value"], "dee@four.example", "{list:#}");
    assert_eq!(list[0]["reason"], "complained", "{list:#}");
    let h = health(&s.p, LATER);
    assert_eq!(h["complaints"], 1, "{h:#}");
    // One complaint in a thousand sends is under Gmail's 0.3%: the mailbox still sends.
    assert_eq!(h["state"], "ok", "{h:#}");
}

/// A Boxbe-style challenge, as a DSN whose `Action: failed` is a request to a person.
fn challenge(to: &str, mid: &str, subject: &str) -> Vec<u8> {
    format!(
        "From: noreply@boxbe.com\r\nTo: rep@example.com\r\nSubject: Re: {subject} (Action Required)\r\n\
         Date: Thu, 05 Mar 2026 15:10:00 +0000\r\nMessage-ID: <crs-1@boxbe.com>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"C1\"\r\n\r\n\
         --C1\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n\
         Hello Rita Rep,\r\n\r\nYour message about \"{subject}\" has been waitlisted.\r\n\
         Please add yourself to my Boxbe Guest List so your messages will go to my Inbox.\r\n\r\n\
         --C1\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; boxbe.com\r\n\r\n\
         Final-Recipient: rfc822; {to}\r\nAction: failed\r\nStatus: 4.7.0\r\n\
         Diagnostic-Code: X-Boxbe-Notice; Sender not pre-approved.  Follow instructions in above notice\r\n\r\n\
         --C1\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: Rita Rep <rep@example.com>\r\nTo: {to}\r\n\
         Subject: {subject}\r\nMessage-ID: {mid}\r\n\r\n--C1--\r\n"
    )
    .into_bytes()
}

#[test]
fn a_challenge_response_request_is_the_reps_task_and_stops_nobody() {
    let test = "a_challenge_response_request_is_the_reps_task_and_stops_nobody";
    let Some(mut s) = setup(test, &[("eve@five.example", "Five")]) else {
        return;
    };
    let sent = send_intros(&s, 1);
    let (to, mid, subject) = &sent[0];
    s.imap.append("INBOX", &challenge(to, mid, subject));
    run_once(&s.p, LATER);
    let v = lead(&s.p, "eve@five.example");
    assert_eq!(v["enrollments"][0]["state"], "active", "{v:#}");
    assert_eq!(
        at(&s.p, LATER, &["suppressions", "--json"]).json(),
        serde_json::json!([])
    );
    let h = health(&s.p, LATER);
    assert_eq!(
        (h["blocks_today"].as_i64(), h["hard_bounces"].as_i64()),
        (Some(0), Some(0)),
        "{h:#}"
    );
    // Only a person can answer it: it waits in `replies` for the rep.
    let replies = at(&s.p, LATER, &["replies", "--json"]).json();
    let item = replies
        .as_array()
        .and_then(|r| r.iter().find(|r| r["email"] == "eve@five.example"))
        .unwrap_or_else(|| panic!("not waiting for the rep: {replies:#}"));
    assert_eq!(item["kind"], "challenge", "{item:#}");
    // And it is the rep's task; doing it closes it and moves the lead nowhere.
    let tasks = at(&s.p, LATER, &["tasks", "--json"]).json();
    let task = tasks
        .as_array()
        .and_then(|t| t.iter().find(|t| t["kind"] == "challenge"))
        .unwrap_or_else(|| panic!("no challenge task: {tasks:#}"));
    assert_eq!(task["email"], "eve@five.example", "{task:#}");
    assert_eq!(task["owner"], "rep", "{task:#}");
    let note = task["note"].as_str().unwrap_or_default();
    assert!(note.contains("challenge-response request: boxbe"), "{note}");
    let id = task["id"].as_i64().expect("an id").to_string();
    at(&s.p, LATER, &["task", "done", &id]);
    let v = lead(&s.p, "eve@five.example");
    assert_eq!(v["enrollments"][0]["state"], "active", "{v:#}");
    assert_eq!(v["enrollments"][0]["next_step_id"], "value", "{v:#}");
}

//! What a person's reply means, end to end: replies delivered into a real Dovecot (IMAP
//! APPEND), read by the real daemon, with a real SMTP sink. A referral creates the person it
//! names as a lead (with `referred_by`) and a task for the rep, and sends them nothing until the
//! rep approves; "not interested" stops that lead only, even under `on_reply: stop_account`;
//! `report --by intent` counts the replies per intent.

use std::time::Duration;

use crate::inbox_watch::{T1, answer_intro, lead, send_intros, setup};
use crate::support::daemon::{at, run_once};

/// The Wednesday after T1, inside the window: the approved referral's intro goes out.
const T2: &str = "2026-03-11T15:00:00Z";

#[test]
fn a_referral_creates_the_lead_and_a_task_and_sends_nothing_until_the_rep_approves() {
    let test = "a_referral_creates_the_lead_and_a_task_and_sends_nothing_until_the_rep_approves";
    let Some(mut s) = setup(
        test,
        &[("ann@acme.example", "Acme"), ("bob@acme.example", "Acme")],
    ) else {
        return;
    };
    // The intro tells a referred lead who sent us.
    s.p.edit(
        "templates/cold/intro.txt",
        "Worth a 15-minute look next week?",
        "Worth a 15-minute look next week?{% if lead.referred_by %} {{ lead.referred_by }} \
         suggested I write to you.{% endif %}",
    );
    let sent = send_intros(&s, 2);
    answer_intro(
        &mut s,
        &sent,
        "ann@acme.example",
        "Thanks Rita. I'm not the right person for this; you should talk to our head of \
         purchasing, Jane Doe <jane@acme.example>.",
    );

    // Ann stops as a referral; Bob, at the same company, keeps going (a referral stops only
    // the lead who wrote, whatever on_reply says); Jane gets nothing.
    let (r, _) = run_once(&s.p, T1);
    assert_eq!(r["sent"], 1, "{r:#}");
    let got = s.sink.wait_for(3, Duration::from_secs(5));
    assert_eq!(got.len(), 3);
    assert!(got.iter().all(|m| m.rcpt != "jane@acme.example"));
    let ann = lead(&s.p, "ann@acme.example");
    assert_eq!(ann["enrollments"][0]["state"], "replied", "{ann:#}");
    assert_eq!(ann["enrollments"][0]["outcome"], "referral", "{ann:#}");
    let replied = ann["events"]
        .as_array()
        .expect("events")
        .iter()
        .find(|e| e["kind"] == "replied")
        .cloned()
        .unwrap_or_else(|| panic!("{ann:#}"));
    assert_eq!(replied["data"]["intent"], "referral", "{replied:#}");
    assert_eq!(
        lead(&s.p, "bob@acme.example")["enrollments"][0]["state"],
        "active"
    );

    // Jane is a lead now, referred by Ann, owned by Ann's rep, at Ann's company, in no sequence.
    let jane = lead(&s.p, "jane@acme.example");
    let record = &jane["lead"];
    assert_eq!(
        record["custom"]["referred_by"], "ann@acme.example",
        "{jane:#}"
    );
    assert_eq!(record["first_name"], "Jane", "{jane:#}");
    assert_eq!(record["last_name"], "Doe", "{jane:#}");
    assert_eq!(record["company"], "Acme", "{jane:#}");
    assert_eq!(record["owner"], "rep", "{jane:#}");
    assert_eq!(
        jane["enrollments"].as_array().map(Vec::len),
        Some(0),
        "{jane:#}"
    );
    let shown = at(&s.p, T1, &["lead", "show", "jane@acme.example"]).stdout;
    assert!(shown.contains("referred_by ann@acme.example"), "{shown}");

    // The rep's task says who and why.
    let tasks = at(&s.p, T1, &["tasks", "--json"]).json();
    let task = tasks
        .as_array()
        .expect("tasks")
        .iter()
        .find(|t| t["kind"] == "referral")
        .cloned()
        .unwrap_or_else(|| panic!("{tasks:#}"));
    assert_eq!(task["email"], "jane@acme.example", "{task:#}");
    assert_eq!(task["sequence_id"], "e2e", "{task:#}");
    let note = task["note"].as_str().expect("note");
    assert!(note.contains("ann@acme.example named Jane Doe"), "{note}");

    // Approving it enrolls Jane in Ann's sequence; her intro says who sent us.
    let id = task["id"].as_i64().expect("task id").to_string();
    let done = at(&s.p, T1, &["task", "done", &id]).stdout;
    assert!(done.contains("jane@acme.example enrolled in e2e"), "{done}");
    let (r, _) = run_once(&s.p, T2);
    assert!(r["sent"].as_u64().unwrap_or(0) >= 1, "{r:#}");
    let got = s.sink.wait_for(4, Duration::from_secs(5));
    let intro = got
        .iter()
        .find(|m| m.rcpt == "jane@acme.example")
        .unwrap_or_else(|| panic!("no intro to Jane"));
    let body = intro
        .parsed()
        .body_text(0)
        .map(|b| b.replace("\r\n", " ").replace('\n', " "))
        .unwrap_or_default();
    assert!(
        body.contains("ann@acme.example suggested I write to you"),
        "{body}"
    );
}

#[test]
fn not_interested_stops_only_that_lead_and_the_report_counts_intents() {
    let test = "not_interested_stops_only_that_lead_and_the_report_counts_intents";
    let Some(mut s) = setup(
        test,
        &[
            ("ann@acme.example", "Acme"),
            ("bob@acme.example", "Acme"),
            ("cy@other.example", "Other"),
            ("di@third.example", "Third"),
        ],
    ) else {
        return;
    };
    let sent = send_intros(&s, 4);
    answer_intro(&mut s, &sent, "ann@acme.example", "Not interested, thanks.");
    answer_intro(
        &mut s,
        &sent,
        "cy@other.example",
        "Klingt interessant. Können wir nächste Woche einen Termin vereinbaren?",
    );
    answer_intro(
        &mut s,
        &sent,
        "di@third.example",
        "Bonjour, merci mais nous ne sommes pas intéressés.",
    );

    // Ann and Di stop as not interested, Cy as a meeting request; Bob, at Ann's company, goes
    // on despite on_reply: stop_account and gets his follow-up.
    let (r, _) = run_once(&s.p, T1);
    assert_eq!(r["sent"], 1, "{r:#}");
    let got = s.sink.wait_for(5, Duration::from_secs(5));
    assert_eq!(
        got.iter().filter(|m| m.rcpt == "bob@acme.example").count(),
        2
    );
    for (who, outcome) in [
        ("ann@acme.example", "not-interested"),
        ("di@third.example", "not-interested"),
        ("cy@other.example", "meeting-request"),
    ] {
        let l = lead(&s.p, who);
        assert_eq!(l["enrollments"][0]["state"], "replied", "{l:#}");
        assert_eq!(l["enrollments"][0]["outcome"], outcome, "{l:#}");
    }
    assert_eq!(
        lead(&s.p, "bob@acme.example")["enrollments"][0]["state"],
        "active"
    );

    // The report counts replies per intent.
    let args = [
        "report",
        "--by",
        "intent",
        "--since",
        "2026-03-01",
        "--until",
        "2026-03-31",
    ];
    let mut json_args = args.to_vec();
    json_args.push("--json");
    let report = at(&s.p, T1, &json_args).json();
    let rows = report["rows"].as_array().expect("rows");
    let count = |intent: &str| {
        rows.iter()
            .find(|r| r["key"] == intent)
            .map_or(0, |r| r["replied"].as_i64().unwrap_or(0))
    };
    assert_eq!(count("not-interested"), 2, "{report:#}");
    assert_eq!(count("meeting-request"), 1, "{report:#}");
    assert_eq!(rows.len(), 2, "only intents that replies had: {report:#}");
    let text = at(&s.p, T1, &args).stdout;
    assert!(text.contains("Report by intent"), "{text}");
    assert!(text.contains("not-interested"), "{text}");
}

#[test]
fn an_auto_reply_naming_a_successor_stops_the_lead_and_refers_without_sending() {
    let test = "an_auto_reply_naming_a_successor_stops_the_lead_and_refers_without_sending";
    let Some(mut s) = setup(test, &[("ann@acme.example", "Acme")]) else {
        return;
    };
    let sent = send_intros(&s, 1);
    let (_, mid, subject) = sent[0].clone();
    let notice = format!(
        "From: Ann Lead <ann@acme.example>\r\nTo: rep@example.com\r\nSubject: Automatic reply: {subject}\r\n\
         Date: Thu, 05 Mar 2026 15:00:05 +0000\r\nMessage-ID: <left-1@acme.example>\r\nIn-Reply-To: {mid}\r\n\
         Auto-Submitted: auto-replied\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         Thank you for your email. I have left Acme. For anything about purchasing please contact\r\n\
         my successor Tom Berg <tom.berg@acme.example>, or write to info@acme.example.\r\n"
    );
    s.imap.append("INBOX", notice.as_bytes());
    let (r, _) = run_once(&s.p, T1);
    assert_eq!(r["sent"], 0, "{r:#}");
    assert_eq!(s.sink.wait_for(1, Duration::from_secs(1)).len(), 1);
    let ann = lead(&s.p, "ann@acme.example");
    assert_eq!(ann["enrollments"][0]["state"], "stopped", "{ann:#}");
    assert_eq!(ann["enrollments"][0]["outcome"], "left-company", "{ann:#}");
    // Tom (not the shared info@ inbox) is a lead with a task; nothing went to him.
    let tom = lead(&s.p, "tom.berg@acme.example");
    assert_eq!(
        tom["lead"]["custom"]["referred_by"], "ann@acme.example",
        "{tom:#}"
    );
    assert_eq!(tom["lead"]["first_name"], "Tom", "{tom:#}");
    assert_eq!(tom["lead"]["last_name"], "Berg", "{tom:#}");
    assert_eq!(tom["enrollments"].as_array().map(Vec::len), Some(0));
    let tasks = at(&s.p, T1, &["tasks", "--json"]).json();
    let kinds: Vec<(&str, &str)> = tasks
        .as_array()
        .expect("tasks")
        .iter()
        .filter_map(|t| Some((t["kind"].as_str()?, t["email"].as_str()?)))
        .collect();
    assert_eq!(
        kinds,
        vec![("referral", "tom.berg@acme.example")],
        "{tasks:#}"
    );
    // Skipping the task enrolls nobody.
    let id = tasks[0]["id"].as_i64().expect("id").to_string();
    let out = at(&s.p, T1, &["task", "skip", &id]).stdout;
    assert!(
        out.contains("tom.berg@acme.example is not enrolled"),
        "{out}"
    );
    let (r, _) = run_once(&s.p, T2);
    assert_eq!(r["sent"], 0, "{r:#}");
}

//! The sending daemon end to end: the real binary (`drumbeat run --once` on a simulated clock,
//! `DRUMBEAT_NOW`) against a real SMTP server (Postfix's smtp-sink) on loopback. Every message
//! that reaches the sink is checked: headers, threading chain, body (the same as `preview`),
//! and send time against the window in the lead's zone, across a DST change and a holiday.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Timelike, Utc, Weekday};
use chrono_tz::Tz;

use crate::support::daemon::{at, simulate, smtp_project};
use crate::support::sink::{Received, Sink};

fn zones() -> [(&'static str, Tz); 4] {
    [
        ("America/New_York", Tz::America__New_York),
        ("Europe/Berlin", Tz::Europe__Berlin),
        ("Asia/Tokyo", Tz::Asia__Tokyo),
        // No zone in the CSV: the sequence window's zone applies.
        ("", Tz::America__New_York),
    ]
}

fn leads_csv(n: usize) -> String {
    let mut csv = String::from("Email,First Name,Company,Time Zone,Phone\n");
    for i in 0..n {
        let (zone, _) = zones()[i % 4];
        csv.push_str(&format!(
            "lead{i}@company{i}.example,Lead{i},Company {i},{zone},+1 555 01{i:02}\n"
        ));
    }
    csv
}

fn date_of(m: &Received) -> DateTime<Utc> {
    let d = m.header("Date").expect("Date header");
    DateTime::parse_from_rfc2822(&d)
        .unwrap_or_else(|e| panic!("Date {d:?}: {e}"))
        .with_timezone(&Utc)
}

fn business_days_after(mut d: NaiveDate, n: u32, holidays: &[NaiveDate]) -> NaiveDate {
    let mut left = n;
    while left > 0 {
        d = d.succ_opt().expect("date");
        if !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) && !holidays.contains(&d) {
            left -= 1;
        }
    }
    d
}

#[test]
fn fifty_leads_get_every_step_threaded_on_time_and_exactly_once() {
    let test = "fifty_leads_get_every_step_threaded_on_time_and_exactly_once";
    let Some(sink) = Sink::start(test, &[]) else {
        return;
    };
    let p = smtp_project(
        &sink,
        "[sending]\njitter = \"20 minutes\"\ndomain_hourly_limit = 0\n",
    );
    p.write("leads.csv", leads_csv(50));
    // Thursday 2026-03-05 12:00 UTC: 07:00 in New York (closed), 13:00 in Berlin (open),
    // 21:00 in Tokyo (closed). New York moves to daylight time on Sunday 2026-03-08, and
    // Monday 2026-03-09 is a holiday in the window.
    let start = "2026-03-05T12:00:00Z";
    at(
        &p,
        start,
        &["leads", "import", "leads.csv", "--sequence", "e2e"],
    );

    // What preview promises, before anything is sent.
    let mut promised: BTreeMap<String, serde_json::Value> = BTreeMap::new();
    for i in 0..50 {
        let email = format!("lead{i}@company{i}.example");
        promised.insert(
            email.clone(),
            at(&p, start, &["preview", "e2e", "--lead", &email, "--json"]).json(),
        );
    }

    simulate(&p, start, "2026-04-15T00:00:00Z", 400);

    let got = sink.messages();
    assert_eq!(got.len(), 150, "3 emails for each of 50 leads");
    let holiday = NaiveDate::from_ymd_opt(2026, 3, 9).expect("date");
    let open = NaiveTime::from_hms_opt(9, 0, 0).expect("time");
    let close = NaiveTime::from_hms_opt(17, 0, 0).expect("time");
    // The call tasks came due in the rep's working hours (New York, Mon-Fri 09:00-17:00),
    // wherever the lead is, and were done at once.
    let tasks = at(&p, "2026-04-15T00:00:00Z", &["tasks", "--all", "--json"]).json();
    let mut task_due: BTreeMap<String, DateTime<Utc>> = BTreeMap::new();
    for t in tasks.as_array().expect("tasks") {
        let due = DateTime::parse_from_rfc3339(t["due"].as_str().expect("due"))
            .expect("rfc3339")
            .with_timezone(&Utc);
        let rep = due.with_timezone(&Tz::America__New_York);
        assert!(
            rep.weekday().num_days_from_monday() < 5
                && (open..close).contains(&rep.time())
                && rep.date_naive() != holiday,
            "{t}"
        );
        task_due.insert(t["email"].as_str().expect("email").to_string(), due);
    }
    let mut by_lead: BTreeMap<String, Vec<&Received>> = BTreeMap::new();
    for m in &got {
        by_lead.entry(m.rcpt.clone()).or_default().push(m);
    }
    assert_eq!(by_lead.len(), 50);
    let mut ids = std::collections::HashSet::new();
    for i in 0..50 {
        let email = format!("lead{i}@company{i}.example");
        let tz = zones()[i % 4].1;
        let mut msgs = by_lead[&email].clone();
        msgs.sort_by_key(|m| date_of(m));
        assert_eq!(msgs.len(), 3, "{email}");
        let (intro, value, bump) = (msgs[0], msgs[1], msgs[2]);
        for m in &msgs {
            assert!(
                ids.insert(m.header("Message-ID").expect("Message-ID")),
                "duplicate Message-ID"
            );
            assert_eq!(
                m.header("From").as_deref(),
                Some("\"Rita Rep\" <rep@example.com>")
            );
            assert!(
                m.header("To").expect("To").ends_with(&format!("<{email}>")),
                "{email}"
            );
            assert!(
                m.header("Message-ID")
                    .expect("mid")
                    .ends_with("@example.com>")
            );
            // The one-click URL (RFC 8058), then the mailbox's own address.
            let unsubscribe = m.header("List-Unsubscribe").expect("List-Unsubscribe");
            assert!(
                unsubscribe.starts_with("<http://127.0.0.1:8025/u/")
                    && unsubscribe.ends_with(">, <mailto:rep@example.com?subject=unsubscribe>"),
                "{unsubscribe}"
            );
            assert_eq!(
                m.header("List-Unsubscribe-Post").as_deref(),
                Some("List-Unsubscribe=One-Click")
            );
            // Inside the window in the lead's zone: a weekday, not the holiday, 09:00–17:00.
            let local = date_of(m).with_timezone(&tz);
            assert!(
                !matches!(local.weekday(), Weekday::Sat | Weekday::Sun),
                "{email} {local}"
            );
            assert_ne!(local.date_naive(), holiday, "{email} sent on the holiday");
            assert!(
                local.time() >= open && local.time() < close,
                "{email} sent at {local}"
            );
        }
        // Threading: the follow-ups reply in the intro's thread.
        let (mid1, mid2) = (
            intro.header("Message-ID").expect("mid"),
            value.header("Message-ID").expect("mid"),
        );
        assert_eq!(intro.header("In-Reply-To"), None);
        let subject = intro.header("Subject").expect("subject");
        assert_eq!(value.header("Subject"), Some(format!("Re: {subject}")));
        assert_eq!(value.header("In-Reply-To"), Some(mid1.clone()));
        assert_eq!(value.header("References"), Some(mid1.clone()));
        assert_eq!(bump.header("Subject"), Some(format!("Re: {subject}")));
        assert_eq!(bump.header("In-Reply-To"), Some(mid2.clone()));
        assert_eq!(bump.header("References"), Some(format!("{mid1} {mid2}")));
        // Bodies: exactly what preview showed.
        let steps = promised[&email]["steps"].as_array().expect("steps");
        for (m, step) in [(intro, &steps[0]), (value, &steps[1]), (bump, &steps[3])] {
            let parsed = m.parsed();
            // On the wire lines end in CRLF (RFC 5322); preview prints them with LF.
            let text = parsed
                .body_text(0)
                .expect("text part")
                .replace("\r\n", "\n");
            assert_eq!(
                text.trim_end(),
                step["text"].as_str().expect("preview text").trim_end(),
                "{email} step {}",
                step["id"]
            );
        }
        // Timing: the value-add 2 business days after the intro (the holiday skipped), at the
        // same local time of day, whatever the DST change did to UTC.
        let (d1, d2) = (
            date_of(intro).with_timezone(&tz),
            date_of(value).with_timezone(&tz),
        );
        assert_eq!(
            d2.date_naive(),
            business_days_after(d1.date_naive(), 2, &[holiday]),
            "{email}: intro {d1}, value {d2}"
        );
        assert_eq!(
            (d1.hour(), d1.minute()),
            (d2.hour(), d2.minute()),
            "{email}"
        );
        // The bump follows the call task (done when it came due, in the rep's hours, at
        // least one business day after the value-add) by one more business day, at the
        // window's next opening in the lead's zone.
        let d3 = date_of(bump).with_timezone(&tz);
        let task = task_due[&email].with_timezone(&tz);
        assert!(
            task.date_naive() >= business_days_after(d2.date_naive(), 1, &[holiday]),
            "{email}: value {d2}, task {task}"
        );
        let mut bump_day = business_days_after(task.date_naive(), 1, &[holiday]);
        if task.time() >= close {
            bump_day = business_days_after(bump_day, 1, &[holiday]);
        }
        assert_eq!(d3.date_naive(), bump_day, "{email}: task {task}, bump {d3}");
    }
    // Every lead finished its sequence, and the call task was made and done for each.
    let status = at(&p, "2026-04-15T00:00:00Z", &["status", "--json"]).json();
    assert_eq!(
        status["sequences"][0]["states"]["finished"], 50,
        "{status:#}"
    );
    let tasks = tasks.as_array().expect("tasks");
    assert_eq!(tasks.len(), 50);
    assert!(
        tasks
            .iter()
            .all(|t| t["state"] == "done" && t["outcome"] == "voicemail")
    );
    assert!(
        tasks[0]["note"]
            .as_str()
            .expect("note")
            .starts_with("Call Lead")
    );
}

#[test]
fn stopped_or_suppressed_leads_are_never_sent_to() {
    let test = "stopped_or_suppressed_leads_are_never_sent_to";
    let Some(sink) = Sink::start(test, &[]) else {
        return;
    };
    let p = smtp_project(&sink, "");
    p.write("leads.csv", leads_csv(4));
    let start = "2026-03-05T15:00:00Z"; // 10:00 in New York: open
    at(
        &p,
        "2026-03-05T14:00:00Z",
        &["leads", "import", "leads.csv", "--sequence", "e2e"],
    );
    // A moment before their first step is due: one stopped, one suppressed, one domain
    // suppressed.
    at(
        &p,
        "2026-03-05T14:59:00Z",
        &["stop", "lead0@company0.example"],
    );
    at(
        &p,
        "2026-03-05T14:59:00Z",
        &["suppress", "lead1@company1.example"],
    );
    at(
        &p,
        "2026-03-05T14:59:00Z",
        &["suppress", "@company3.example"],
    );
    simulate(&p, start, "2026-03-31T00:00:00Z", 100);
    let got: Vec<String> = sink.messages().into_iter().map(|m| m.rcpt).collect();
    assert!(!got.is_empty());
    assert!(
        got.iter().all(|r| r == "lead2@company2.example"),
        "only the lead that was not stopped gets mail: {got:?}"
    );
}

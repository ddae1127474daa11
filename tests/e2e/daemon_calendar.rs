//! Pauses for people and calendars, end to end: a rep's vacation (`pause --mailbox`) with the
//! daemon on a driven clock against a real smtp-sink, a sequence's pause and its `resume`, and
//! holidays of two countries in `preview` across a year boundary.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::America::New_York;

use crate::support::Project;
use crate::support::daemon::{at, run_once, simulate, smtp_project};
use crate::support::sink::{Received, Sink};

/// A second mailbox, `ben`, on the same sink, with the test sequence as `ben-seq`.
fn add_ben(p: &Project, sink: &Sink) {
    let config = std::fs::read_to_string(p.file("config.toml")).expect("config.toml");
    p.write(
        "config.toml",
        format!(
            "{config}\n[[mailbox]]\nname = \"ben\"\nfrom = \"ben@example.com\"\nsignature = \"Ben\"\n\
             daily_cap = 500\n\
             [mailbox.smtp]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"none\"\n",
            sink.port
        ),
    );
    let seq = std::fs::read_to_string(p.file("sequences/e2e.yaml")).expect("e2e.yaml");
    p.write(
        "sequences/ben-seq.yaml",
        seq.replace("id: e2e", "id: ben-seq")
            .replace("mailboxes: [rep]", "mailboxes: [ben]"),
    );
}

fn leads(prefix: &str, n: usize) -> String {
    let mut csv = String::from("Email,First Name,Company,Time Zone,Phone\n");
    for i in 0..n {
        csv.push_str(&format!(
            "{prefix}{i}@{prefix}{i}.example,L{i},Co {i},America/New_York,+1 555 01{i:02}\n"
        ));
    }
    csv
}

fn sent_at(m: &Received) -> DateTime<Utc> {
    let d = m.header("Date").expect("Date header");
    DateTime::parse_from_rfc2822(&d)
        .unwrap_or_else(|e| panic!("Date {d:?}: {e}"))
        .with_timezone(&Utc)
}

fn ny_midnight(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    New_York
        .with_ymd_and_hms(y, m, d, 0, 0, 0)
        .single()
        .expect("a New York midnight")
        .with_timezone(&Utc)
}

#[test]
fn a_reps_vacation_holds_only_that_mailbox_and_loses_nothing() {
    let test = "a_reps_vacation_holds_only_that_mailbox_and_loses_nothing";
    let Some(sink) = Sink::start(test, &[]) else {
        return;
    };
    let p = smtp_project(
        &sink,
        "[sending]\njitter = \"0\"\ndomain_hourly_limit = 0\n",
    );
    add_ben(&p, &sink);
    p.write("rep.csv", leads("rep", 4));
    p.write("ben.csv", leads("ben", 4));
    // Thursday 2026-03-05, 07:00 in New York.
    let start = "2026-03-05T12:00:00Z";
    at(
        &p,
        start,
        &["leads", "import", "rep.csv", "--sequence", "e2e"],
    );
    at(
        &p,
        start,
        &["leads", "import", "ben.csv", "--sequence", "ben-seq"],
    );
    // Rita is away Friday 6 to Friday 13 March (her days, in her zone).
    let said = at(
        &p,
        start,
        &[
            "pause",
            "--mailbox",
            "rep",
            "--from",
            "2026-03-06",
            "--until",
            "2026-03-13",
            "--reason",
            "vacation",
        ],
    );
    assert!(
        said.stdout
            .contains("mailbox rep: paused from 2026-03-06 00:00 EST until 2026-03-14 00:00 EDT"),
        "{}",
        said.stdout
    );
    let status = at(&p, start, &["status", "--json"]).json();
    let pauses = status["pauses"].as_array().expect("pauses in status");
    assert_eq!(pauses.len(), 1, "{status:#}");
    assert_eq!(pauses[0]["scope"], "mailbox");
    assert_eq!(pauses[0]["name"], "rep");
    assert_eq!(pauses[0]["reason"], "vacation");
    assert_eq!(pauses[0]["until"], "2026-03-14T04:00:00+00:00");
    let text = at(&p, start, &["status"]).stdout;
    assert!(
        text.contains(
            "mailbox rep  from 2026-03-06 05:00 UTC until 2026-03-14 04:00 UTC  vacation"
        ),
        "{text}"
    );

    simulate(&p, start, "2026-04-15T00:00:00Z", 400);

    let (away, back) = (ny_midnight(2026, 3, 6), ny_midnight(2026, 3, 14));
    let got = sink.messages();
    let mut by_mailbox: BTreeMap<String, Vec<&Received>> = BTreeMap::new();
    for m in &got {
        let from = m.header("From").expect("From");
        let name = if from.contains("rep@") { "rep" } else { "ben" };
        by_mailbox.entry(name.into()).or_default().push(m);
    }
    let rep = &by_mailbox["rep"];
    let ben = &by_mailbox["ben"];
    // Nothing from Rita's mailbox while she is away; everything after; nothing twice.
    assert!(
        rep.iter().all(|m| !(away..back).contains(&sent_at(m))),
        "rep sent during the vacation"
    );
    assert_eq!(rep.len(), 12, "3 emails for each of Rita's 4 leads");
    assert!(rep.iter().any(|m| sent_at(m) >= back));
    // Ben's leads are untouched: his follow-ups go out that week.
    assert_eq!(ben.len(), 12);
    assert!(ben.iter().any(|m| (away..back).contains(&sent_at(m))));
    let ids: HashSet<String> = got.iter().filter_map(|m| m.header("Message-ID")).collect();
    assert_eq!(ids.len(), 24, "a Message-ID twice");
    // No task of Rita's came due while she was away, and every lead finished.
    let tasks = at(&p, "2026-04-15T00:00:00Z", &["tasks", "--all", "--json"]).json();
    for t in tasks.as_array().expect("tasks") {
        let due = DateTime::parse_from_rfc3339(t["due"].as_str().expect("due")).expect("rfc3339");
        if t["owner"] == "rep" {
            assert!(!(away..back).contains(&due.with_timezone(&Utc)), "{t}");
        }
    }
    let status = at(&p, "2026-04-15T00:00:00Z", &["status", "--json"]).json();
    for s in status["sequences"].as_array().expect("sequences") {
        assert_eq!(s["states"]["finished"], 4, "{s}");
    }
    assert_eq!(status["pauses"].as_array().map(Vec::len), Some(0));
    // The lead's timeline says it waited, once.
    let lead = at(
        &p,
        "2026-04-15T00:00:00Z",
        &["leads", "show", "rep0@rep0.example", "--json"],
    )
    .json();
    let held: Vec<&serde_json::Value> = lead["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["kind"] == "held")
        .collect();
    assert_eq!(held.len(), 1, "{lead:#}");
    assert_eq!(held[0]["mailbox"], "rep");
    let text = at(
        &p,
        "2026-04-15T00:00:00Z",
        &["leads", "show", "rep0@rep0.example"],
    )
    .stdout;
    assert!(
        text.contains("held           e2e/value  waits: mailbox rep paused until 2026-03-14 04:00 UTC (vacation)"),
        "{text}"
    );
}

#[test]
fn a_paused_sequence_waits_until_resumed() {
    let test = "a_paused_sequence_waits_until_resumed";
    let Some(sink) = Sink::start(test, &[]) else {
        return;
    };
    let p = smtp_project(
        &sink,
        "[sending]\njitter = \"0\"\ndomain_hourly_limit = 0\n",
    );
    p.write("rep.csv", leads("rep", 3));
    let start = "2026-03-05T12:00:00Z";
    at(
        &p,
        start,
        &["leads", "import", "rep.csv", "--sequence", "e2e"],
    );
    // Neither a lead nor a mailbox nor a sequence: a usage error.
    assert_eq!(p.run(&["pause"]).code, 2);
    assert_eq!(
        p.run(&["pause", "--mailbox", "rep", "--sequence", "e2e"])
            .code,
        2
    );
    let unknown = p.run(&["pause", "--mailbox", "nobody"]);
    assert_eq!(unknown.code, 1);
    assert!(
        unknown.stderr.contains("no mailbox \"nobody\""),
        "{}",
        unknown.stderr
    );
    at(
        &p,
        start,
        &[
            "pause",
            "--sequence",
            "e2e",
            "--reason",
            "rewriting the copy",
        ],
    );
    // 10:00 in New York: the window is open, the sequence is not.
    let (report, next) = run_once(&p, "2026-03-05T15:00:00Z");
    assert_eq!(report["sent"], 0, "{report:#}");
    assert_eq!(sink.messages().len(), 0);
    assert_eq!(next.as_deref(), Some("2026-03-05T15:15:00+00:00"));
    at(&p, "2026-03-05T15:05:00Z", &["resume", "--sequence", "e2e"]);
    let (report, _) = run_once(&p, "2026-03-05T15:05:00Z");
    assert_eq!(report["sent"], 3, "{report:#}");
    assert_eq!(
        sink.wait_for(3, std::time::Duration::from_secs(10)).len(),
        3
    );
    // Nothing left to resume.
    assert_eq!(p.run(&["resume", "--sequence", "e2e"]).code, 1);
}

#[test]
fn holidays_of_two_countries_move_business_days_across_the_new_year_in_preview() {
    let p = Project::shipped();
    p.edit(
        "sequences/cold-outbound.yaml",
        "holidays: [2026-11-26, 2026-12-25, 2027-01-01]",
        "holidays: [US, lead]",
    );
    p.write(
        "uk.csv",
        "Email,First Name,Company,Time Zone,Country\n\
         ed@acme.example,Ed,Acme,America/New_York,GB\n\
         al@acme.example,Al,Acme,America/New_York,\n",
    );
    // Wednesday 23 December 2026, 10:00 in New York.
    p.set_clock("2026-12-23T15:00:00Z");
    p.ok(&["leads", "import", "uk.csv"]);
    let days = |lead: &str| -> Vec<NaiveDate> {
        let v = p
            .ok(&["preview", "cold-outbound", "--lead", lead, "--json"])
            .json();
        v["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .map(|s| {
                let due = s["due_at"].as_str().expect("due_at");
                DateTime::parse_from_rfc3339(due)
                    .expect("rfc3339")
                    .with_timezone(&New_York)
                    .date_naive()
            })
            .collect()
    };
    let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date");
    // Ed is in Britain: Christmas (US and GB), Boxing Day observed on Monday 28 (GB), New
    // Year's Day (both) are skipped.
    assert_eq!(
        days("ed@acme.example"),
        [
            d("2026-12-23"),
            d("2026-12-30"),
            d("2027-01-04"),
            d("2027-01-06"),
            d("2027-01-13")
        ]
    );
    // Al's country is his zone's: only the US holidays.
    assert_eq!(
        days("al@acme.example"),
        [
            d("2026-12-23"),
            d("2026-12-29"),
            d("2026-12-31"),
            d("2027-01-05"),
            d("2027-01-12")
        ]
    );
}

#[test]
fn a_call_task_for_a_lead_in_tokyo_comes_due_in_the_reps_morning() {
    let test = "a_call_task_for_a_lead_in_tokyo_comes_due_in_the_reps_morning";
    let Some(sink) = Sink::start(test, &[]) else {
        return;
    };
    let p = smtp_project(&sink, "[sending]\njitter = \"0\"\n");
    p.edit(
        "config.toml",
        "daily_cap = 500",
        "daily_cap = 500\ntimezone = \"Europe/Madrid\"\nworking_hours = \"08:30-16:00\"",
    );
    p.write(
        "sequences/tokyo.yaml",
        "id: tokyo\nmailboxes: [rep]\nwindow:\n  days: [mon-fri]\n  hours: \"09:00-17:00\"\n\
         steps:\n  - { id: intro, wait: 0, template: cold/intro }\n\
         \x20 - { id: call, wait: 1 business day, task: call }\n",
    );
    p.write(
        "tokyo.csv",
        "Email,First Name,Company,Time Zone\nkenji@tokyo.example,Kenji,Tokyo Co,Asia/Tokyo\n",
    );
    // Monday 2 March 2026, 10:00 in Tokyo, 02:00 in Madrid.
    let mut now = "2026-03-02T01:00:00Z".to_string();
    at(
        &p,
        &now,
        &["leads", "import", "tokyo.csv", "--sequence", "tokyo"],
    );
    let mut tasks = serde_json::Value::Null;
    for _ in 0..6 {
        let (_, next) = run_once(&p, &now);
        tasks = at(&p, &now, &["tasks", "--json"]).json();
        if tasks.as_array().is_some_and(|t| !t.is_empty()) {
            break;
        }
        now = next.expect("a next due time");
    }
    assert_eq!(sink.messages().len(), 1, "the intro");
    // Due one business day later in Tokyo (Tuesday 10:00, 02:00 in Madrid): the task waits
    // for the rep's morning, 08:30 in Madrid (16:30 in Tokyo), not the rep's night.
    let t = &tasks[0];
    assert_eq!(t["due_rep"], "2026-03-03T08:30:00+01:00", "{tasks:#}");
    assert_eq!(t["rep_timezone"], "Europe/Madrid");
    assert_eq!(t["due_lead"], "2026-03-03T16:30:00+09:00");
    assert_eq!(t["lead_timezone"], "Asia/Tokyo");
    assert_eq!(t["overdue"], false);
    let id = t["id"].as_i64().expect("task id");
    let text = at(&p, "2026-03-03T12:00:00Z", &["tasks"]).stdout;
    let due = "due Tue 2026-03-03 08:30 CET (rep, Europe/Madrid) / 16:30 JST (lead, Asia/Tokyo)";
    assert!(
        text.starts_with(&format!("#{id} call kenji@tokyo.example")),
        "{text}"
    );
    assert!(text.contains(due) && !text.contains("OVERDUE"), "{text}");
    let status = at(&p, "2026-03-03T12:00:00Z", &["status", "--json"]).json();
    let item = status["needs_attention"]
        .as_array()
        .expect("needs_attention")
        .iter()
        .find(|a| a["kind"] == "overdue-task")
        .cloned()
        .expect("the task in status");
    assert_eq!(item["id"], id);
    assert_eq!(item["detail"], format!("call, {due}"));
    // The next morning in Madrid it is overdue.
    let text = at(&p, "2026-03-04T07:00:00Z", &["tasks", "--overdue"]).stdout;
    assert!(text.contains("OVERDUE"), "{text}");
}

#[test]
fn validate_warns_when_the_bundled_holidays_run_out() {
    let p = Project::shipped();
    p.edit(
        "sequences/cold-outbound.yaml",
        "holidays: [2026-11-26, 2026-12-25, 2027-01-01]",
        "holidays: [US, 2026-12-24]",
    );
    let run = |now: &str| {
        let out = p
            .cmd(&["validate", "--json"])
            .env("DRUMBEAT_NOW", now)
            .output()
            .expect("run drumbeat");
        crate::support::Run::from_output(out).json()
    };
    let warned = |v: &serde_json::Value| {
        v["diagnostics"]
            .as_array()
            .expect("diagnostics")
            .iter()
            .any(|d| {
                d["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("public holidays drumbeat knows end with 2031"))
            })
    };
    assert!(!warned(&run("2027-03-01T12:00:00Z")));
    let late = run("2031-03-01T12:00:00Z");
    assert!(warned(&late), "{late:#}");
    assert_eq!(late["errors"], 0);
}

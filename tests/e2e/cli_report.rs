//! `drumbeat report` on a project whose events were written by the real commands: import,
//! enroll, `run --once` (the outbox mailbox), `stop`, `leads reassign`. What the library
//! tests check on a seeded log, this checks end to end: the events the commands write are
//! the ones the report counts.

use serde_json::Value;

use crate::support::{Project, Run};

/// Monday 2026-11-02, 09:00 in New York (EST since Nov 1).
const T0: &str = "2026-11-02T14:00:00Z";
/// 15:00 there: inside the shipped window.
const T1: &str = "2026-11-02T20:00:00Z";
/// The next day.
const T2: &str = "2026-11-03T15:00:00Z";

fn at(p: &Project, now: &str, args: &[&str]) -> Run {
    Run::from_output(
        p.cmd(args)
            .env("DRUMBEAT_NOW", now)
            .output()
            .expect("run drumbeat"),
    )
}

fn ok_at(p: &Project, now: &str, args: &[&str]) -> Run {
    let run = at(p, now, args);
    run.code(0);
    run
}

/// Five leads owned by ana, four in cold-outbound, emailed at T1; one stopped by hand.
fn project() -> Project {
    let p = Project::shipped();
    p.edit(
        "config.toml",
        "[[mailbox]]\nname = \"ana\"",
        "[[mailbox]]\nname = \"ben\"\nfrom = \"ben@example.com\"\nsignature = \"Ben\"\ndaily_cap = 40\noutbox = \"data/outbox\"\n\n[[mailbox]]\nname = \"ana\"",
    );
    let mut csv = String::from("Email,First Name,Company,Time Zone\n");
    for i in 1..=4 {
        csv.push_str(&format!(
            "lead{i}@company{i}.example,Lead{i},Company {i},America/New_York\n"
        ));
    }
    p.write("leads.csv", csv);
    p.write(
        "late.csv",
        "Email,First Name,Company,Time Zone\nlate@late.example,Late,Late Inc,America/New_York\n",
    );
    ok_at(
        &p,
        T0,
        &[
            "leads",
            "import",
            "leads.csv",
            "--owner",
            "ana",
            "--sequence",
            "cold-outbound",
        ],
    );
    ok_at(&p, T1, &["run", "--once"]);
    ok_at(&p, T1, &["leads", "import", "late.csv", "--owner", "ana"]);
    ok_at(
        &p,
        T1,
        &["stop", "lead4@company4.example", "--reason", "not a fit"],
    );
    p
}

fn report(p: &Project, args: &[&str]) -> Value {
    let mut all = vec!["report", "--since", "2026-11-01", "--json"];
    all.extend_from_slice(args);
    ok_at(p, T2, &all).json()
}

#[test]
fn report_counts_what_the_commands_did() {
    let p = project();
    let r = report(&p, &["--by", "rep"]);
    assert_eq!(r["period"]["timezone"], "America/New_York");
    assert_eq!(r["period"]["since"], "2026-11-01T00:00:00-04:00");
    let rows = r["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 1, "{r:#}");
    let ana = &rows[0];
    assert_eq!(ana["key"], "ana");
    // Five arrived; four were emailed by run --once, six hours after their import.
    assert_eq!(ana["received"], 5);
    assert_eq!(ana["contacted"], 4);
    assert_eq!(ana["first_touch_median_secs"], 6 * 3600);
    assert_eq!(ana["first_touch_p90_secs"], 6 * 3600);
    assert_eq!(ana["touches_per_lead"], 1.0);
    assert_eq!(
        (ana["sent"].as_i64(), ana["emailed"].as_i64()),
        (Some(4), Some(4))
    );
    assert_eq!(ana["replied"], 0);
    assert_eq!(ana["reply_rate"], 0.0);
    // Follow-through: ben (a mailbox with nothing) is listed; the late lead was never
    // emailed; lead4 was stopped by hand after one touch.
    assert_eq!(
        r["follow_through"],
        serde_json::json!([
            { "rep": "ana", "received": 5, "never_contacted": 1, "stopped_early": 1, "tasks_overdue": 0 },
            { "rep": "ben", "received": 0, "never_contacted": 0, "stopped_early": 0, "tasks_overdue": 0 },
        ])
    );

    // By variant: the intro's A/B split adds up to the four emails, and the test has a verdict.
    let v = report(&p, &["--by", "variant"]);
    let intro: i64 = v["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .filter(|r| r["parts"][1] == "intro")
        .map(|r| r["sent"].as_i64().expect("sent"))
        .sum();
    assert_eq!(intro, 4, "{v:#}");
    if let Some(t) = v["ab_tests"].as_array().and_then(|a| a.first()) {
        assert_eq!(t["verdict"], "no replies yet: too early to tell");
    }

    // By sequence: four enrolled (the late lead was not), all contacted.
    let s = report(&p, &["--by", "sequence"]);
    assert_eq!(s["rows"][0]["key"], "cold-outbound");
    assert_eq!(s["rows"][0]["received"], 4);
    assert_eq!(s["rows"][0]["contacted"], 4);

    // By source: the file each lead came from.
    let s = report(&p, &["--by", "source"]);
    let keys: Vec<&str> = s["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["key"].as_str().expect("key"))
        .collect();
    assert_eq!(keys, ["csv:late.csv", "csv:leads.csv"]);
}

#[test]
fn a_reassigned_lead_counts_for_its_new_owner_from_then_on() {
    let p = project();
    ok_at(
        &p,
        T2,
        &["leads", "reassign", "--from", "ana", "--to", "ben"],
    );
    // In November (until the 2nd) ana still owned everyone…
    let r = ok_at(
        &p,
        T2,
        &[
            "report",
            "--since",
            "2026-11-01",
            "--until",
            "2026-11-02",
            "--json",
        ],
    )
    .json();
    assert_eq!(r["rows"][0]["key"], "ana");
    assert_eq!(r["rows"][0]["received"], 5);
    // …and a report through today credits the leads to ben, who owns them now; the emails
    // ana sent stay hers.
    let r = ok_at(
        &p,
        "2026-11-03T16:00:00Z",
        &["report", "--since", "2026-11-01", "--json"],
    )
    .json();
    let rows = r["rows"].as_array().expect("rows");
    let row = |k: &str| rows.iter().find(|r| r["key"] == k).expect(k).clone();
    assert_eq!(row("ben")["received"], 5);
    assert_eq!(row("ana")["sent"], 4);
    assert_eq!(row("ana")["received"], 0);
}

#[test]
fn report_prints_a_table_csv_and_a_self_contained_html_page() {
    let p = project();
    let text = ok_at(&p, T2, &["report", "--since", "2026-11-01"]).stdout;
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "Report by rep: 2026-11-01 to 2026-11-03 (America/New_York)"
    );
    assert!(lines[2].starts_with("rep  received  contacted"), "{text}");
    assert!(lines[3].starts_with("ana         5          4  "), "{text}");
    assert!(text.contains("Follow-through"), "{text}");

    let csv = ok_at(
        &p,
        T2,
        &["report", "--since", "2026-11-01", "--by", "step", "--csv"],
    )
    .stdout;
    let mut rows = csv.lines();
    assert!(
        rows.next()
            .expect("header")
            .starts_with("sequence,step,received,contacted,"),
        "{csv}"
    );
    assert_eq!(
        rows.next()
            .expect("a row")
            .split(',')
            .take(2)
            .collect::<Vec<_>>(),
        ["cold-outbound", "intro"]
    );

    let page = p.file("out/report.html");
    std::fs::create_dir_all(page.parent().expect("dir")).expect("mkdir");
    let run = ok_at(
        &p,
        T2,
        &[
            "report",
            "--since",
            "2026-11-01",
            "--html",
            page.to_str().expect("utf-8"),
        ],
    );
    assert!(run.stderr.contains("wrote "), "{}", run.stderr);
    let html = std::fs::read_to_string(&page).expect("the page");
    assert!(html.starts_with("<!doctype html>") || html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("cold-outbound"));
    assert!(!html.contains("<script"), "no scripts");
    assert!(
        !html.contains("src=\"http"),
        "nothing loaded from elsewhere"
    );
}

#[test]
fn bad_report_flags_say_what_is_expected_and_change_nothing() {
    let p = project();
    let run = at(&p, T2, &["report", "--since", "last month"]);
    run.code(2);
    assert!(
        run.stderr.contains("--since \"last month\""),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("30d"), "{}", run.stderr);
    let run = at(&p, T2, &["report", "--tz", "Mars/Olympus"]);
    run.code(2);
    assert!(
        run.stderr.contains("--tz \"Mars/Olympus\""),
        "{}",
        run.stderr
    );
    let run = at(&p, T2, &["report", "--since", "2026-12-01"]);
    run.code(2);
    assert!(run.stderr.contains("the period is empty"), "{}", run.stderr);
    let run = at(&p, T2, &["report", "--by", "weather"]);
    run.code(2);
    let run = at(&p, T2, &["report", "--html", "/nonexistent/dir/r.html"]);
    run.code(1);
    assert!(
        run.stderr.contains("cannot write /nonexistent/dir/r.html"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_lead_nobody_owns_counts_for_the_mailbox_that_first_emailed_it() {
    let p = Project::shipped();
    p.write(
        "leads.csv",
        "Email,First Name,Company,Time Zone\n\
         one@one.example,One,One Inc,America/New_York\n\
         two@two.example,Two,Two Inc,America/New_York\n",
    );
    ok_at(&p, T0, &["leads", "import", "leads.csv"]);
    ok_at(&p, T0, &["enroll", "cold-outbound", "one@one.example"]);
    ok_at(&p, T1, &["run", "--once"]);
    let r = report(&p, &["--by", "rep"]);
    let rows = r["rows"].as_array().expect("rows");
    let row = |k: &str| rows.iter().find(|r| r["key"] == k).expect(k).clone();
    // one@ was emailed from ana's mailbox: hers. two@ was never emailed: nobody's.
    assert_eq!(
        (
            row("ana")["received"].as_i64(),
            row("ana")["contacted"].as_i64()
        ),
        (Some(1), Some(1))
    );
    assert_eq!(
        (
            row("(unowned)")["received"].as_i64(),
            row("(unowned)")["contacted"].as_i64()
        ),
        (Some(1), Some(0))
    );
}

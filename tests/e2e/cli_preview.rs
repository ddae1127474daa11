//! `drumbeat preview SEQ --lead EMAIL`: every step as it will be sent (From, To, Subject,
//! threading headers), at a time inside the send window in the lead's own time zone, the same
//! on every run; and clear errors. `--raw` has its own file, cli_preview_raw.rs.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Weekday};
use chrono_tz::Tz;
use serde_json::Value;

use crate::support::preview::{MARIA, PRIYA, enrolled, preview_json, steps};
use crate::support::{Project, SAMPLE_LEADS};

#[test]
fn shows_every_step_with_from_to_and_subject() {
    let p = enrolled();
    let run = p.ok(&["preview", "cold-outbound", "--lead", MARIA]);
    let out = &run.stdout;
    assert!(
        out.starts_with(
            "cold-outbound for maria.garcia@northwind.example (time zone America/Chicago, mailbox ana)\n"
        ),
        "{out}"
    );
    let headings: Vec<&str> = out.lines().filter(|l| l.starts_with("=== step")).collect();
    assert_eq!(
        headings,
        [
            "=== step intro (email, wait 0) ===",
            "=== step value-add (email, wait 3 business days) ===",
            "=== step call (task, wait 2 business days) ===",
            "=== step bump (email, wait 2 business days) ===",
            "=== step break-up (email, wait 5 business days) ===",
        ]
    );
    let count = |line: &str| out.lines().filter(|l| *l == line).count();
    assert_eq!(count("From:        Ana Lopez <ana@example.com>"), 4);
    assert_eq!(count("To:          maria.garcia@northwind.example"), 4);
    assert_eq!(count("Subject:     follow-ups at Northwind Traders"), 1);
    assert_eq!(count("Subject:     Re: follow-ups at Northwind Traders"), 3);
    assert_eq!(count("task:        call"), 1);
    assert!(out.contains("\nCall Maria at +1 312 555 0142.\n"), "{out}");
    assert!(
        out.contains("Template:    cold/value-add (variant main), no-ask"),
        "{out}"
    );
}

#[test]
fn threaded_steps_reply_to_the_earlier_message_ids() {
    let p = enrolled();
    let v = preview_json(&p, "cold-outbound", MARIA);
    let by_id: HashMap<&str, &Value> = steps(&v)
        .iter()
        .map(|s| (s["id"].as_str().expect("step id"), s))
        .collect();
    let id = |step: &str| {
        by_id[step]["message_id"]
            .as_str()
            .unwrap_or_else(|| panic!("{step} has a Message-ID"))
            .to_string()
    };
    let (intro, value_add, bump, break_up) =
        (id("intro"), id("value-add"), id("bump"), id("break-up"));
    let all = [&intro, &value_add, &bump, &break_up];
    for (i, a) in all.iter().enumerate() {
        assert!(a.starts_with('<') && a.ends_with("@example.com>"), "{a}");
        assert!(all[i + 1..].iter().all(|b| b != a), "Message-IDs repeat");
    }
    let first_subject = by_id["intro"]["subject"].as_str().expect("subject");
    assert_eq!(first_subject, "follow-ups at Northwind Traders");
    assert_eq!(by_id["intro"]["in_reply_to"], Value::Null);
    assert_eq!(by_id["intro"]["references"], Value::Null);

    for (step, parent, references) in [
        ("value-add", &intro, intro.clone()),
        ("bump", &value_add, format!("{intro} {value_add}")),
        ("break-up", &bump, format!("{intro} {value_add} {bump}")),
    ] {
        let s = by_id[step];
        assert_eq!(s["subject"], format!("Re: {first_subject}"), "{step}");
        assert_eq!(s["in_reply_to"].as_str(), Some(parent.as_str()), "{step}");
        assert_eq!(
            s["references"].as_str(),
            Some(references.as_str()),
            "{step}"
        );
        assert_eq!(s["from"], "Ana Lopez <ana@example.com>");
        assert_eq!(s["to"], MARIA);
    }
    let call = by_id["call"];
    assert_eq!(call["kind"], "task");
    assert_eq!(call["message_id"], Value::Null);
}

/// Asserts every step of a preview is due inside the window (days, [start, end), not on a
/// holiday) in `zone`, in order.
#[track_caller]
fn assert_inside_window(
    v: &Value,
    zone: &str,
    days: &[Weekday],
    (start, end): (NaiveTime, NaiveTime),
    holidays: &[NaiveDate],
) {
    assert_eq!(v["timezone"], zone, "{}", v["lead"]);
    let tz: Tz = zone.parse().expect("an IANA zone");
    let mut last = None;
    for s in steps(v) {
        let due = s["due_at"].as_str().expect("every step has a due time");
        let local = DateTime::parse_from_rfc3339(due)
            .expect("RFC 3339")
            .with_timezone(&tz);
        let what = format!("{} step {}: {local}", v["lead"], s["id"]);
        if s["kind"] == "task" {
            // A task comes due in the rep's working hours: mailbox ana, New York, Mon-Fri
            // 09:00-17:00.
            let rep = local.with_timezone(&Tz::America__New_York);
            let hours = NaiveTime::from_hms_opt(9, 0, 0).expect("time")
                ..NaiveTime::from_hms_opt(17, 0, 0).expect("time");
            assert!(
                rep.weekday().num_days_from_monday() < 5 && hours.contains(&rep.time()),
                "{what}: outside the rep's hours"
            );
            assert!(
                last.is_none_or(|l| l < local),
                "{what}: not after the step before"
            );
            last = Some(local);
            continue;
        }
        assert!(days.contains(&local.weekday()), "{what}: not a window day");
        assert!(
            local.time() >= start && local.time() < end,
            "{what}: outside the window hours"
        );
        assert!(!holidays.contains(&local.date_naive()), "{what}: a holiday");
        assert!(
            last.is_none_or(|l| l < local),
            "{what}: not after the step before"
        );
        last = Some(local);
    }
}

#[test]
fn send_times_are_inside_the_window_in_the_leads_time_zone() {
    let p = enrolled();
    let hours = (
        NaiveTime::from_hms_opt(9, 0, 0).expect("time"),
        NaiveTime::from_hms_opt(16, 30, 0).expect("time"),
    );
    let holidays =
        ["2026-11-26", "2026-12-25", "2027-01-01"].map(|d| d.parse::<NaiveDate>().expect("date"));
    let mon_fri = [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
    ];
    // Each lead's own zone; Sam has none, so the window's zone applies.
    let zones = [
        "America/Chicago",
        "Europe/Berlin",
        "Asia/Singapore",
        "America/New_York",
        "Asia/Kolkata",
    ];
    for (lead, zone) in SAMPLE_LEADS.iter().zip(zones) {
        let v = preview_json(&p, "cold-outbound", lead);
        assert_eq!(v["enrolled"], true);
        assert_inside_window(&v, zone, &mon_fri, hours, &holidays);
    }
}

#[test]
fn send_times_of_a_lead_not_yet_enrolled_are_inside_the_window_too() {
    let p = Project::shipped();
    p.import_sample(&[]);
    let mon_sat = [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
    ];
    let hours = (
        NaiveTime::from_hms_opt(7, 30, 0).expect("time"),
        NaiveTime::from_hms_opt(20, 0, 0).expect("time"),
    );
    let v = preview_json(&p, "inbound-fast", "li.wei@fabrikam.example");
    assert_eq!(v["enrolled"], false);
    assert_inside_window(&v, "Asia/Singapore", &mon_sat, hours, &[]);
    // Sam has no zone and inbound-fast names none: config.toml's zone applies.
    let v = preview_json(&p, "inbound-fast", "sam.o'brien@tailspin.example");
    assert_inside_window(&v, "America/New_York", &mon_sat, hours, &[]);
}

#[test]
fn step_flag_shows_only_that_step_with_its_thread() {
    let p = enrolled();
    let all = preview_json(&p, "cold-outbound", MARIA);
    let run = p.ok(&[
        "preview",
        "cold-outbound",
        "--lead",
        MARIA,
        "--step",
        "bump",
    ]);
    let headings: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("=== step"))
        .collect();
    assert_eq!(
        headings,
        ["=== step bump (email, wait 2 business days) ==="]
    );

    let v = p
        .ok(&[
            "preview",
            "cold-outbound",
            "--lead",
            MARIA,
            "--step",
            "bump",
            "--json",
        ])
        .json();
    assert_eq!(steps(&v).len(), 1);
    // The same step as in the full preview: same time, subject and thread.
    assert_eq!(steps(&v)[0], steps(&all)[3]);
}

#[test]
fn preview_is_the_same_on_every_run() {
    let p = enrolled();
    for args in [
        &["preview", "cold-outbound", "--lead", MARIA][..],
        &["preview", "cold-outbound", "--lead", MARIA, "--json"],
        &["preview", "cold-outbound", "--lead", MARIA, "--raw"],
        &["preview", "cold-outbound", "--lead", PRIYA, "--raw"],
    ] {
        let first = p.ok(args);
        let second = p.ok(args);
        assert_eq!(first.stdout, second.stdout, "{args:?}");
        assert_eq!(first.stderr, second.stderr, "{args:?}");
    }
}

#[test]
fn lead_missing_a_needed_variable_gets_an_error_for_that_step_and_exit_1() {
    let p = Project::shipped();
    p.write("leads.csv", "Email,First Name\nnina@acme.example,Nina\n");
    p.ok(&[
        "leads",
        "import",
        "leads.csv",
        "--sequence",
        "cold-outbound",
    ]);
    let state = p.store_state(&["nina@acme.example"]);
    let needs = "template \"templates/cold/intro.txt\" needs lead.company, which is empty (line 2)";

    let run = p.run(&[
        "preview",
        "cold-outbound",
        "--lead",
        "nina@acme.example",
        "--step",
        "intro",
    ]);
    run.code(1);
    assert!(
        run.stdout.contains(&format!("\nERROR:       {needs}\n")),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("Subject:"), "{}", run.stdout);

    let run = p.run(&[
        "preview",
        "cold-outbound",
        "--lead",
        "nina@acme.example",
        "--json",
    ]);
    run.code(1);
    let v = run.json();
    let by_id: HashMap<&str, &Value> = steps(&v)
        .iter()
        .map(|s| (s["id"].as_str().expect("id"), s))
        .collect();
    assert_eq!(by_id["intro"]["error"], needs);
    assert_eq!(by_id["intro"]["subject"], Value::Null);
    // The follow-ups reply under the intro's subject, so they cannot render either.
    assert_eq!(by_id["bump"]["error"], needs);
    // The call note has fallbacks for what Nina lacks.
    assert_eq!(by_id["call"]["error"], Value::Null);
    assert!(
        by_id["call"]["note"]
            .as_str()
            .expect("note")
            .starts_with("Call Nina at (no phone: find it on LinkedIn).")
    );
    assert_eq!(
        p.store_state(&["nina@acme.example"]),
        state,
        "preview wrote"
    );
}

#[test]
fn unknown_lead_says_to_import_it() {
    let p = enrolled();
    let state = p.store_state(&SAMPLE_LEADS);
    let run = p.run(&["preview", "cold-outbound", "--lead", "ghost@acme.example"]);
    run.code(1);
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr,
        "drumbeat: no lead ghost@acme.example; import it first (drumbeat leads import FILE.csv)\n"
    );
    assert_eq!(p.store_state(&SAMPLE_LEADS), state);
}

#[test]
fn unknown_sequence_suggests_the_closest() {
    let p = enrolled();
    let run = p.run(&["preview", "cold-outbund", "--lead", MARIA]);
    run.code(2);
    assert_eq!(
        run.stderr,
        "drumbeat: unknown sequence \"cold-outbund\"; did you mean \"cold-outbound\"?\n"
    );
    let run = p.run(&["preview", "webinar", "--lead", MARIA]);
    run.code(2);
    assert_eq!(
        run.stderr,
        "drumbeat: unknown sequence \"webinar\" (sequences: cold-outbound, inbound-fast)\n"
    );
}

#[test]
fn unknown_step_lists_the_steps() {
    let p = enrolled();
    let run = p.run(&[
        "preview",
        "cold-outbound",
        "--lead",
        MARIA,
        "--step",
        "nope",
    ]);
    run.code(2);
    assert_eq!(
        run.stderr,
        "drumbeat: sequence cold-outbound has no step \"nope\" (steps: intro, value-add, call, bump, break-up)\n"
    );
}

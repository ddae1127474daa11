//! `drumbeat report` over a seeded event log, on both engines. Every expected number below is
//! counted by hand from the seed (the comments show the counting), not by the code under test.
//!
//! The period is November 2026 in New York: from 2026-11-01 00:00 EDT (04:00 UTC) to
//! 2026-12-01 00:00 EST (05:00 UTC). Events at 03:30–03:50 UTC on Nov 1 are still October
//! there; events at 04:30–04:45 UTC on Dec 1 are still November; 05:30 UTC on Dec 1 is not.

use chrono::{DateTime, Utc};
use drumbeat::report::{self, FollowThrough, Period, Row};
use drumbeat::store::Grouping;

use crate::support::{StoreCase, for_each_store};

pub(crate) fn t(s: &str) -> i64 {
    DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("{s}: {e}"))
        .timestamp()
}

/// (id, email, owner now, source).
const LEADS: [(i64, &str, &str, &str); 9] = [
    (1, "ada@a.example", "ana", "csv:a.csv"),
    (2, "bob@b.example", "ana", "api"),
    (3, "cy@c.example", "ben", "csv:a.csv"),
    (4, "dee@d.example", "ben", "api"),
    (5, "eve@e.example", "ana", "cli"),
    (6, "fay@f.example", "ben", "csv:a.csv"),
    (7, "gus@g.example", "ben", "csv:a.csv"),
    (8, "hal@h.example", "ben", "api"),
    (9, "ivy@i.example", "ben", "csv:a.csv"),
];

/// (at, kind, lead, touch, sequence, step, mailbox, data).
type Ev = (
    &'static str,
    &'static str,
    i64,
    Option<i64>,
    Option<&'static str>,
    Option<&'static str>,
    &'static str,
    &'static str,
);

#[rustfmt::skip]
const EVENTS: [Ev; 38] = [
    // ada (ana): contacted 30 min after arrival, two emails, replied to the second, interested.
    ("2026-11-02T14:00:00Z", "received", 1, None, None, None, "ana", r#"{"source":"csv:a.csv"}"#),
    ("2026-11-02T14:00:00Z", "enrolled", 1, None, Some("cold"), None, "ana", "{}"),
    ("2026-11-02T14:30:00Z", "sent", 1, Some(101), Some("cold"), Some("intro"), "ana", r#"{"variant":"a"}"#),
    ("2026-11-05T15:00:00Z", "sent", 1, Some(102), Some("cold"), Some("follow"), "ana", r#"{"variant":null}"#),
    ("2026-11-06T16:00:00Z", "replied", 1, Some(102), Some("cold"), None, "ana", r#"{"kind":"reply"}"#),
    ("2026-11-06T17:00:00Z", "reply-handled", 1, Some(102), None, None, "ana", r#"{"outcome":"interested"}"#),
    // bob (ana, api): contacted after 2 h, bounced.
    ("2026-11-03T10:00:00Z", "received", 2, None, None, None, "ana", r#"{"source":"api"}"#),
    ("2026-11-03T10:00:00Z", "enrolled", 2, None, Some("cold"), None, "ana", "{}"),
    ("2026-11-03T12:00:00Z", "sent", 2, Some(201), Some("cold"), Some("intro"), "ana", r#"{"variant":"b"}"#),
    ("2026-11-03T12:05:00Z", "bounced", 2, Some(201), Some("cold"), None, "ana", r#"{"kind":"bounce-hard"}"#),
    // cy (ben): in two sequences; inbound after 5 min, cold after 6 h; unsubscribes from the
    // inbound email; a meeting (no touch) credited to the last email before it: cold's intro.
    ("2026-11-04T09:00:00Z", "received", 3, None, None, None, "ben", r#"{"source":"csv:a.csv"}"#),
    ("2026-11-04T09:00:00Z", "enrolled", 3, None, Some("cold"), None, "ben", "{}"),
    ("2026-11-04T09:00:00Z", "enrolled", 3, None, Some("inbound"), None, "ben", "{}"),
    ("2026-11-04T09:05:00Z", "sent", 3, Some(301), Some("inbound"), Some("first"), "ben", "{}"),
    ("2026-11-04T15:00:00Z", "sent", 3, Some(302), Some("cold"), Some("intro"), "ben", r#"{"variant":"a"}"#),
    ("2026-11-05T10:00:00Z", "unsubscribed", 3, Some(301), Some("inbound"), None, "ben", "{}"),
    ("2026-11-20T10:00:00Z", "meeting-booked", 3, None, None, None, "ben", r#"{"source":"calendly"}"#),
    // dee (arrived with ana, moved to ben): never contacted.
    ("2026-11-10T03:30:00Z", "received", 4, None, None, None, "ana", r#"{"source":"api"}"#),
    ("2026-11-12T10:00:00Z", "assigned", 4, None, None, None, "ben", r#"{"from":"ana"}"#),
    // eve (ana, cli): arrived Oct 31 local time; her first email is October's too.
    ("2026-11-01T03:30:00Z", "received", 5, None, None, None, "ana", r#"{"source":"cli"}"#),
    ("2026-11-01T03:30:00Z", "enrolled", 5, None, Some("cold"), None, "ana", "{}"),
    ("2026-11-01T03:50:00Z", "sent", 5, Some(500), Some("cold"), Some("intro"), "ana", r#"{"variant":"a"}"#),
    ("2026-11-01T13:00:00Z", "sent", 5, Some(501), Some("cold"), Some("follow"), "ana", "{}"),
    ("2026-12-01T04:45:00Z", "sent", 5, Some(502), Some("cold"), Some("breakup"), "ana", "{}"),
    // fay (ben): arrived Nov 30 at 23:30 local; never contacted.
    ("2026-12-01T04:30:00Z", "received", 6, None, None, None, "ben", r#"{"source":"csv:a.csv"}"#),
    // gus (ben): an hour, two emails, then stopped by hand.
    ("2026-11-05T13:00:00Z", "received", 7, None, None, None, "ben", r#"{"source":"csv:a.csv"}"#),
    ("2026-11-05T13:00:00Z", "enrolled", 7, None, Some("cold"), None, "ben", "{}"),
    ("2026-11-05T14:00:00Z", "sent", 7, Some(701), Some("cold"), Some("intro"), "ben", r#"{"variant":"b"}"#),
    ("2026-11-08T14:00:00Z", "sent", 7, Some(702), Some("cold"), Some("follow"), "ben", "{}"),
    ("2026-11-09T09:00:00Z", "stopped", 7, None, Some("cold"), None, "ben", r#"{"from":"active","by":"hand"}"#),
    // hal (ben): December, local time.
    ("2026-12-01T05:30:00Z", "received", 8, None, None, None, "ben", r#"{"source":"api"}"#),
    ("2026-12-01T05:30:00Z", "enrolled", 8, None, Some("cold"), None, "ben", "{}"),
    ("2026-12-01T05:40:00Z", "sent", 8, Some(801), Some("cold"), Some("intro"), "ben", r#"{"variant":"a"}"#),
    // ivy (ben): half an hour, replied to intro B.
    ("2026-11-06T10:00:00Z", "received", 9, None, None, None, "ben", r#"{"source":"csv:a.csv"}"#),
    ("2026-11-06T10:00:00Z", "enrolled", 9, None, Some("cold"), None, "ben", "{}"),
    ("2026-11-06T10:30:00Z", "sent", 9, Some(901), Some("cold"), Some("intro"), "ben", r#"{"variant":"b"}"#),
    ("2026-11-07T09:00:00Z", "replied", 9, Some(901), Some("cold"), None, "ben", r#"{"kind":"reply"}"#),
    // Not a person's reply: never counted.
    ("2026-11-07T09:30:00Z", "auto-replied", 9, Some(901), Some("cold"), None, "ben", "{}"),
];

fn q(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn opt(s: Option<&str>) -> String {
    s.map_or("NULL".into(), q)
}

pub(crate) async fn seed(s: &StoreCase) {
    for (id, email, owner, source) in LEADS {
        s.exec(&format!(
            "INSERT INTO leads (id, email, owner, source, fingerprint, created_at, updated_at) \
             VALUES ({id}, {}, {}, {}, 0, 0, 0)",
            q(email),
            q(owner),
            q(source)
        ))
        .await;
    }
    for (at, kind, lead, touch, seq, step, mailbox, data) in EVENTS {
        s.exec(&format!(
            "INSERT INTO events (at, kind, lead_id, enrollment_id, touch_id, sequence_id, step_id, mailbox, data) \
             VALUES ({}, {}, {lead}, NULL, {}, {}, {}, {}, {})",
            t(at),
            q(kind),
            touch.map_or("NULL".into(), |t| t.to_string()),
            opt(seq),
            opt(step),
            q(mailbox),
            q(data)
        ))
        .await;
    }
    // Tasks: gus's call overdue (ben), one due later, one done. They need an enrollment.
    s.exec("INSERT INTO enrollments (id, lead_id, sequence_id, state, enrolled_at, updated_at) VALUES (70, 7, 'cold', 'stopped', 0, 0)").await;
    for (id, state, due) in [
        (1, "open", "2026-11-25T14:00:00Z"),
        (2, "open", "2026-12-30T14:00:00Z"),
        (3, "done", "2026-11-02T14:00:00Z"),
    ] {
        s.exec(&format!(
            "INSERT INTO tasks (id, enrollment_id, lead_id, kind, owner, state, due_at, created_at) \
             VALUES ({id}, 70, 7, 'call', 'ben', '{state}', {}, 0)",
            t(due)
        ))
        .await;
    }
}

pub(crate) fn november() -> (Period, DateTime<Utc>) {
    let now = DateTime::parse_from_rfc3339("2026-12-10T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let tz = "America/New_York".parse().unwrap();
    let p = Period::parse("2026-11-01", Some("2026-11-30"), tz, now).expect("period");
    assert_eq!(p.since.timestamp(), t("2026-11-01T04:00:00Z"));
    assert_eq!(p.until.timestamp(), t("2026-12-01T05:00:00Z"));
    (p, now)
}

/// The expected activity part of a row: sent, emailed, replied, positive, meetings, bounced,
/// unsubscribed.
type Activity = (i64, i64, i64, i64, i64, i64, i64);

fn activity(r: &Row) -> Activity {
    (
        r.sent,
        r.emailed,
        r.replied,
        r.positive,
        r.meetings,
        r.bounced,
        r.unsubscribed,
    )
}

/// received, contacted, median, p90 (seconds).
type Cohort = (Option<i64>, Option<i64>, Option<i64>, Option<i64>);

fn cohort(r: &Row) -> Cohort {
    (
        r.received,
        r.contacted,
        r.first_touch_median_secs,
        r.first_touch_p90_secs,
    )
}

fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-9)
}

async fn rows(s: &StoreCase, by: Grouping) -> Vec<Row> {
    let (p, _) = november();
    report::rows(s, by, &p).await.expect("report")
}

fn keys(rows: &[Row]) -> Vec<&str> {
    rows.iter().map(|r| r.key.as_str()).collect()
}

#[tokio::test]
async fn report_by_rep_counts_arrivals_first_touches_and_outcomes_by_hand() {
    for_each_store("report_by_rep", |s| async move {
        seed(&s).await;
        let r = rows(&s, Grouping::Rep).await;
        assert_eq!(keys(&r), ["ana", "ben"]);
        let (ana, ben) = (&r[0], &r[1]);
        // ana's arrivals in November (New York): ada, bob (eve arrived Oct 31; dee moved to
        // ben). Waits 30 min and 2 h: median 4500 s, p90 (nearest rank 2 of 2) 7200 s.
        assert_eq!(cohort(ana), (Some(2), Some(2), Some(4500), Some(7200)));
        // Touches: ada 2 + bob 1, over 2 contacted leads.
        assert!(
            close(ana.touches_per_lead, 1.5),
            "{:?}",
            ana.touches_per_lead
        );
        // Sent by ana in the period: ada 2, bob 1, eve 2 (Nov 1 13:00 and Nov 30 23:45 local;
        // not Oct 31 23:50) = 5 to 3 leads; ada replied (positive: interested), bob bounced.
        assert_eq!(activity(ana), (5, 3, 1, 1, 0, 1, 0));
        assert!(close(ana.reply_rate, 1.0 / 3.0) && close(ana.bounce_rate, 1.0 / 3.0));
        assert!(close(ana.unsubscribe_rate, 0.0));
        // ben: cy, dee (assigned to him), fay (Nov 30 23:30 local), gus, ivy; not hal (Dec 1
        // local). Contacted: cy 5 min, gus 1 h, ivy 30 min: median 1800, p90 (rank 3) 3600.
        assert_eq!(cohort(ben), (Some(5), Some(3), Some(1800), Some(3600)));
        // cy 2 + gus 2 + ivy 1 touches over 3.
        assert!(close(ben.touches_per_lead, 5.0 / 3.0));
        // Sent: cy 2, gus 2, ivy 1 (hal's is December); ivy replied (her auto-reply does not
        // count); cy's meeting is positive; cy unsubscribed.
        assert_eq!(activity(ben), (5, 3, 1, 1, 1, 0, 1));
        assert!(close(ben.meeting_rate, 1.0 / 3.0) && close(ben.positive_rate, 1.0 / 3.0));
    })
    .await;
}

#[tokio::test]
async fn follow_through_shows_who_leaves_leads_untouched() {
    for_each_store("report_follow_through", |s| async move {
        seed(&s).await;
        let (p, now) = november();
        let reps = ["ana".to_string(), "ben".to_string(), "cid".to_string()];
        let f = report::follow_through(&s, &reps, &p, now)
            .await
            .expect("follow-through");
        let row =
            |rep: &str, received, never_contacted, stopped_early, tasks_overdue| FollowThrough {
                rep: rep.into(),
                received,
                never_contacted,
                stopped_early,
                tasks_overdue,
            };
        assert_eq!(
            f,
            vec![
                row("ana", 2, 0, 0, 0),
                // dee and fay never emailed; gus stopped by hand after 2 touches; his call due
                // Nov 25 is overdue on Dec 10 (the one due Dec 30 and the done one are not).
                row("ben", 5, 2, 1, 1),
                // A rep with nothing still shows.
                row("cid", 0, 0, 0, 0),
            ]
        );
    })
    .await;
}

#[tokio::test]
async fn report_by_sequence_follows_each_enrollment() {
    for_each_store("report_by_sequence", |s| async move {
        seed(&s).await;
        let r = rows(&s, Grouping::Sequence).await;
        assert_eq!(keys(&r), ["cold", "inbound"]);
        let (cold, inbound) = (&r[0], &r[1]);
        // Enrolled in cold in November: ada, bob, cy, gus, ivy (eve in October, hal in
        // December). Waits to their first cold email: 1800, 7200, 21600 (cy's cold intro came
        // 6 h after enrolling, though inbound emailed her at once), 3600, 1800.
        // Sorted 1800 1800 3600 7200 21600: median 3600, p90 (rank 5) 21600.
        assert_eq!(cohort(cold), (Some(5), Some(5), Some(3600), Some(21600)));
        // Cold touches: ada 2, bob 1, cy 1, gus 2, ivy 1 = 7 over 5.
        assert!(close(cold.touches_per_lead, 1.4));
        // Sent: ada 2, bob 1, cy 1, eve 2, gus 2, ivy 1 = 9 to 6 leads. Replies: ada, ivy.
        // Positive: ada (interested), cy (meeting, credited to her last email: cold's intro).
        assert_eq!(activity(cold), (9, 6, 2, 2, 1, 1, 0));
        assert_eq!(cohort(inbound), (Some(1), Some(1), Some(300), Some(300)));
        assert!(close(inbound.touches_per_lead, 1.0));
        // cy unsubscribed from the inbound email.
        assert_eq!(activity(inbound), (1, 1, 0, 0, 0, 0, 1));
    })
    .await;
}

#[tokio::test]
async fn report_by_step_credits_each_outcome_to_the_email_it_answers() {
    for_each_store("report_by_step", |s| async move {
        seed(&s).await;
        let r = rows(&s, Grouping::Step).await;
        assert_eq!(
            keys(&r),
            [
                "cold / breakup",
                "cold / follow",
                "cold / intro",
                "inbound / first"
            ]
        );
        // Steps have no arrivals of their own.
        assert!(r.iter().all(|r| cohort(r) == (None, None, None, None)));
        assert_eq!(activity(&r[0]), (1, 1, 0, 0, 0, 0, 0)); // eve, Nov 30 23:45 local
        // ada, eve, gus; ada's reply and its "interested" answer the follow-up.
        assert_eq!(activity(&r[1]), (3, 3, 1, 1, 0, 0, 0));
        // ada, bob, cy, gus, ivy; ivy's reply, cy's meeting, bob's bounce.
        assert_eq!(activity(&r[2]), (5, 5, 1, 1, 1, 1, 0));
        assert_eq!(activity(&r[3]), (1, 1, 0, 0, 0, 0, 1));
    })
    .await;
}

#[tokio::test]
async fn report_by_variant_compares_a_and_b_with_a_verdict() {
    for_each_store("report_by_variant", |s| async move {
        seed(&s).await;
        let r = rows(&s, Grouping::Variant).await;
        assert_eq!(
            keys(&r),
            [
                "cold / breakup / (none)",
                "cold / follow / (none)",
                "cold / intro / a",
                "cold / intro / b",
                "inbound / first / (none)"
            ]
        );
        // A: ada, cy (cy's meeting). B: bob, gus, ivy (ivy replied, bob bounced).
        assert_eq!(activity(&r[2]), (2, 2, 0, 1, 1, 0, 0));
        assert_eq!(activity(&r[3]), (3, 3, 1, 0, 0, 1, 0));
        let ab = report::ab_tests(&r);
        assert_eq!(ab.len(), 1);
        let c = &ab[0].comparison;
        assert_eq!(
            (ab[0].sequence.as_str(), ab[0].step.as_str()),
            ("cold", "intro")
        );
        assert_eq!(c.arms[0].variant, "b");
        assert!(!c.significant);
        // B 1/3 vs A 0/2. Per arm (1.959964 + 0.841621)^2 * (1/3 * 2/3 + 0) / (1/3)^2
        // = 7.84888 * 2 = 15.7 -> 16 sends: 13 more for B, 14 for A.
        assert_eq!(c.more_sends_needed, Some(27));
        assert_eq!(
            c.verdict,
            "B ahead, not yet significant: needs about 27 more sends"
        );
    })
    .await;
}

#[tokio::test]
async fn report_by_source_groups_by_where_leads_came_from() {
    for_each_store("report_by_source", |s| async move {
        seed(&s).await;
        let r = rows(&s, Grouping::Source).await;
        assert_eq!(keys(&r), ["api", "cli", "csv:a.csv"]);
        // api: bob (2 h), dee (never); hal is December.
        assert_eq!(cohort(&r[0]), (Some(2), Some(1), Some(7200), Some(7200)));
        assert_eq!(activity(&r[0]), (1, 1, 0, 0, 0, 1, 0));
        // cli: eve arrived in October; her two November emails still count as activity.
        assert_eq!(cohort(&r[1]), (Some(0), Some(0), None, None));
        assert_eq!(activity(&r[1]), (2, 1, 0, 0, 0, 0, 0));
        // csv: ada 1800, cy 300, fay never, gus 3600, ivy 1800: median of 300 1800 1800 3600
        // is 1800, p90 (rank 4) 3600. Touches 2 + 2 + 2 + 1 over 4.
        assert_eq!(cohort(&r[2]), (Some(5), Some(4), Some(1800), Some(3600)));
        assert!(close(r[2].touches_per_lead, 1.75));
        assert_eq!(activity(&r[2]), (7, 4, 2, 2, 1, 0, 1));
    })
    .await;
}

#[tokio::test]
async fn a_report_for_a_past_period_does_not_change_when_later_events_arrive() {
    for_each_store("report_past_is_fixed", |s| async move {
        seed(&s).await;
        let before = rows(&s, Grouping::Rep).await;
        // December: dee finally emailed, fay reassigned, a late reply from bob.
        for (at, kind, lead, mailbox) in [
            ("2026-12-02T10:00:00Z", "sent", 4, "ben"),
            ("2026-12-02T10:00:00Z", "assigned", 6, "ana"),
            ("2026-12-03T10:00:00Z", "replied", 2, "ana"),
        ] {
            s.exec(&format!(
                "INSERT INTO events (at, kind, lead_id, mailbox, data) VALUES ({}, '{kind}', {lead}, '{mailbox}', '{{}}')",
                t(at)
            ))
            .await;
        }
        s.exec("UPDATE leads SET owner = 'ana' WHERE id = 6").await;
        assert_eq!(rows(&s, Grouping::Rep).await, before);
    })
    .await;
}

#[tokio::test]
async fn forgetting_people_leaves_past_reports_as_they_were() {
    for_each_store("report_forget", |s| async move {
        seed(&s).await;
        let groupings = [
            Grouping::Rep,
            Grouping::Sequence,
            Grouping::Step,
            Grouping::Variant,
            Grouping::Source,
        ];
        let mut before = Vec::new();
        for by in groupings {
            before.push(rows(&s, by).await);
        }
        let (p, now) = november();
        let reps = ["ana".to_string(), "ben".to_string()];
        let follow_before = report::follow_through(&s, &reps, &p, now)
            .await
            .expect("follow-through");
        // Ada (two emails, a reply marked interested), Bob (bounced), Cy (two sequences, an
        // unsubscribe, a meeting) and Gus (stopped by hand after two emails) ask to be
        // forgotten in December.
        let forgot_at = t("2026-12-05T10:00:00Z");
        for email in [
            "ada@a.example",
            "bob@b.example",
            "cy@c.example",
            "gus@g.example",
        ] {
            let email = drumbeat::lead::Email::parse(email).expect("address");
            assert!(
                s.forget(&email, forgot_at).await.expect("forget"),
                "{}",
                s.engine
            );
        }
        assert_eq!(
            s.int(
                "SELECT COUNT(*) FROM leads WHERE email LIKE '%@%.example' AND id IN (1, 2, 3, 7)"
            )
            .await,
            0
        );
        for (by, before) in groupings.into_iter().zip(before) {
            assert_eq!(
                rows(&s, by).await,
                before,
                "{}: --by {}",
                s.engine,
                by.as_str()
            );
        }
        let mut follow = report::follow_through(&s, &reps, &p, now)
            .await
            .expect("follow-through");
        // Tasks overdue are a state of now, not of November: Gus's call went with him.
        assert_eq!(
            (follow[1].tasks_overdue, follow_before[1].tasks_overdue),
            (0, 1)
        );
        follow[1].tasks_overdue = 1;
        assert_eq!(follow, follow_before, "{}", s.engine);
    })
    .await;
}

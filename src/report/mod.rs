//! `drumbeat report`: how many leads came in, how fast each was first contacted, how many
//! touches each got and what came of it, by rep, sequence, step, A/B variant or lead source;
//! who follows up (the follow-through view); and the same as one HTML page with charts.
//!
//! Every number comes from the event log (see `store::report` for what each counts), so a
//! report for a period in the past never changes.

pub mod format;
pub mod html;
pub mod period;
pub mod stats;

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::store::{ActivityCounts, CohortCounts, Grouping, Store, StoreError};
pub use period::{Period, PeriodOut};
use stats::{Arm, Comparison, compare, median, percentile_sorted, rate};

/// One row of a report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// The group: a rep, a sequence, `sequence / step`, `sequence / step / variant`, a source.
    pub key: String,
    /// The key's parts (sequence, step, variant).
    pub parts: Vec<String>,
    /// Leads received in the period (by sequence: enrolled). None where it has no meaning
    /// (steps, variants).
    pub received: Option<i64>,
    /// Of those, emailed before the period ended.
    pub contacted: Option<i64>,
    /// Median wait from arrival to the first email, in seconds (speed to lead).
    pub first_touch_median_secs: Option<i64>,
    /// 90th percentile of that wait.
    pub first_touch_p90_secs: Option<i64>,
    /// Touches (emails, tasks done) per contacted lead, by the period's end.
    pub touches_per_lead: Option<f64>,
    /// Emails sent in the period.
    pub sent: i64,
    /// Distinct leads emailed in the period.
    pub emailed: i64,
    /// Leads who replied (people, not auto-replies).
    pub replied: i64,
    /// `replied / emailed`.
    pub reply_rate: Option<f64>,
    /// Leads with a positive outcome (meeting booked; reply marked interested or referral).
    pub positive: i64,
    /// `positive / emailed`.
    pub positive_rate: Option<f64>,
    /// Leads who booked a meeting.
    pub meetings: i64,
    /// `meetings / emailed`.
    pub meeting_rate: Option<f64>,
    /// Leads who bounced.
    pub bounced: i64,
    /// `bounced / emailed`.
    pub bounce_rate: Option<f64>,
    /// Leads who unsubscribed.
    pub unsubscribed: i64,
    /// `unsubscribed / emailed`.
    pub unsubscribe_rate: Option<f64>,
}

/// Who follows up: one rep's leads received in the period and what the rep did with them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FollowThrough {
    /// The rep (mailbox name), or `(unowned)`.
    pub rep: String,
    /// Leads received in the period that the rep owned at its end.
    pub received: i64,
    /// Of those, never emailed by the period's end.
    pub never_contacted: i64,
    /// Of those, stopped by hand after fewer than five touches.
    pub stopped_early: i64,
    /// The rep's open tasks past due now.
    pub tasks_overdue: i64,
}

/// The variants of one step compared.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AbTest {
    /// The sequence.
    pub sequence: String,
    /// The step.
    pub step: String,
    /// The comparison and its verdict.
    #[serde(flatten)]
    pub comparison: Comparison,
}

/// A report as `drumbeat report` prints it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The period.
    pub period: PeriodOut,
    /// How rows are grouped.
    pub by: Grouping,
    /// One per group.
    pub rows: Vec<Row>,
    /// Per rep (with `--by rep`).
    pub follow_through: Vec<FollowThrough>,
    /// Per step with variants (with `--by variant`).
    pub ab_tests: Vec<AbTest>,
}

/// Emails and replies on one local day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Day {
    /// The date in the report's zone.
    pub date: NaiveDate,
    /// Emails sent.
    pub sent: i64,
    /// Replies.
    pub replied: i64,
}

/// Everything the HTML report draws.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Dashboard {
    /// The period.
    pub period: PeriodOut,
    /// `2026-11-01 to 2026-11-30 (Europe/Madrid)`.
    pub title: String,
    /// By rep.
    pub reps: Vec<Row>,
    /// By sequence (the funnels).
    pub sequences: Vec<Row>,
    /// By step (reply rate per step).
    pub steps: Vec<Row>,
    /// By variant.
    pub variants: Vec<Row>,
    /// The A/B tests.
    pub ab_tests: Vec<AbTest>,
    /// Per rep.
    pub follow_through: Vec<FollowThrough>,
    /// Every day of the period.
    pub days: Vec<Day>,
    /// When it was made.
    pub generated_at: DateTime<Utc>,
}

/// What a group with no key is called.
fn unknown(by: Grouping) -> &'static str {
    match by {
        Grouping::Rep => "(unowned)",
        Grouping::Source => "(unknown)",
        _ => "(none)",
    }
}

/// The rows of a report `by`, over `period`.
pub async fn rows(store: &Store, by: Grouping, period: &Period) -> Result<Vec<Row>, StoreError> {
    let (activity, cohort) = counts(store, by, period).await?;
    Ok(merge(by, activity, cohort))
}

/// The activity and cohort counts of a report `by`, read at once: the cohort on one
/// connection, the activity on as many as the store reads it in parts
/// ([`Store::activity_parts`]).
async fn counts(
    store: &Store,
    by: Grouping,
    period: &Period,
) -> Result<(Vec<ActivityCounts>, Vec<CohortCounts>), StoreError> {
    let (since, until) = (period.since.timestamp(), period.until.timestamp());
    let parts = store.activity_parts();
    let activity = futures_util::future::try_join_all(
        (0..parts).map(|part| store.report_activity_part(by, since, until, part, parts)),
    );
    let (activity, cohort) = tokio::try_join!(activity, store.report_cohort(by, since, until))?;
    Ok((add_up(activity), cohort))
}

/// The parts' activity counts as one: each count is of events or of distinct people, and no
/// person is in two parts.
fn add_up(parts: Vec<Vec<ActivityCounts>>) -> Vec<ActivityCounts> {
    let mut groups: BTreeMap<Vec<Option<String>>, ActivityCounts> = BTreeMap::new();
    for a in parts.into_iter().flatten() {
        let g = groups
            .entry(a.key.clone())
            .or_insert_with(|| ActivityCounts {
                key: a.key.clone(),
                ..ActivityCounts::default()
            });
        g.sent += a.sent;
        g.emailed += a.emailed;
        g.replied += a.replied;
        g.positive += a.positive;
        g.meetings += a.meetings;
        g.bounced += a.bounced;
        g.unsubscribed += a.unsubscribed;
    }
    groups.into_values().collect()
}

/// Activity and cohort counts joined on their key, sorted by key.
pub fn merge(by: Grouping, activity: Vec<ActivityCounts>, cohort: Vec<CohortCounts>) -> Vec<Row> {
    let label = |parts: &[Option<String>]| -> Vec<String> {
        parts
            .iter()
            .map(|p| p.clone().unwrap_or_else(|| unknown(by).to_string()))
            .collect()
    };
    let has_cohort = matches!(by, Grouping::Rep | Grouping::Source | Grouping::Sequence);
    let mut groups: BTreeMap<Vec<String>, (ActivityCounts, Option<CohortCounts>)> = BTreeMap::new();
    for a in activity {
        let k = label(&a.key);
        groups.entry(k).or_default().0 = a;
    }
    for c in cohort {
        let k = label(std::slice::from_ref(&c.key));
        groups.entry(k).or_default().1 = Some(c);
    }
    groups
        .into_iter()
        .map(|(parts, (a, c))| {
            let c = c.unwrap_or_default();
            let mut waits = c.waits;
            let med = median(&mut waits);
            let p90 = percentile_sorted(&waits, 90);
            let cohort_value = |v: i64| has_cohort.then_some(v);
            Row {
                key: parts.join(" / "),
                parts,
                received: cohort_value(c.received),
                contacted: cohort_value(c.contacted),
                first_touch_median_secs: med,
                first_touch_p90_secs: p90,
                touches_per_lead: if has_cohort {
                    rate(c.touches, c.contacted)
                } else {
                    None
                },
                sent: a.sent,
                emailed: a.emailed,
                replied: a.replied,
                reply_rate: rate(a.replied, a.emailed),
                positive: a.positive,
                positive_rate: rate(a.positive, a.emailed),
                meetings: a.meetings,
                meeting_rate: rate(a.meetings, a.emailed),
                bounced: a.bounced,
                bounce_rate: rate(a.bounced, a.emailed),
                unsubscribed: a.unsubscribed,
                unsubscribe_rate: rate(a.unsubscribed, a.emailed),
            }
        })
        .collect()
}

/// The follow-through view: every rep in `reps` (the mailboxes), and any other owner the
/// period saw.
pub async fn follow_through(
    store: &Store,
    reps: &[String],
    period: &Period,
    now: DateTime<Utc>,
) -> Result<Vec<FollowThrough>, StoreError> {
    let (since, until) = (period.since.timestamp(), period.until.timestamp());
    let cohort = store.report_cohort(Grouping::Rep, since, until).await?;
    follow_through_of(store, reps, &cohort, now).await
}

/// [`follow_through`] from the cohort by rep already read.
async fn follow_through_of(
    store: &Store,
    reps: &[String],
    cohort: &[CohortCounts],
    now: DateTime<Utc>,
) -> Result<Vec<FollowThrough>, StoreError> {
    let overdue = store.report_overdue_tasks(now.timestamp()).await?;
    let mut out: BTreeMap<String, FollowThrough> = BTreeMap::new();
    fn row<'a>(out: &'a mut BTreeMap<String, FollowThrough>, rep: &str) -> &'a mut FollowThrough {
        out.entry(rep.to_string()).or_insert_with(|| FollowThrough {
            rep: rep.to_string(),
            received: 0,
            never_contacted: 0,
            stopped_early: 0,
            tasks_overdue: 0,
        })
    }
    for r in reps {
        row(&mut out, r);
    }
    for c in cohort {
        let f = row(&mut out, c.key.as_deref().unwrap_or(unknown(Grouping::Rep)));
        f.received += c.received;
        f.never_contacted += c.received - c.contacted;
        f.stopped_early += c.short_stops;
    }
    for (owner, n) in overdue {
        row(&mut out, owner.as_deref().unwrap_or(unknown(Grouping::Rep))).tasks_overdue += n;
    }
    Ok(out.into_values().collect())
}

/// Puts step and variant rows of each sequence in the order of its steps (`position` gives a
/// step's index in its sequence file; steps no longer in the file go last, by name).
pub fn order_steps(rows: &mut [Row], position: impl Fn(&str, &str) -> Option<usize>) {
    rows.sort_by(|a, b| {
        let rank = |r: &Row| -> (String, usize, Vec<String>) {
            let seq = r.parts.first().cloned().unwrap_or_default();
            let step = r.parts.get(1).map(String::as_str).unwrap_or_default();
            (
                seq.clone(),
                position(&seq, step).unwrap_or(usize::MAX),
                r.parts.iter().skip(1).cloned().collect(),
            )
        };
        rank(a).cmp(&rank(b))
    });
}

/// The A/B tests among rows by variant: each step with two variants or more.
pub fn ab_tests(variant_rows: &[Row]) -> Vec<AbTest> {
    let mut steps: BTreeMap<(String, String), Vec<Arm>> = BTreeMap::new();
    for r in variant_rows {
        let [sequence, step, variant] = &r.parts[..] else {
            continue;
        };
        if variant == unknown(Grouping::Variant) {
            continue;
        }
        steps
            .entry((sequence.clone(), step.clone()))
            .or_default()
            .push(Arm::new(variant, r.sent, r.replied));
    }
    steps
        .into_iter()
        .filter(|(_, arms)| arms.len() >= 2)
        .map(|((sequence, step), arms)| AbTest {
            sequence,
            step,
            comparison: compare(arms),
        })
        .collect()
}

/// The report `by` over `period`.
pub async fn build(
    store: &Store,
    by: Grouping,
    period: &Period,
    reps: &[String],
    now: DateTime<Utc>,
) -> Result<Report, StoreError> {
    let (activity, cohort) = counts(store, by, period).await?;
    // By rep, the follow-through view reads the same cohort.
    let follow_through = if by == Grouping::Rep {
        follow_through_of(store, reps, &cohort, now).await?
    } else {
        Vec::new()
    };
    let mut rows = merge(by, activity, cohort);
    if by == Grouping::Intent {
        // Replies only: emails, bounces and unsubscribes have no intent.
        rows.retain(|r| r.parts.iter().all(|p| p != unknown(by)));
    }
    let ab = if by == Grouping::Variant {
        ab_tests(&rows)
    } else {
        Vec::new()
    };
    Ok(Report {
        period: period.out(),
        by,
        rows,
        follow_through,
        ab_tests: ab,
    })
}

/// Everything the HTML report shows.
pub async fn dashboard(
    store: &Store,
    period: &Period,
    reps: &[String],
    now: DateTime<Utc>,
) -> Result<Dashboard, StoreError> {
    // One part after the other, each on several connections at once (see `counts`): at most
    // the SQLite pool's four, so that no query waits for a connection.
    let variants = rows(store, Grouping::Variant, period).await?;
    let by_rep = build(store, Grouping::Rep, period, reps, now).await?;
    let (quarters, sequences) = tokio::try_join!(
        store.report_quarter_hours(period.since.timestamp(), period.until.timestamp()),
        rows(store, Grouping::Sequence, period),
    )?;
    let steps = rows(store, Grouping::Step, period).await?;
    let mut days: BTreeMap<NaiveDate, Day> = period
        .days()
        .into_iter()
        .map(|date| {
            (
                date,
                Day {
                    date,
                    sent: 0,
                    replied: 0,
                },
            )
        })
        .collect();
    for q in quarters {
        let Some(at) = DateTime::<Utc>::from_timestamp(q.start, 0) else {
            continue;
        };
        if let Some(d) = days.get_mut(&at.with_timezone(&period.tz).date_naive()) {
            d.sent += q.sent;
            d.replied += q.replied;
        }
    }
    Ok(Dashboard {
        period: period.out(),
        title: period.describe(),
        reps: by_rep.rows,
        sequences,
        steps,
        ab_tests: ab_tests(&variants),
        variants,
        follow_through: by_rep.follow_through,
        days: days.into_values().collect(),
        generated_at: now,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(parts: &[&str]) -> Row {
        let parts: Vec<String> = parts.iter().map(|p| p.to_string()).collect();
        Row {
            key: parts.join(" / "),
            parts,
            received: None,
            contacted: None,
            first_touch_median_secs: None,
            first_touch_p90_secs: None,
            touches_per_lead: None,
            sent: 0,
            emailed: 0,
            replied: 0,
            reply_rate: None,
            positive: 0,
            positive_rate: None,
            meetings: 0,
            meeting_rate: None,
            bounced: 0,
            bounce_rate: None,
            unsubscribed: 0,
            unsubscribe_rate: None,
        }
    }

    #[test]
    fn steps_follow_their_sequence_file_and_removed_steps_go_last() {
        let mut rows = vec![
            row(&["cold", "break-up", "(none)"]),
            row(&["cold", "intro", "b"]),
            row(&["cold", "old-step", "(none)"]),
            row(&["cold", "intro", "a"]),
            row(&["inbound", "welcome", "(none)"]),
            row(&["cold", "bump", "(none)"]),
        ];
        let order = ["intro", "bump", "break-up"];
        order_steps(&mut rows, |seq, step| {
            (seq == "cold").then(|| order.iter().position(|s| *s == step))?
        });
        let keys: Vec<&str> = rows.iter().map(|r| r.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "cold / intro / a",
                "cold / intro / b",
                "cold / bump / (none)",
                "cold / break-up / (none)",
                "cold / old-step / (none)",
                "inbound / welcome / (none)"
            ]
        );
    }
}

//! What `drumbeat report` reads: counts over the event log for a period, grouped by rep,
//! sequence, step, variant, lead source or a reply's intent. Only `events` is read, and
//! `lead_facts`, which a trigger keeps from it (tasks overdue aside, which are a state of now),
//! so a report for a period in the past never changes.
//!
//! Two kinds of numbers:
//! - **activity**: what happened in the period (emails sent, replies, bounces…). An outcome (a
//!   reply, a bounce, a meeting) is credited to the email it answers: the touch it names, else
//!   the lead's last email before it; so a reply counts for the step and variant it came after.
//! - **cohort**: the leads received (or, by sequence, enrolled) in the period, and what became
//!   of them by its end: contacted or not, how soon, how many touches, stopped by hand early.

use sqlx::Row;

use super::{Backend, Store, StoreError, built};

/// How report rows are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Grouping {
    /// The rep (mailbox) who owns the lead, sent the email or got the reply.
    Rep,
    /// The sequence.
    Sequence,
    /// Sequence and step.
    Step,
    /// Sequence, step and A/B variant.
    Variant,
    /// Where the lead came from (`csv:FILE` for an import, `api` for the lead API).
    Source,
    /// What a person's reply meant (interested, meeting-request, not-interested, wrong-person,
    /// referral, unclear): replies only.
    Intent,
}

impl Grouping {
    /// The name used on the command line and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Grouping::Rep => "rep",
            Grouping::Sequence => "sequence",
            Grouping::Step => "step",
            Grouping::Variant => "variant",
            Grouping::Source => "source",
            Grouping::Intent => "intent",
        }
    }

    /// Number of key parts: sequence/step/variant.
    pub fn key_parts(self) -> usize {
        match self {
            Grouping::Step => 2,
            Grouping::Variant => 3,
            _ => 1,
        }
    }
}

/// What happened in the period, for one group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActivityCounts {
    /// The group's key (one part, or sequence/step[/variant]); `None` parts are unknown.
    pub key: Vec<Option<String>>,
    /// Emails sent.
    pub sent: i64,
    /// Distinct leads emailed.
    pub emailed: i64,
    /// Distinct leads who replied (a person, not an auto-reply).
    pub replied: i64,
    /// Distinct leads with a positive outcome: a meeting booked, or a reply the rep marked
    /// interested, referral or meeting-booked.
    pub positive: i64,
    /// Distinct leads who booked a meeting.
    pub meetings: i64,
    /// Distinct leads who bounced.
    pub bounced: i64,
    /// Distinct leads who unsubscribed.
    pub unsubscribed: i64,
}

/// The leads that arrived in the period (by sequence: were enrolled), for one group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CohortCounts {
    /// The group's key.
    pub key: Option<String>,
    /// Leads received (enrolled).
    pub received: i64,
    /// Of those, emailed before the period ended.
    pub contacted: i64,
    /// Seconds from arrival to the first email, one per contacted lead.
    pub waits: Vec<i64>,
    /// Touches (emails sent, tasks done) the contacted leads got before the period ended.
    pub touches: i64,
    /// Leads whose sequence the rep stopped by hand after fewer than five touches.
    pub short_stops: i64,
}

/// Emails sent and replies in one quarter-hour (every time zone's midnight falls on one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuarterHour {
    /// Unix seconds of its start.
    pub start: i64,
    /// Emails sent.
    pub sent: i64,
    /// Replies.
    pub replied: i64,
}

/// The outcomes a rep's `reply handled --outcome` word makes positive.
pub const POSITIVE_OUTCOMES: [&str; 4] = ["interested", "referral", "meeting-booked", "positive"];

impl Store {
    /// Runs a report query; on SQLite with `temp_store = FILE` for its duration (see
    /// `sql/report/temp_store_file.sqlite.sql` for why), on PostgreSQL in a transaction
    /// with the settings of `sql/report/settings.postgres.sql`.
    async fn report_rows<'q>(
        &self,
        query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    ) -> Result<Vec<sqlx::any::AnyRow>, StoreError> {
        if self.backend == Backend::Postgres {
            let mut tx = self.pool.begin().await?;
            sqlx::query(include_str!("sql/report/settings.postgres.sql"))
                .execute(&mut *tx)
                .await?;
            let rows = query.fetch_all(&mut *tx).await?;
            tx.commit().await?;
            return Ok(rows);
        }
        let mut conn = self.pool.acquire().await?;
        sqlx::query(include_str!("sql/report/temp_store_file.sqlite.sql"))
            .execute(&mut *conn)
            .await?;
        let rows = query.fetch_all(&mut *conn).await;
        sqlx::query(include_str!("sql/report/temp_store_memory.sqlite.sql"))
            .execute(&mut *conn)
            .await?;
        Ok(rows?)
    }
}

/// `col`'s `key` as text, per engine.
fn json_text(backend: Backend, col: &str, key: &str) -> String {
    match backend {
        Backend::Sqlite => format!("json_extract({col}, '$.{key}')"),
        Backend::Postgres => format!("({col}::jsonb ->> '{key}')"),
    }
}

/// Comma-separated aggregation of an integer expression, per engine.
fn concat(backend: Backend, expr: &str) -> String {
    match backend {
        Backend::Sqlite => format!("group_concat({expr})"),
        Backend::Postgres => format!("string_agg(({expr})::text, ',')"),
    }
}

/// The group key columns (`k0`, `k1`…) of an outcome `e`, whose email is `s` (the email it
/// answers).
fn key_columns(backend: Backend, by: Grouping, e: &str, s: &str) -> String {
    match by {
        Grouping::Rep => format!("COALESCE({e}.mailbox, {s}.mailbox) AS k0"),
        Grouping::Sequence => format!("{s}.sequence_id AS k0"),
        Grouping::Step => format!("{s}.sequence_id AS k0, {s}.step_id AS k1"),
        Grouping::Variant => format!(
            "{s}.sequence_id AS k0, {s}.step_id AS k1, {} AS k2",
            json_text(backend, &format!("{s}.data"), "variant")
        ),
        Grouping::Source => "l.source AS k0".into(),
        Grouping::Intent => format!(
            "{} AS k0",
            json_text(backend, &format!("{e}.data"), "intent")
        ),
    }
}

/// The group key columns of an email `f` of `email_facts`, and which of its previous times
/// says whether it is the person's first in the group: a person emailed in a period, in a
/// group, is one whose email there has no previous one in it since the period began.
fn email_keys(by: Grouping) -> (&'static str, &'static str) {
    match by {
        Grouping::Rep => ("f.mailbox AS k0", "prev_mailbox"),
        Grouping::Sequence => ("f.sequence_id AS k0", "prev_sequence"),
        Grouping::Step => ("f.sequence_id AS k0, f.step_id AS k1", "prev_step"),
        Grouping::Variant => (
            "f.sequence_id AS k0, f.step_id AS k1, f.variant AS k2",
            "prev_variant",
        ),
        // A person has one source, and emails have no intent: anyone emailed.
        Grouping::Source => ("l.source AS k0", "prev_any"),
        Grouping::Intent => ("CAST(NULL AS TEXT) AS k0", "prev_any"),
    }
}

/// The condition that keeps an activity's rows to the people of part `part` of `parts`
/// (nothing for one part). People are dealt to the parts by a hash of their id `who`, not the
/// id itself: ids often come in patterns (the 10M benchmark emails even leads twice, odd ones
/// once), and parts split by parity took 3.7 s and 5.2 s where even ones take the same time.
/// Multiplying modulo a prime mixes the id without overflowing 64 bits.
fn part_filter(who: &str, part: u32, parts: u32) -> String {
    if parts > 1 {
        format!("AND ABS({who}) % 1000003 * 7919 % 1000003 % {parts} = {part}")
    } else {
        String::new()
    }
}

/// The join of an outcome `e` to the email it answers, `s`: the touch it names, else the lead's
/// last email before it; one index look-up per outcome. On PostgreSQL a LATERAL subquery with a
/// LIMIT (which it cannot flatten into a join): as a plain join, the planner once chose to hash
/// all 42.9M events for 160,000 outcomes (21 s instead of 0.6).
fn answered_join(b: Backend) -> String {
    let email_of = "COALESCE(\
        (SELECT MIN(c.id) FROM events c WHERE c.touch_id = e.touch_id AND c.kind = 'sent'), \
        (SELECT c.id FROM events c WHERE c.lead_id = e.lead_id AND c.kind = 'sent' AND c.at <= e.at \
         ORDER BY c.at DESC, c.id DESC LIMIT 1))";
    match b {
        Backend::Postgres => format!(
            "LEFT JOIN LATERAL (SELECT a.mailbox, a.sequence_id, a.step_id, a.data FROM events a \
             WHERE a.id = {email_of} LIMIT 1) s ON TRUE"
        ),
        Backend::Sqlite => format!("LEFT JOIN events s ON s.id = {email_of}"),
    }
}

/// The statement of [`Store::report_activity_part`] (`$1` since, `$2` until). Emails are
/// counted from `email_facts` (migrations/*/0025_email_facts.sql): per group, the emails of the
/// period and, of them, the first to each person there (no previous one since `$1`), one pass
/// with no sort. Outcomes (replies, bounces…, a few per hundred emails) are counted per
/// person, each taking the key of the email it answers: the touch it names, else the lead's
/// last email before it; `ev` holds only what their GROUP BY sorts.
fn activity_sql(b: Backend, by: Grouping, part: u32, parts: u32) -> String {
    let outcome = json_text(b, "e.data", "outcome");
    let positive = POSITIVE_OUTCOMES
        .iter()
        .map(|o| format!("'{o}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let group: Vec<String> = (0..by.key_parts()).map(|i| format!("k{i}")).collect();
    let group = group.join(", ");
    let source_join = |lead: &str| {
        if by == Grouping::Source {
            format!("LEFT JOIN leads l ON l.id = {lead}")
        } else {
            String::new()
        }
    };
    // A person: the lead, or for one forgotten before their lead stayed (lead_id cleared)
    // the enrollment (email_facts.who is the same, taken when the email was recorded).
    let who = "COALESCE(e.lead_id, -e.enrollment_id, -e.id)";
    let part_of = |who: &str| part_filter(who, part, parts);
    let (email_keys, prev) = email_keys(by);
    let answered = answered_join(b);
    let has = |kind: &str| format!("MAX(CASE WHEN ev.kind = '{kind}' THEN 1 ELSE 0 END)");
    format!(
        "WITH em AS (\
           SELECT {email_keys}, COUNT(*) AS sent, \
             SUM(CASE WHEN f.{prev} IS NULL OR f.{prev} < $1 THEN 1 ELSE 0 END) AS emailed \
           FROM email_facts f {email_source} \
           WHERE f.at >= $1 AND f.at < $2 {email_part} \
           GROUP BY {group}), \
         ev AS (\
           SELECT e.kind, {who} AS who, \
             CASE WHEN e.kind = 'meeting-booked' OR (e.kind = 'reply-handled' AND {outcome} IN ({positive})) \
               THEN 1 ELSE 0 END AS pos, {outcome_keys} \
           FROM events e {answered} {outcome_source} \
           WHERE e.kind IN ('replied', 'bounced', 'unsubscribed', 'meeting-booked', 'reply-handled') \
             AND e.at >= $1 AND e.at < $2 {outcome_part}), \
         per AS (\
           SELECT {group}, {replied} AS replied, MAX(ev.pos) AS positive, {meetings} AS meetings, \
             {bounced} AS bounced, {unsubscribed} AS unsubscribed \
           FROM ev GROUP BY ev.who, {group}), \
         counts AS (\
           SELECT {group}, sent, emailed, 0 AS replied, 0 AS positive, 0 AS meetings, 0 AS bounced, \
             0 AS unsubscribed FROM em \
           UNION ALL \
           SELECT {group}, 0, 0, replied, positive, meetings, bounced, unsubscribed FROM per) \
         SELECT {group}, \
           CAST(SUM(sent) AS BIGINT) AS sent, CAST(SUM(emailed) AS BIGINT) AS emailed, \
           CAST(SUM(replied) AS BIGINT) AS replied, CAST(SUM(positive) AS BIGINT) AS positive, \
           CAST(SUM(meetings) AS BIGINT) AS meetings, CAST(SUM(bounced) AS BIGINT) AS bounced, \
           CAST(SUM(unsubscribed) AS BIGINT) AS unsubscribed \
         FROM counts GROUP BY {group} ORDER BY {group}",
        outcome_keys = key_columns(b, by, "e", "s"),
        email_source = source_join("f.who"),
        outcome_source = source_join("e.lead_id"),
        email_part = part_of("f.who"),
        outcome_part = part_of(who),
        replied = has("replied"),
        meetings = has("meeting-booked"),
        bounced = has("bounced"),
        unsubscribed = has("unsubscribed"),
    )
}

/// Touches: what counts as one for a cohort.
const TOUCH_KINDS: &str = "('sent', 'task-done')";

/// Whether the lead of `r` was stopped by hand before `$2` after fewer than five touches
/// (`within`: a condition on `{t}`, an event of the lead, that keeps it to the cohort's run).
fn short_stop(b: Backend, within: &str) -> String {
    let within = |t: &str| within.replace("{t}", t);
    format!(
        "EXISTS (SELECT 1 FROM events x WHERE x.lead_id = r.lead_id AND x.kind = 'stopped' \
           AND x.at < $2 {x_within} AND {by_hand} = 'hand' \
           AND (SELECT COUNT(*) FROM events s WHERE s.lead_id = x.lead_id AND s.kind IN {TOUCH_KINDS} \
                AND s.at <= x.at {s_within}) < 5)",
        x_within = within("x"),
        s_within = within("s"),
        by_hand = json_text(b, "x.data", "by"),
    )
}

/// The cohort's counts from `c` (one row per arrival: `k`, `at`, `first`, `touches`,
/// `short_stop`).
fn cohort_totals(b: Backend) -> String {
    format!(
        "SELECT c.k AS k, COUNT(*) AS received, COUNT(c.first) AS contacted, {waits} AS waits, \
           CAST(SUM(CASE WHEN c.first IS NOT NULL THEN c.touches ELSE 0 END) AS BIGINT) AS touches, \
           CAST(SUM(c.short_stop) AS BIGINT) AS short_stops \
         FROM c GROUP BY c.k ORDER BY c.k",
        waits = concat(b, "c.first - c.at"),
    )
}

/// The cohort of leads received in the period, by rep or source, from one row of facts per
/// lead (`lead_facts`, kept by a trigger on `events`; migrations/*/0024_lead_facts.sql): when
/// it arrived, its owner, its first email, its touches, a short stop. The facts are as they
/// stand now, so a lead whose facts changed at or after `$2` (a period in the past, a lead
/// still being worked at its end) is counted from its events before `$2` instead, one index
/// look-up each. On 10,000,000 leads the 90-day cohort by rep takes 0.6 s from the facts,
/// 7 to 8 s summed up from the period's events.
fn arrivals_sql(b: Backend, by: Grouping) -> String {
    let (settled_key, unsettled_key) = if by == Grouping::Source {
        ("r.source".to_string(), "r.source".to_string())
    } else {
        // The owner at the end: the last reassignment, else the owner on arrival, else the
        // mailbox that first emailed the lead.
        (
            "COALESCE(r.assigned_owner, r.received_owner, r.first_sent_mailbox)".to_string(),
            "COALESCE(CASE WHEN r.assigned_at IS NOT NULL THEN (SELECT a.mailbox FROM events a \
               WHERE a.lead_id = r.lead_id AND a.kind = 'assigned' AND a.at < $2 \
               ORDER BY a.at DESC, a.id DESC LIMIT 1) END, r.received_owner, \
               (SELECT s.mailbox FROM events s WHERE s.lead_id = r.lead_id AND s.kind = 'sent' \
               AND s.at < $2 ORDER BY s.at, s.id LIMIT 1))"
                .to_string(),
        )
    };
    format!(
        "WITH c AS MATERIALIZED (\
           SELECT {settled_key} AS k, r.received_at AS at, r.first_sent_at AS first, r.touches, \
             r.short_stop \
           FROM lead_facts r WHERE r.received_at >= $1 AND r.received_at < $2 AND r.changed_at < $2 \
           UNION ALL \
           SELECT {unsettled_key} AS k, r.received_at AS at, \
             (SELECT MIN(s.at) FROM events s WHERE s.lead_id = r.lead_id AND s.kind = 'sent' AND s.at < $2) AS first, \
             (SELECT COUNT(*) FROM events s WHERE s.lead_id = r.lead_id AND s.kind IN {TOUCH_KINDS} AND s.at < $2) AS touches, \
             CASE WHEN {short_stop} THEN 1 ELSE 0 END AS short_stop \
           FROM lead_facts r WHERE r.received_at >= $1 AND r.received_at < $2 AND r.changed_at >= $2) \
         {totals}",
        short_stop = short_stop(b, ""),
        totals = cohort_totals(b),
    )
}

/// The cohort of enrollments in the period, by sequence: a lead can be enrolled again, so
/// each enrollment's events are those of its sequence from its start, looked up per arrival.
fn enrollments_sql(b: Backend) -> String {
    let within = "AND {t}.sequence_id = r.sequence_id AND {t}.at >= r.at";
    let s_within = within.replace("{t}", "s");
    // MATERIALIZED: each lead's subqueries run once (a flattened subquery would run them
    // again for every aggregate that names their column).
    format!(
        "WITH c AS MATERIALIZED (SELECT r.sequence_id AS k, r.at, \
             (SELECT MIN(s.at) FROM events s WHERE s.lead_id = r.lead_id AND s.kind = 'sent' AND s.at < $2 {s_within}) AS first, \
             (SELECT COUNT(*) FROM events s WHERE s.lead_id = r.lead_id AND s.kind IN {TOUCH_KINDS} AND s.at < $2 {s_within}) AS touches, \
             CASE WHEN {short_stop} THEN 1 ELSE 0 END AS short_stop \
           FROM events r WHERE r.kind = 'enrolled' AND r.at >= $1 AND r.at < $2) \
         {totals}",
        short_stop = short_stop(b, within),
        totals = cohort_totals(b),
    )
}

impl Store {
    /// In how many parts a report reads the activity, each on its own connection at once.
    /// SQLite runs a query on one core, and two halves of the people took 3.7–3.9 s for a year
    /// on 1,000,000 leads where one query took 6.4–6.7 s (`benches/report.sh`). PostgreSQL
    /// shares a query out among its own workers, and every part reads all the period's emails
    /// to keep its people's: one query took 2.4 s for the 90-day report by rep on 10,000,000
    /// leads where two took 3.6 s (`benches/scale-pg.sh`).
    pub fn activity_parts(&self) -> u32 {
        match self.backend {
            Backend::Sqlite => 2,
            Backend::Postgres => 1,
        }
    }

    /// What happened between `since` and `until` (unix seconds, `until` excluded), by `by`.
    pub async fn report_activity(
        &self,
        by: Grouping,
        since: i64,
        until: i64,
    ) -> Result<Vec<ActivityCounts>, StoreError> {
        self.report_activity_part(by, since, until, 0, 1).await
    }

    /// [`Store::report_activity`] for part `part` of `parts` of the people (dealt by a hash of their id):
    /// every count is of events or of distinct people, so the parts' counts add up to the
    /// whole. Read on several connections at once, the parts share out the sorting that a long
    /// period's GROUP BY spends most of its time on.
    pub async fn report_activity_part(
        &self,
        by: Grouping,
        since: i64,
        until: i64,
        part: u32,
        parts: u32,
    ) -> Result<Vec<ActivityCounts>, StoreError> {
        let sql = activity_sql(self.backend, by, part, parts);
        let rows = self
            .report_rows(sqlx::query(built(sql)).bind(since).bind(until))
            .await?;
        rows.iter()
            .map(|r| {
                let key = (0..by.key_parts())
                    .map(|i| r.try_get::<Option<String>, _>(format!("k{i}").as_str()))
                    .collect::<Result<_, _>>()?;
                Ok(ActivityCounts {
                    key,
                    sent: r.try_get("sent")?,
                    emailed: r.try_get("emailed")?,
                    replied: r.try_get("replied")?,
                    positive: r.try_get("positive")?,
                    meetings: r.try_get("meetings")?,
                    bounced: r.try_get("bounced")?,
                    unsubscribed: r.try_get("unsubscribed")?,
                })
            })
            .collect()
    }

    /// The leads received between `since` and `until` (by sequence: enrolled), by `by` (rep,
    /// source or sequence; other groupings have no cohort), and what became of them by `until`.
    /// A lead counts for the rep who owned it at `until`; a lead nobody owned, for the mailbox
    /// that first emailed it (one rep with no routing owns what they send).
    pub async fn report_cohort(
        &self,
        by: Grouping,
        since: i64,
        until: i64,
    ) -> Result<Vec<CohortCounts>, StoreError> {
        let sql = match by {
            Grouping::Rep | Grouping::Source => arrivals_sql(self.backend, by),
            Grouping::Sequence => enrollments_sql(self.backend),
            Grouping::Step | Grouping::Variant | Grouping::Intent => return Ok(Vec::new()),
        };
        let rows = self
            .report_rows(sqlx::query(built(sql)).bind(since).bind(until))
            .await?;
        rows.iter()
            .map(|r| {
                let waits: Option<String> = r.try_get("waits")?;
                let waits = waits
                    .as_deref()
                    .unwrap_or("")
                    .split(',')
                    .filter(|w| !w.is_empty())
                    .map(|w| {
                        w.trim().parse::<i64>().map(|w| w.max(0)).map_err(|_| {
                            StoreError::Corrupt(format!("a wait that is not a number: {w:?}"))
                        })
                    })
                    .collect::<Result<_, _>>()?;
                Ok(CohortCounts {
                    key: r.try_get("k")?,
                    received: r.try_get("received")?,
                    contacted: r.try_get("contacted")?,
                    waits,
                    touches: r.try_get("touches")?,
                    short_stops: r.try_get("short_stops")?,
                })
            })
            .collect()
    }

    /// Open tasks past due at `now`, by owner (a state of now, not of a period).
    pub async fn report_overdue_tasks(
        &self,
        now: i64,
    ) -> Result<Vec<(Option<String>, i64)>, StoreError> {
        let rows = sqlx::query(include_str!("sql/report/overdue_tasks.sql"))
            .bind(now)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("owner")?, r.try_get("n")?)))
            .collect()
    }

    /// Emails sent and replies per quarter-hour between `since` and `until`, oldest first
    /// (quarter-hours with neither left out).
    pub async fn report_quarter_hours(
        &self,
        since: i64,
        until: i64,
    ) -> Result<Vec<QuarterHour>, StoreError> {
        let query = sqlx::query(include_str!("sql/report/quarter_hours.sql"))
            .bind(since)
            .bind(until);
        let rows = self.report_rows(query).await?;
        rows.iter()
            .map(|r| {
                let q: i64 = r.try_get("q")?;
                Ok(QuarterHour {
                    start: q * 900,
                    sent: r.try_get("sent")?,
                    replied: r.try_get("replied")?,
                })
            })
            .collect()
    }
}

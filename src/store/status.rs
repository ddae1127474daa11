//! The reads behind `drumbeat status`: counts per sequence and state, sends per mailbox today,
//! what goes next, and what needs a person.

use std::collections::BTreeMap;

use serde::Serialize;
use sqlx::Row;

use super::{Store, StoreError};

/// Enrollment counts of one sequence.
#[derive(Debug, Clone, Serialize)]
pub struct SequenceCounts {
    /// Sequence id.
    pub sequence_id: String,
    /// Enrollments ever made.
    pub enrolled: i64,
    /// Count per state name (every state present, zero when none).
    pub states: BTreeMap<String, i64>,
}

/// Emails one mailbox sent today.
#[derive(Debug, Clone, Serialize)]
pub struct MailboxSends {
    /// Mailbox name.
    pub mailbox: String,
    /// Sent since the start of today (config time zone).
    pub sent_today: i64,
}

/// A step that goes next.
#[derive(Debug, Clone, Serialize)]
pub struct UpcomingSend {
    /// Lead address.
    pub email: String,
    /// Sequence.
    pub sequence_id: String,
    /// Step.
    pub step_id: Option<String>,
    /// When due (unix seconds).
    pub due_at: i64,
    /// Sticky mailbox, when the thread started.
    pub mailbox: Option<String>,
}

/// Something a person should look at.
#[derive(Debug, Clone, Serialize)]
pub struct AttentionItem {
    /// The item's own id where it has one (a reply: what `drumbeat reply handled ID` takes).
    pub id: Option<i64>,
    /// `uncertain-send`, `failed-send`, `failed-enrollment`, `reply`, `later-reply`, `overdue-task`.
    pub kind: String,
    /// Lead address.
    pub email: Option<String>,
    /// Sequence.
    pub sequence_id: Option<String>,
    /// Step.
    pub step_id: Option<String>,
    /// The touch to resolve, for sends.
    pub touch_id: Option<i64>,
    /// When it happened or was due (unix seconds).
    pub at: Option<i64>,
    /// Details.
    pub detail: Option<String>,
}

/// Everything `status` shows.
#[derive(Debug, Clone, Serialize)]
pub struct StatusSnapshot {
    /// Per sequence.
    pub sequences: Vec<SequenceCounts>,
    /// Per mailbox that sent today.
    pub sends_today: Vec<MailboxSends>,
    /// Active enrollments whose step is due now or overdue.
    pub due_now: i64,
    /// The next steps, soonest first.
    pub upcoming: Vec<UpcomingSend>,
    /// What needs a person.
    pub attention: Vec<AttentionItem>,
}

impl Store {
    /// Reads the status. `day_start` is the start of today in the config's time zone.
    pub async fn status(
        &self,
        now: i64,
        day_start: i64,
        upcoming: i64,
    ) -> Result<StatusSnapshot, StoreError> {
        let mut by_seq: BTreeMap<String, SequenceCounts> = BTreeMap::new();
        for r in sqlx::query(
            "SELECT sequence_id, state, COUNT(*) AS n FROM enrollments GROUP BY sequence_id, state",
        )
        .fetch_all(&self.pool)
        .await?
        {
            let seq: String = r.try_get("sequence_id")?;
            let state: String = r.try_get("state")?;
            let n: i64 = r.try_get("n")?;
            let entry = by_seq.entry(seq.clone()).or_insert_with(|| SequenceCounts {
                sequence_id: seq,
                enrolled: 0,
                states: crate::enrollment::EnrollmentState::ALL
                    .iter()
                    .map(|s| (s.as_str().to_string(), 0))
                    .collect(),
            });
            entry.enrolled += n;
            *entry.states.entry(state).or_insert(0) += n;
        }

        let sends_today = sqlx::query(
            "SELECT mailbox, COUNT(*) AS n FROM touches WHERE state = 'sent' AND sent_at >= $1 AND mailbox IS NOT NULL GROUP BY mailbox",
        )
        .bind(day_start)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| Ok(MailboxSends { mailbox: r.try_get("mailbox")?, sent_today: r.try_get("n")? }))
        .collect::<Result<Vec<_>, StoreError>>()?;

        let due_now: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM enrollments WHERE state = 'active' AND next_due_at <= $1",
        )
        .bind(now)
        .fetch_one(&self.pool)
        .await?
        .try_get("n")?;

        let upcoming = sqlx::query(
            "SELECT l.email, e.sequence_id, e.next_step_id, e.next_due_at, e.mailbox FROM enrollments e \
             JOIN leads l ON l.id = e.lead_id WHERE e.state = 'active' AND e.next_due_at IS NOT NULL \
             ORDER BY e.next_due_at, e.id LIMIT $1",
        )
        .bind(upcoming)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(UpcomingSend {
                email: r.try_get("email")?,
                sequence_id: r.try_get("sequence_id")?,
                step_id: r.try_get("next_step_id")?,
                due_at: r.try_get("next_due_at")?,
                mailbox: r.try_get("mailbox")?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;

        let mut attention = Vec::new();
        for r in sqlx::query(
            "SELECT t.id, t.state, t.sequence_id, t.step_id, t.error, COALESCE(t.claimed_at, t.created_at) AS at, l.email \
             FROM touches t JOIN leads l ON l.id = t.lead_id WHERE t.state IN ('uncertain', 'failed') ORDER BY at DESC LIMIT 100",
        )
        .fetch_all(&self.pool)
        .await?
        {
            let state: String = r.try_get("state")?;
            attention.push(AttentionItem {
                id: None,
                kind: format!("{state}-send"),
                email: r.try_get("email")?,
                sequence_id: r.try_get("sequence_id")?,
                step_id: r.try_get("step_id")?,
                touch_id: Some(r.try_get("id")?),
                at: r.try_get("at")?,
                detail: r.try_get("error")?,
            });
        }
        for r in sqlx::query(
            "SELECT l.email, e.sequence_id, e.next_step_id, e.updated_at, e.reason FROM enrollments e \
             JOIN leads l ON l.id = e.lead_id WHERE e.state = 'failed' ORDER BY e.updated_at DESC LIMIT 100",
        )
        .fetch_all(&self.pool)
        .await?
        {
            attention.push(AttentionItem {
                id: None,
                kind: "failed-enrollment".into(),
                email: r.try_get("email")?,
                sequence_id: r.try_get("sequence_id")?,
                step_id: r.try_get("next_step_id")?,
                touch_id: None,
                at: r.try_get("updated_at")?,
                detail: r.try_get("reason")?,
            });
        }
        // Replies the rep has not marked handled: they owe an answer.
        for r in sqlx::query(
            "SELECT i.id, i.kind, i.received_at, i.evidence, l.email, e.sequence_id FROM inbound i \
             LEFT JOIN leads l ON l.id = i.lead_id LEFT JOIN enrollments e ON e.id = i.enrollment_id \
             WHERE i.handled_at IS NULL ORDER BY i.received_at DESC LIMIT 100",
        )
        .fetch_all(&self.pool)
        .await?
        {
            let data: String = r.try_get("evidence")?;
            let snippet = serde_json::from_str::<serde_json::Value>(&data)
                .ok()
                .and_then(|v| v.get("snippet").and_then(|s| s.as_str()).map(str::to_string));
            let kind: String = r.try_get("kind")?;
            attention.push(AttentionItem {
                kind: if kind == "later" { "later-reply".into() } else { "reply".into() },
                id: Some(r.try_get("id")?),
                email: r.try_get("email")?,
                sequence_id: r.try_get("sequence_id")?,
                step_id: None,
                touch_id: None,
                at: r.try_get("received_at")?,
                detail: snippet,
            });
        }
        for r in sqlx::query(
            "SELECT l.email, e.sequence_id, t.kind, t.due_at, t.note FROM tasks t JOIN leads l ON l.id = t.lead_id \
             JOIN enrollments e ON e.id = t.enrollment_id WHERE t.state = 'open' AND t.due_at < $1 ORDER BY t.due_at LIMIT 100",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?
        {
            let kind: String = r.try_get("kind")?;
            attention.push(AttentionItem {
                id: None,
                kind: "overdue-task".into(),
                email: r.try_get("email")?,
                sequence_id: r.try_get("sequence_id")?,
                step_id: None,
                touch_id: None,
                at: r.try_get("due_at")?,
                detail: Some(kind),
            });
        }

        Ok(StatusSnapshot {
            sequences: by_seq.into_values().collect(),
            sends_today,
            due_now,
            upcoming,
            attention,
        })
    }
}

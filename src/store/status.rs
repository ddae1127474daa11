//! The reads behind `drumbeat status`: counts per sequence and state, sends per mailbox today,
//! what goes next, and what needs a person.

use std::collections::BTreeMap;

use serde::Serialize;
use sqlx::Row;

use super::{Store, StoreError};
use crate::enrollment::EnrollmentState;

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
    /// The item's own id where it has one (a reply: what `drumbeat reply handled ID` takes; an
    /// overdue task: what `drumbeat task done ID` takes).
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
    /// Reads the status. `day_start` is the start of today in the config's time zone;
    /// `upcoming` is how many next steps to list.
    pub async fn status(
        &self,
        now: i64,
        day_start: i64,
        upcoming: i64,
    ) -> Result<StatusSnapshot, StoreError> {
        let sequences = self.sequence_counts().await?;
        let sends_today = self.sends_today(day_start).await?;
        let due_now: i64 = sqlx::query(include_str!("sql/status/due_now.sql"))
            .bind(now)
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?;
        let upcoming = self.upcoming(upcoming).await?;
        let mut attention = self.troubled_sends().await?;
        attention.extend(self.failed_enrollments().await?);
        attention.extend(self.unhandled_replies().await?);
        attention.extend(self.overdue_tasks(now).await?);
        Ok(StatusSnapshot {
            sequences,
            sends_today,
            due_now,
            upcoming,
            attention,
        })
    }

    /// Enrollment counts per sequence, every state present.
    async fn sequence_counts(&self) -> Result<Vec<SequenceCounts>, StoreError> {
        let mut by_seq: BTreeMap<String, SequenceCounts> = BTreeMap::new();
        for r in sqlx::query(include_str!("sql/status/sequence_states.sql"))
            .fetch_all(&self.pool)
            .await?
        {
            let seq: String = r.try_get("sequence_id")?;
            let state: String = r.try_get("state")?;
            let n: i64 = r.try_get("n")?;
            let entry = by_seq.entry(seq.clone()).or_insert_with(|| SequenceCounts {
                sequence_id: seq,
                enrolled: 0,
                states: EnrollmentState::ALL
                    .iter()
                    .map(|s| (s.as_str().to_string(), 0))
                    .collect(),
            });
            entry.enrolled += n;
            *entry.states.entry(state).or_insert(0) += n;
        }
        Ok(by_seq.into_values().collect())
    }

    /// Emails each mailbox sent since `day_start`.
    async fn sends_today(&self, day_start: i64) -> Result<Vec<MailboxSends>, StoreError> {
        sqlx::query(include_str!("sql/status/sends_today.sql"))
            .bind(day_start)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                Ok(MailboxSends {
                    mailbox: r.try_get("mailbox")?,
                    sent_today: r.try_get("n")?,
                })
            })
            .collect()
    }

    /// The next `limit` steps, soonest first.
    async fn upcoming(&self, limit: i64) -> Result<Vec<UpcomingSend>, StoreError> {
        sqlx::query(include_str!("sql/status/upcoming.sql"))
            .bind(limit)
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
            .collect()
    }

    /// Uncertain and failed sends (`uncertain-send`, `failed-send`).
    async fn troubled_sends(&self) -> Result<Vec<AttentionItem>, StoreError> {
        let rows = sqlx::query(include_str!("sql/status/troubled_sends.sql"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let state: String = r.try_get("state")?;
                Ok(AttentionItem {
                    id: None,
                    kind: format!("{state}-send"),
                    email: r.try_get("email")?,
                    sequence_id: r.try_get("sequence_id")?,
                    step_id: r.try_get("step_id")?,
                    touch_id: Some(r.try_get("id")?),
                    at: r.try_get("at")?,
                    detail: r.try_get("error")?,
                })
            })
            .collect()
    }

    /// Failed enrollments (`failed-enrollment`).
    async fn failed_enrollments(&self) -> Result<Vec<AttentionItem>, StoreError> {
        let rows = sqlx::query(include_str!("sql/status/failed_enrollments.sql"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(AttentionItem {
                    id: None,
                    kind: "failed-enrollment".into(),
                    email: r.try_get("email")?,
                    sequence_id: r.try_get("sequence_id")?,
                    step_id: r.try_get("next_step_id")?,
                    touch_id: None,
                    at: r.try_get("updated_at")?,
                    detail: r.try_get("reason")?,
                })
            })
            .collect()
    }

    /// Replies the rep has not marked handled: they owe an answer (`reply`, `later-reply`).
    async fn unhandled_replies(&self) -> Result<Vec<AttentionItem>, StoreError> {
        let rows = sqlx::query(include_str!("sql/status/unhandled_replies.sql"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let data: String = r.try_get("evidence")?;
                let snippet = serde_json::from_str::<serde_json::Value>(&data)
                    .ok()
                    .and_then(|v| {
                        v.get("snippet")
                            .and_then(|s| s.as_str())
                            .map(str::to_string)
                    });
                let kind: String = r.try_get("kind")?;
                Ok(AttentionItem {
                    kind: if kind == "later" {
                        "later-reply".into()
                    } else {
                        "reply".into()
                    },
                    id: Some(r.try_get("id")?),
                    email: r.try_get("email")?,
                    sequence_id: r.try_get("sequence_id")?,
                    step_id: None,
                    touch_id: None,
                    at: r.try_get("received_at")?,
                    detail: snippet,
                })
            })
            .collect()
    }

    /// Open tasks past due at `now` (`overdue-task`).
    async fn overdue_tasks(&self, now: i64) -> Result<Vec<AttentionItem>, StoreError> {
        let rows = sqlx::query(include_str!("sql/status/overdue_tasks.sql"))
            .bind(now)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let kind: String = r.try_get("kind")?;
                Ok(AttentionItem {
                    id: r.try_get("id")?,
                    kind: "overdue-task".into(),
                    email: r.try_get("email")?,
                    sequence_id: r.try_get("sequence_id")?,
                    step_id: r.try_get("step_id")?,
                    touch_id: r.try_get("touch_id")?,
                    at: r.try_get("due_at")?,
                    detail: Some(kind),
                })
            })
            .collect()
    }
}

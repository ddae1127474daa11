//! What `GET /metrics` reports, read from the store at scrape time: several daemons share one
//! store, so any of them answers the same. Each figure is one statement over an index.

use sqlx::Row;

use super::statements::{Stmt, Val};
use super::{Store, StoreError};
use crate::enrollment::TouchState;

/// The store's figures at one instant.
#[derive(Debug, Clone, Default)]
pub struct MetricsSnapshot {
    /// Emails by mailbox and result: `sent`, `failed`, `uncertain` (touches in that state) and
    /// `retried` (hand-overs after the first), ordered by mailbox then result.
    pub sends: Vec<(String, &'static str, i64)>,
    /// Active enrollments whose next step is due now (the scheduler's backlog).
    pub due: i64,
    /// Events by kind, for the kinds in [`COUNTED_EVENTS`] (kinds never seen are left out).
    pub events: Vec<(String, i64)>,
    /// Inbox watchers: mailbox, state, last change and lease end (unix seconds).
    pub watchers: Vec<(String, String, i64, i64)>,
    /// Outgoing webhook deliveries that failed for good, by endpoint.
    pub webhook_failures: Vec<(String, i64)>,
    /// Mailboxes paused for their health, and since when (unix seconds).
    pub paused: Vec<(String, i64)>,
    /// Mailbox leases: which daemon holds (or last held) each mailbox.
    pub holders: Vec<super::MailboxHolder>,
}

/// The event kinds counted for `/metrics`.
pub const COUNTED_EVENTS: [&str; 7] = [
    "replied",
    "auto-replied",
    "bounced",
    "unsubscribed",
    "complained",
    "meeting-booked",
    "enrolled",
];

impl Store {
    /// The figures of `/metrics` at `now`.
    pub async fn metrics(&self, now: i64) -> Result<MetricsSnapshot, StoreError> {
        let mut out = MetricsSnapshot {
            sends: self.sends_by_result().await?,
            ..MetricsSnapshot::default()
        };
        out.due = sqlx::query(include_str!("sql/metrics/due.sql"))
            .bind(now)
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?;
        let kinds = Val::List(COUNTED_EVENTS.iter().map(|k| Val::from(*k)).collect());
        let mut q = Stmt::new(self.backend);
        q.sql_args(include_str!("sql/metrics/events.sql"), &[kinds]);
        for r in q.fetch_all(&self.pool).await? {
            out.events.push((r.try_get("kind")?, r.try_get("n")?));
        }
        for (mailbox, _owner, state, _detail, updated_at, until) in self.watcher_states().await? {
            out.watchers.push((mailbox, state, updated_at, until));
        }
        for r in sqlx::query(include_str!("sql/metrics/webhook_failures.sql"))
            .fetch_all(&self.pool)
            .await?
        {
            out.webhook_failures
                .push((r.try_get("endpoint")?, r.try_get("n")?));
        }
        out.holders = self.mailbox_holders().await?;
        for p in self.mailbox_pauses().await? {
            out.paused.push((p.mailbox, p.paused_at));
        }
        Ok(out)
    }

    /// [`MetricsSnapshot::sends`]: emails by mailbox and result.
    async fn sends_by_result(&self) -> Result<Vec<(String, &'static str, i64)>, StoreError> {
        let mut sends = Vec::new();
        for r in sqlx::query(include_str!("sql/metrics/sent.sql"))
            .fetch_all(&self.pool)
            .await?
        {
            sends.push((
                r.try_get("mailbox")?,
                TouchState::Sent.as_str(),
                r.try_get("n")?,
            ));
        }
        for r in sqlx::query(include_str!("sql/metrics/failed.sql"))
            .fetch_all(&self.pool)
            .await?
        {
            let state: String = r.try_get("state")?;
            let result = if state == TouchState::Failed.as_str() {
                TouchState::Failed
            } else {
                TouchState::Uncertain
            };
            sends.push((r.try_get("mailbox")?, result.as_str(), r.try_get("n")?));
        }
        for r in sqlx::query(include_str!("sql/metrics/retried.sql"))
            .fetch_all(&self.pool)
            .await?
        {
            sends.push((r.try_get("mailbox")?, "retried", r.try_get("n")?));
        }
        sends.sort();
        Ok(sends)
    }
}

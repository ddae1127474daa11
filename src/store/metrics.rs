//! What `GET /metrics` reports, read from the store at scrape time: several daemons share one
//! store, so any of them answers the same. Each figure is one statement over an index.

use sqlx::Row;

use super::{Store, StoreError};

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
        let mut out = MetricsSnapshot::default();
        // Only emails have a mailbox. Sent: the (mailbox, sent_at) index alone answers.
        let sent = sqlx::query(
            "SELECT mailbox, COUNT(*) AS n FROM touches WHERE mailbox IS NOT NULL AND sent_at IS NOT NULL \
             GROUP BY mailbox",
        )
        .fetch_all(&self.pool)
        .await?;
        for r in &sent {
            out.sends
                .push((r.try_get("mailbox")?, "sent", r.try_get("n")?));
        }
        // Failed and uncertain: the partial index of touches that need attention.
        let bad = sqlx::query(
            "SELECT mailbox, state, COUNT(*) AS n FROM touches WHERE state IN ('failed', 'uncertain') \
             AND mailbox IS NOT NULL GROUP BY mailbox, state",
        )
        .fetch_all(&self.pool)
        .await?;
        for r in &bad {
            let state: String = r.try_get("state")?;
            let result = if state == "failed" {
                "failed"
            } else {
                "uncertain"
            };
            out.sends
                .push((r.try_get("mailbox")?, result, r.try_get("n")?));
        }
        let retried = sqlx::query(
            "SELECT mailbox, CAST(SUM(attempt - 1) AS BIGINT) AS n FROM touches WHERE attempt > 1 AND mailbox IS NOT NULL \
             GROUP BY mailbox",
        )
        .fetch_all(&self.pool)
        .await?;
        for r in &retried {
            out.sends
                .push((r.try_get("mailbox")?, "retried", r.try_get("n")?));
        }
        out.sends.sort();

        out.due = sqlx::query(
            "SELECT COUNT(*) AS n FROM enrollments WHERE state = 'active' AND next_due_at <= $1",
        )
        .bind(now)
        .fetch_one(&self.pool)
        .await?
        .try_get("n")?;

        // One index range per kind of (kind, at).
        let mut q = String::from("SELECT kind, COUNT(*) AS n FROM events WHERE kind IN (");
        for (i, _) in COUNTED_EVENTS.iter().enumerate() {
            if i > 0 {
                q.push_str(", ");
            }
            q.push_str(&super::placeholder(self.backend, i + 1));
        }
        q.push_str(") GROUP BY kind ORDER BY kind");
        let mut q = sqlx::query(super::built(q));
        for k in COUNTED_EVENTS {
            q = q.bind(k);
        }
        for r in q.fetch_all(&self.pool).await? {
            out.events.push((r.try_get("kind")?, r.try_get("n")?));
        }

        for (mailbox, _owner, state, _detail, updated_at, until) in self.watcher_states().await? {
            out.watchers.push((mailbox, state, updated_at, until));
        }

        let failed = sqlx::query(
            "SELECT endpoint, COUNT(*) AS n FROM webhook_deliveries WHERE state = 'failed' \
             GROUP BY endpoint ORDER BY endpoint",
        )
        .fetch_all(&self.pool)
        .await?;
        for r in &failed {
            out.webhook_failures
                .push((r.try_get("endpoint")?, r.try_get("n")?));
        }
        Ok(out)
    }
}

//! Each sending mailbox's health: what counts against it (hard bounces, complaints, refusals
//! of the sender), the figures the policy judges, and its pause. The store records and reads;
//! whether a mailbox is paused is the policy's call (`policy::mailbox_health`).

use sqlx::Row;

use super::events::NewEvent;
use super::{Store, StoreError};
use crate::domain::EventKind;
use crate::policy::{HealthFigures, Strike};

/// The words of a rep's notification, fixed when it is queued.
#[derive(Debug, Clone)]
pub struct HealthNotice {
    /// The email's subject.
    pub subject: String,
    /// The email's body.
    pub body: String,
    /// The webhook's text.
    pub chat: String,
    /// The email's Message-ID.
    pub message_id: String,
}

/// A mailbox paused for its health.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxPause {
    /// The mailbox's name.
    pub mailbox: String,
    /// When it was paused (unix seconds).
    pub paused_at: i64,
    /// Why, with the figures.
    pub why: String,
}

impl Store {
    /// Counts `strike` against the sending `mailbox`.
    pub async fn record_strike(
        &self,
        mailbox: &str,
        strike: Strike,
        reason: Option<&str>,
        detail: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        super::effects::strike(&mut tx, mailbox, strike, reason, detail, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The figures of `mailbox`'s health at `now`: its last `bounce_window` and
    /// `complaint_window` sends, the hard bounces and complaints since the first of them, and
    /// the refusals of the sender in the last day.
    pub async fn mailbox_figures(
        &self,
        mailbox: &str,
        bounce_window: i64,
        complaint_window: i64,
        now: i64,
    ) -> Result<HealthFigures, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let since = |n: i64| {
            sqlx::query(
                "SELECT COUNT(*) AS n, MIN(sent_at) AS first FROM (SELECT sent_at FROM touches \
                 WHERE mailbox = $1 AND state = 'sent' AND sent_at IS NOT NULL \
                 ORDER BY sent_at DESC LIMIT $2) AS recent",
            )
            .bind(mailbox)
            .bind(n)
        };
        let b = since(bounce_window).fetch_one(&mut *conn).await?;
        let c = since(complaint_window).fetch_one(&mut *conn).await?;
        let (b_sends, b_first): (i64, Option<i64>) = (b.try_get("n")?, b.try_get("first")?);
        let (c_sends, c_first): (i64, Option<i64>) = (c.try_get("n")?, c.try_get("first")?);
        let count = |kind: &'static str, from: i64| {
            sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM mailbox_strikes WHERE mailbox = $1 AND kind = $2 AND at >= $3",
            )
            .bind(mailbox)
            .bind(kind)
            .bind(from)
        };
        let hard = count(Strike::HardBounce.as_str(), b_first.unwrap_or(now))
            .fetch_one(&mut *conn)
            .await?;
        let complaints = count(Strike::Complaint.as_str(), c_first.unwrap_or(now))
            .fetch_one(&mut *conn)
            .await?;
        let blocks = count(Strike::Block.as_str(), now - 86_400)
            .fetch_one(&mut *conn)
            .await?;
        Ok(HealthFigures {
            bounce_sends: b_sends,
            hard_bounces: hard,
            complaint_sends: c_sends,
            complaints,
            blocks_today: blocks,
        })
    }

    /// The mailboxes with a strike at or after `since`.
    pub async fn struck_since(&self, since: i64) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT mailbox FROM mailbox_strikes WHERE at >= $1 ORDER BY mailbox",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The mailboxes paused for their health (not resumed since).
    pub async fn mailbox_pauses(&self) -> Result<Vec<MailboxPause>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let rows = sqlx::query(
            "SELECT mailbox, paused_at, why FROM mailbox_pauses WHERE resumed_at IS NULL \
             ORDER BY mailbox",
        )
        .fetch_all(&mut *conn)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(MailboxPause {
                    mailbox: r.try_get("mailbox")?,
                    paused_at: r.try_get("paused_at")?,
                    why: r.try_get("why")?,
                })
            })
            .collect()
    }

    /// Pauses `mailbox` (kept as it is when already paused); true when it was not paused.
    /// A new pause is recorded as a `mailbox-paused` event (for the outgoing webhooks) and,
    /// with `notice`, queues the rep's notification, in the same transaction.
    pub async fn pause_mailbox(
        &self,
        mailbox: &str,
        why: &str,
        notice: Option<&HealthNotice>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query(
            "INSERT INTO mailbox_pauses (mailbox, paused_at, why) VALUES ($1, $2, $3) \
             ON CONFLICT (mailbox) DO UPDATE SET paused_at = excluded.paused_at, \
             why = excluded.why, resumed_at = NULL WHERE mailbox_pauses.resumed_at IS NOT NULL",
        )
        .bind(mailbox)
        .bind(now)
        .bind(why)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n > 0 {
            let mut e = NewEvent::about(EventKind::MailboxPaused, None);
            e.mailbox = Some(mailbox);
            e.data = serde_json::json!({ "why": why });
            super::events::insert(&mut tx, &e, now).await?;
            if let Some(notice) = notice {
                super::notifications::queue_fixed(&mut tx, "health", mailbox, now, notice, now)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(n > 0)
    }

    /// Resumes `mailbox`; its strikes so far no longer count (a fresh start after the fix).
    /// True when it was paused.
    pub async fn resume_mailbox(&self, mailbox: &str, now: i64) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query(
            "UPDATE mailbox_pauses SET resumed_at = $1 WHERE mailbox = $2 AND resumed_at IS NULL",
        )
        .bind(now)
        .bind(mailbox)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n > 0 {
            let mut e = NewEvent::about(EventKind::MailboxResumed, None);
            e.mailbox = Some(mailbox);
            super::events::insert(&mut tx, &e, now).await?;
        }
        sqlx::query("DELETE FROM mailbox_strikes WHERE mailbox = $1 AND at <= $2")
            .bind(mailbox)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(n > 0)
    }
}

//! The Sent folder's queue: a copy of each email sent over SMTP from a mailbox that keeps one
//! (`Mailbox::saves_sent`), queued in the transaction that records the send (`sent.rs`), then
//! put into the mailbox's Sent folder by the daemon (`inbox::sent_copies`), retried with
//! back-off. A copy is never a reason to send again: the touch is `sent` whatever happens here.

use sqlx::Row;

use super::{Store, StoreError};

/// A copy waiting for the Sent folder.
#[derive(Debug, Clone)]
pub struct SentCopy {
    /// The copy.
    pub id: i64,
    /// The touch it is a copy of.
    pub touch: i64,
    /// The mailbox that sent it.
    pub mailbox: String,
    /// Its Message-ID (`<…>`), to find a copy already there.
    pub message_id: String,
    /// The message as sent.
    pub message: String,
    /// Attempts made before this one.
    pub attempts: i64,
}

/// A mailbox's copies that are not in the Sent folder, for `status`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SentCopyCounts {
    /// The mailbox.
    pub mailbox: String,
    /// Copies waiting (tried again later).
    pub pending: i64,
    /// Copies given up.
    pub failed: i64,
    /// Why an attempt failed, when one did.
    pub error: Option<String>,
}

impl Store {
    /// The mailboxes with a copy due for an attempt at `now`.
    pub async fn sent_copy_mailboxes(&self, now: i64) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(include_str!("sql/sent_copies/due_mailboxes.sql"))
            .bind(now)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(|r| r.try_get("mailbox"))
            .collect::<Result<_, _>>()?)
    }

    /// Up to `limit` copies of `mailbox` due for an attempt at `now`, oldest first.
    pub async fn due_sent_copies(
        &self,
        mailbox: &str,
        now: i64,
        limit: i64,
    ) -> Result<Vec<SentCopy>, StoreError> {
        let rows = sqlx::query(include_str!("sql/sent_copies/due.sql"))
            .bind(mailbox)
            .bind(now)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(SentCopy {
                    id: r.try_get("id")?,
                    touch: r.try_get("touch_id")?,
                    mailbox: r.try_get("mailbox")?,
                    message_id: r.try_get("message_id")?,
                    message: r.try_get("message")?,
                    attempts: r.try_get::<i64, _>("attempts")?,
                })
            })
            .collect()
    }

    /// Takes copy `id` for an attempt now: false when it is no longer due (another daemon
    /// took it, or it is done). Not tried again before `hold_until`, unless recorded.
    pub async fn claim_sent_copy(
        &self,
        id: i64,
        now: i64,
        hold_until: i64,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(include_str!("sql/sent_copies/claim.sql"))
            .bind(id)
            .bind(now)
            .bind(hold_until)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    /// Copy `id` is in `folder`.
    pub async fn sent_copy_appended(
        &self,
        id: i64,
        folder: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(include_str!("sql/sent_copies/appended.sql"))
            .bind(id)
            .bind(folder)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// An attempt at copy `id` failed (`error`): tried again at `retry_at`, or given up when
    /// None.
    pub async fn sent_copy_failed(
        &self,
        id: i64,
        error: &str,
        retry_at: Option<i64>,
        now: i64,
    ) -> Result<(), StoreError> {
        let (sql, at) = match retry_at {
            Some(at) => (include_str!("sql/sent_copies/retry.sql"), at),
            None => (include_str!("sql/sent_copies/give_up.sql"), now),
        };
        sqlx::query(sql)
            .bind(id)
            .bind(error)
            .bind(at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Per mailbox, the copies not in the Sent folder: waiting or given up.
    pub async fn sent_copy_counts(&self) -> Result<Vec<SentCopyCounts>, StoreError> {
        let rows = sqlx::query(include_str!("sql/sent_copies/counts.sql"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(SentCopyCounts {
                    mailbox: r.try_get("mailbox")?,
                    pending: r.try_get("pending")?,
                    failed: r.try_get("failed")?,
                    error: r.try_get("error")?,
                })
            })
            .collect()
    }
}

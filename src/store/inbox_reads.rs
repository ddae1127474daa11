//! Never write blind (DESIGN.md invariant 7), the store's side: when each watched mailbox was
//! last read completely, since when reading it fails and why, and the follow-ups held for it.
//! The decision itself is `policy::inbox_gate`.

use std::collections::HashMap;

use sqlx::Row;

use super::enrollments::EnrollmentId;
use super::{Store, StoreError};
use crate::policy::InboxRead;

/// Follow-ups of one mailbox held for its inbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxHeld {
    /// The mailbox.
    pub mailbox: String,
    /// Open enrollments whose next step waits for the inbox.
    pub steps: i64,
    /// When the first of them was held (unix seconds).
    pub since: i64,
}

impl Store {
    /// Records a complete read of `mailbox` (every folder it watches) at `now`; the follow-ups
    /// held for it are held no more.
    pub async fn inbox_read(&self, mailbox: &str, now: i64) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(include_str!("sql/inbox_reads/read.sql"))
            .bind(mailbox)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query(include_str!("sql/inbox_reads/release_held.sql"))
            .bind(mailbox)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records a failed read of `mailbox` at `now`, with what went wrong.
    pub async fn inbox_read_failed(
        &self,
        mailbox: &str,
        error: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(include_str!("sql/inbox_reads/failed.sql"))
            .bind(mailbox)
            .bind(now)
            .bind(error)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// What is known of each watched mailbox's reads, by mailbox (a mailbox never read or
    /// tried has no entry).
    pub async fn inbox_reads(&self) -> Result<HashMap<String, InboxRead>, StoreError> {
        let rows = sqlx::query(include_str!("sql/inbox_reads/all.sql"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("mailbox")?,
                    InboxRead {
                        read_at: r.try_get("read_at")?,
                        failing_since: r.try_get("failing_since")?,
                        failure: r.try_get("failure")?,
                    },
                ))
            })
            .collect()
    }

    /// Gives leased follow-ups back to wait for their mailbox's inbox, like
    /// [`Store::defer`], marked as held for it (shown by `status`).
    pub async fn hold_for_inbox(
        &self,
        instance: &str,
        items: &[(EnrollmentId, Option<String>, i64)],
        now: i64,
    ) -> Result<(), StoreError> {
        if items.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        for (id, step, due) in items {
            sqlx::query(include_str!("sql/inbox_reads/hold.sql"))
                .bind(step.as_deref())
                .bind(*due)
                .bind(now)
                .bind(id.0)
                .bind(instance)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The follow-ups held for each mailbox's inbox.
    pub async fn inbox_held(&self) -> Result<Vec<InboxHeld>, StoreError> {
        let rows = sqlx::query(include_str!("sql/inbox_reads/held.sql"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(InboxHeld {
                    mailbox: r
                        .try_get::<Option<String>, _>("mailbox")?
                        .unwrap_or_default(),
                    steps: r.try_get("n")?,
                    since: r.try_get("since")?,
                })
            })
            .collect()
    }
}

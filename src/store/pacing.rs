//! What the pacing rules count, read once per tick: the claims of each mailbox today, its
//! first send (for the warm-up ramp), and the claims to each recipient domain.

use std::collections::HashMap;

use sqlx::Row;

use super::statements::{Stmt, Val};
use super::{Store, StoreError};

/// What the pacing rules need to know about recent sends, read once per tick.
#[derive(Debug, Clone, Default)]
pub struct RecentSends {
    /// Emails claimed per mailbox since the start of the mailbox's day.
    pub today: HashMap<String, i64>,
    /// The last claim per mailbox (unix seconds).
    pub last: HashMap<String, i64>,
    /// The first email each mailbox ever sent (for the warm-up ramp).
    pub first: HashMap<String, i64>,
}

impl Store {
    /// Claims per mailbox since `day_start`, each mailbox's last claim, and its first send.
    /// Reads only today's touches (the `touches_mailbox_claimed` index), so the cost grows
    /// with today's sends, which the caps bound.
    pub async fn recent_sends(
        &self,
        mailboxes: &[&str],
        day_start: i64,
    ) -> Result<RecentSends, StoreError> {
        let mut out = RecentSends::default();
        for r in sqlx::query(include_str!("sql/pacing/claims_today.sql"))
            .bind(day_start)
            .fetch_all(&self.pool)
            .await?
        {
            let m: String = r.try_get("mailbox")?;
            out.today.insert(m.clone(), r.try_get("n")?);
            out.last.insert(m, r.try_get("last")?);
        }
        // One index probe per mailbox (mailbox, sent_at): a GROUP BY over every touch ever
        // sent would grow with the history at every tick.
        for m in mailboxes {
            let first: Option<i64> = sqlx::query_scalar(include_str!("sql/pacing/first_send.sql"))
                .bind(*m)
                .fetch_one(&self.pool)
                .await?;
            if let Some(first) = first {
                out.first.insert(m.to_string(), first);
            }
        }
        Ok(out)
    }

    /// Emails claimed to each of `domains` since `since`, oldest first.
    pub async fn sends_to_domains(
        &self,
        domains: &[&str],
        since: i64,
    ) -> Result<HashMap<String, Vec<i64>>, StoreError> {
        let mut out: HashMap<String, Vec<i64>> = HashMap::new();
        for chunk in domains.chunks(500) {
            let list = Val::List(chunk.iter().map(|d| Val::from(*d)).collect());
            let mut q = Stmt::new(self.backend);
            q.sql_args(
                include_str!("sql/pacing/sends_to_domains.sql"),
                &[list, Val::from(since)],
            );
            for r in q.fetch_all(&self.pool).await? {
                out.entry(r.try_get("recipient_domain")?)
                    .or_default()
                    .push(r.try_get("claimed_at")?);
            }
        }
        Ok(out)
    }
}

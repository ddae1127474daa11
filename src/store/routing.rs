//! What lead routing keeps in the store: each group's round-robin cursor (a counter in
//! `settings`, moved by one atomic statement so daemons and CLI runs share it), each rep's open
//! workload, and owner changes (which restart the lead's threads from the new owner).

use std::collections::{HashMap, HashSet};

use sqlx::Row;

use super::events::{self, NewEvent};
use super::leads::{LEAD_COLUMNS, fingerprint, stored_lead};
use super::{Store, StoreError, StoredLead, built, in_list};
use crate::domain::EventKind;
use crate::lead::Email;

/// The `settings` row that holds a group's cursor: the number of turns taken so far.
fn cursor_key(group: &str) -> String {
    format!("route.cursor.{group}")
}

impl Store {
    /// Takes `n` consecutive turns of `group`'s round robin and returns the first one's number.
    /// One `INSERT … ON CONFLICT DO UPDATE … RETURNING`: atomic on SQLite and PostgreSQL, so two
    /// processes routing at once never take the same turn.
    pub async fn take_turns(&self, group: &str, n: u64, now: i64) -> Result<u64, StoreError> {
        let n = i64::try_from(n).unwrap_or(i64::MAX);
        let total: String = sqlx::query_scalar(
            "INSERT INTO settings (name, value, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET \
               value = CAST(CAST(settings.value AS BIGINT) + $4 AS TEXT), updated_at = $3 \
             RETURNING value",
        )
        .bind(cursor_key(group))
        .bind(n.to_string())
        .bind(now)
        .bind(n)
        .fetch_one(&self.pool)
        .await?;
        let total: i64 = total.trim().parse().map_err(|_| {
            StoreError::Corrupt(format!("routing cursor of group {group:?} is {total:?}"))
        })?;
        Ok(u64::try_from(total - n).unwrap_or(0))
    }

    /// The number of turns `group`'s round robin has taken (what [`Store::take_turns`] would
    /// return now), without taking any: for dry runs.
    pub async fn peek_turns(&self, group: &str) -> Result<u64, StoreError> {
        Ok(self
            .setting(&cursor_key(group))
            .await?
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0))
    }

    /// Each rep's open workload: the leads they own that have an active or paused enrollment.
    pub async fn open_workload(&self) -> Result<HashMap<String, u64>, StoreError> {
        let rows = sqlx::query(
            "SELECT l.owner AS owner, COUNT(DISTINCT l.id) AS n FROM leads l \
             JOIN enrollments e ON e.lead_id = l.id \
             WHERE e.state IN ('active', 'paused') AND l.owner IS NOT NULL GROUP BY l.owner",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out = HashMap::new();
        for r in rows {
            let n: i64 = r.try_get("n")?;
            out.insert(r.try_get("owner")?, u64::try_from(n).unwrap_or(0));
        }
        Ok(out)
    }

    /// Of these addresses, those of stored leads that already have an owner.
    pub async fn owned_among(&self, emails: &[&Email]) -> Result<HashSet<Email>, StoreError> {
        let mut out = HashSet::new();
        for chunk in emails.chunks(500) {
            let sql = format!(
                "SELECT email FROM leads WHERE owner IS NOT NULL AND email IN ({})",
                in_list(self.backend, chunk.len())
            );
            let mut q = sqlx::query_scalar::<_, String>(built(sql));
            for e in chunk {
                q = q.bind(e.as_str());
            }
            for e in q.fetch_all(&self.pool).await? {
                if let Ok(e) = Email::parse(&e) {
                    out.insert(e);
                }
            }
        }
        Ok(out)
    }

    /// The leads without an owner, oldest first.
    pub async fn unowned_leads(&self) -> Result<Vec<StoredLead>, StoreError> {
        self.leads_where("owner IS NULL", None).await
    }

    /// The leads `owner` owns, oldest first.
    pub async fn leads_owned_by(&self, owner: &str) -> Result<Vec<StoredLead>, StoreError> {
        self.leads_where("owner = $1", Some(owner)).await
    }

    async fn leads_where(
        &self,
        cond: &str,
        arg: Option<&str>,
    ) -> Result<Vec<StoredLead>, StoreError> {
        let sql = format!(
            "SELECT {LEAD_COLUMNS}, (SELECT domain FROM accounts a WHERE a.id = leads.account_id) AS account \
             FROM leads WHERE forgotten_at IS NULL AND ({cond}) ORDER BY id"
        );
        let mut q = sqlx::query(built(sql));
        if let Some(a) = arg {
            q = q.bind(a);
        }
        q.fetch_all(&self.pool)
            .await?
            .iter()
            .map(stored_lead)
            .collect()
    }

    /// Gives each lead its new owner, in one transaction, with the old owner's open tasks for
    /// it. An enrollment still going (active or
    /// paused) whose emails came from the old owner's mailbox forgets that mailbox and its
    /// thread: its next email leaves from the new owner's mailbox as a new thread (a reply in
    /// the old thread from another address would confuse the lead and their mail client).
    pub async fn change_owners(
        &self,
        changes: &[(&StoredLead, &str)],
        now: i64,
    ) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        let mut moved = 0;
        for (lead, owner) in changes {
            let old = lead.record.owner.as_deref();
            if old == Some(*owner) {
                continue;
            }
            let mut record = lead.record.clone();
            record.owner = Some((*owner).to_string());
            sqlx::query(
                "UPDATE leads SET owner = $1, fingerprint = $2, updated_at = $3 WHERE id = $4",
            )
            .bind(*owner)
            .bind(fingerprint(&record))
            .bind(now)
            .bind(lead.id.0)
            .execute(&mut *tx)
            .await?;
            let mut ev = NewEvent::about(EventKind::Assigned, Some(lead.id));
            ev.mailbox = Some(owner);
            ev.data = serde_json::json!({ "from": old, "by": "routing" });
            events::insert(&mut tx, &ev, now).await?;
            if let Some(old) = old {
                // The old owner's open tasks for this lead (a call, a LinkedIn touch) go too.
                sqlx::query(
                    "UPDATE tasks SET owner = $1 WHERE lead_id = $2 AND owner = $3 AND state = 'open'",
                )
                .bind(*owner)
                .bind(lead.id.0)
                .bind(old)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "UPDATE enrollments SET mailbox = NULL, thread_subject = NULL, thread_message_id = NULL, \
                     updated_at = $1 WHERE lead_id = $2 AND mailbox = $3 AND state IN ('active', 'paused')",
                )
                .bind(now)
                .bind(lead.id.0)
                .bind(old)
                .execute(&mut *tx)
                .await?;
            }
            moved += 1;
        }
        tx.commit().await?;
        Ok(moved)
    }
}

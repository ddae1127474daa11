//! Mailbox leases (DESIGN.md, Scale): each mailbox's sending and inbox watcher are held by
//! one daemon at a time. The holder renews its lease every [`LEASE_RENEW_SECONDS`]; one that
//! stops (killed, partitioned, frozen) loses it when it runs out, to the daemon the mailbox is
//! meant for, or to any daemon [`HOLDER_GRACE`] later. Each change of hands makes the epoch
//! grow, and every email claim names the epoch it was decided under (`claims/hold.sql`): a
//! daemon that lost a mailbox cannot claim on it any more. Who is meant to hold what is the
//! daemon's business (`daemon::shares`); this module only keeps the table.
//!
//! [`LEASE_RENEW_SECONDS`]: super::LEASE_RENEW_SECONDS

use std::collections::BTreeMap;

use serde::Serialize;
use sqlx::Row;

use super::statements::{Stmt, Val};
use super::{Store, StoreError};

/// How long a mailbox lease lasts; its holder renews it every 5 s (`LEASE_RENEW_SECONDS`),
/// so a daemon that stops renewing loses its mailboxes this long after its last renewal, plus
/// the moment it takes another daemon to look (under 30 s in all, see `daemon::shares`).
pub const HOLDER_LEASE: i64 = 15;

/// How long after a mailbox lease ran out any daemon may take it, not only the one it is
/// meant for (which may be gone, or run with another config).
pub const HOLDER_GRACE: i64 = super::LEASE_SECONDS;

/// One mailbox lease, as `status` and `/metrics` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MailboxHolder {
    /// The mailbox.
    pub mailbox: String,
    /// The daemon that holds (or last held) it.
    pub owner: String,
    /// Grows each time the lease changes hands.
    pub epoch: i64,
    /// When `owner` took it (unix seconds).
    pub since: i64,
    /// When the lease ends unless renewed (unix seconds; 0 when given back).
    pub until: i64,
}

/// The mailboxes a daemon holds, with the epoch of each lease.
pub type Held = BTreeMap<String, i64>;

impl Store {
    /// Takes or renews the leases of `mailboxes` for `instance` until `until`: each one it
    /// holds and has not run out is renewed; each one whose lease ended before `free_before`
    /// is taken. Returns the ones of `mailboxes` it holds now, with their epochs.
    pub async fn hold_mailboxes(
        &self,
        instance: &str,
        mailboxes: &[&str],
        now: i64,
        free_before: i64,
        until: i64,
    ) -> Result<Held, StoreError> {
        let mut held = Held::new();
        if mailboxes.is_empty() {
            return Ok(held);
        }
        let rows = mailboxes.iter().map(|m| vec![Val::from(*m)]).collect();
        let mut s = Stmt::new(self.backend);
        s.values(&["mailbox"], rows).sql_args(
            include_str!("sql/holders/hold.sql"),
            &[
                Val::from(instance),
                Val::from(now),
                Val::from(free_before),
                Val::from(until),
            ],
        );
        for r in s.fetch_all(&self.pool).await? {
            held.insert(r.try_get("mailbox")?, r.try_get("epoch")?);
        }
        Ok(held)
    }

    /// Gives `instance`'s leases of `mailboxes` back, their end set to `until`: 0 frees them
    /// for any daemon at once (a clean stop), now for the daemon each is meant for (a share
    /// that moved).
    pub async fn give_back_mailboxes(
        &self,
        instance: &str,
        mailboxes: &[&str],
        until: i64,
    ) -> Result<u64, StoreError> {
        if mailboxes.is_empty() {
            return Ok(0);
        }
        let list = Val::List(mailboxes.iter().map(|m| Val::from(*m)).collect());
        let mut s = Stmt::new(self.backend);
        s.sql_args(
            include_str!("sql/holders/give_back.sql"),
            &[Val::from(until), Val::from(instance), list],
        );
        s.execute(&self.pool).await
    }

    /// Gives every lease of `instance` back, their end set to `until` (see
    /// [`Store::give_back_mailboxes`]).
    pub async fn give_back_all_mailboxes(
        &self,
        instance: &str,
        until: i64,
    ) -> Result<u64, StoreError> {
        Ok(sqlx::query(include_str!("sql/holders/give_back_all.sql"))
            .bind(until)
            .bind(instance)
            .execute(&self.pool)
            .await?
            .rows_affected())
    }

    /// Every mailbox lease, by mailbox.
    pub async fn mailbox_holders(&self) -> Result<Vec<MailboxHolder>, StoreError> {
        sqlx::query(include_str!("sql/holders/all.sql"))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                Ok(MailboxHolder {
                    mailbox: r.try_get("mailbox")?,
                    owner: r.try_get("owner")?,
                    epoch: r.try_get("epoch")?,
                    since: r.try_get("since")?,
                    until: r.try_get("until")?,
                })
            })
            .collect()
    }

    /// The long-running daemons seen since `since` and not stopped, by name.
    pub async fn live_daemons(&self, since: i64) -> Result<Vec<String>, StoreError> {
        sqlx::query(include_str!("sql/holders/live_daemons.sql"))
            .bind(since)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| Ok(r.try_get("instance")?))
            .collect()
    }
}

/// The mailboxes `instance` holds according to the store, inside a claim's transaction.
pub(super) async fn held_by(
    tx: &mut sqlx::AnyConnection,
    instance: &str,
) -> Result<Held, StoreError> {
    let mut held = Held::new();
    for r in sqlx::query(include_str!("sql/holders/held_by.sql"))
        .bind(instance)
        .fetch_all(&mut *tx)
        .await?
    {
        held.insert(r.try_get("mailbox")?, r.try_get("epoch")?);
    }
    Ok(held)
}

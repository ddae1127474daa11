//! Due enrollments, as the scheduler sees them: leasing the due ones (one atomic
//! `UPDATE … RETURNING`; `FOR UPDATE SKIP LOCKED` on PostgreSQL), when the next one is due,
//! giving them back, ending them without a step, and the touches they already had.

use std::collections::HashMap;

use sqlx::{AnyConnection, Row};

use super::enrollments::EnrollmentId;
use super::events::{self, NewEvent};
use super::leases::LEASE_SECONDS;
use super::statements::{PerEngine, Stmt, Val};
use super::{LeadId, Store, StoreError};
use crate::domain::{EventKind, PastTouch, TouchKind};
use crate::enrollment::{EnrollmentState, TouchState};

/// A due enrollment leased by this daemon for the time it takes to decide and claim.
#[derive(Debug, Clone)]
pub struct Leased {
    /// The enrollment.
    pub enrollment: EnrollmentId,
    /// Its lead.
    pub lead: LeadId,
    /// The sequence.
    pub sequence_id: String,
    /// The step that is due (as stored; it may have been removed from the sequence since).
    pub step_id: Option<String>,
    /// When it was due.
    pub due_at: i64,
    /// The sticky mailbox, once the thread started.
    pub mailbox: Option<String>,
    /// The subject of the thread's first email, for `Re:` follow-ups.
    pub thread_subject: Option<String>,
}

/// Which due enrollments a daemon leases.
#[derive(Debug, Clone, Copy)]
pub enum DueScope<'a> {
    /// Every one (one daemon alone, tests).
    All,
    /// Those whose mailbox (or the one picked for their first email) is one of `held`, those
    /// not tied to a mailbox yet, and those whose mailbox is not one of `configured` (removed
    /// from config.toml: decided again, by any daemon).
    Mailboxes {
        /// The mailboxes this daemon holds.
        held: &'a [&'a str],
        /// Every configured mailbox.
        configured: &'a [&'a str],
    },
}

impl<'a> DueScope<'a> {
    /// The statements' arguments: all (1 or 0), the held list, the configured list (an empty
    /// list is given as one name no mailbox has).
    fn args(&self) -> [Val<'a>; 3] {
        let list = |names: &[&'a str]| {
            let mut vals: Vec<Val<'a>> = names.iter().map(|n| Val::from(*n)).collect();
            if vals.is_empty() {
                vals.push(Val::from(""));
            }
            Val::List(vals)
        };
        match self {
            DueScope::All => [Val::from(1), list(&[]), list(&[])],
            DueScope::Mailboxes { held, configured } => {
                [Val::from(0), list(held), list(configured)]
            }
        }
    }
}

/// [`Store::lease_due`]'s statement, per engine.
const LEASE_DUE: PerEngine = PerEngine {
    sqlite: include_str!("sql/due/lease_due.sqlite.sql"),
    postgres: include_str!("sql/due/lease_due.postgres.sql"),
};

impl Store {
    /// Leases up to `limit` due active enrollments (due at or before `now`, not leased by a live
    /// daemon), oldest due first.
    pub async fn lease_due(
        &self,
        instance: &str,
        now: i64,
        limit: i64,
    ) -> Result<Vec<Leased>, StoreError> {
        self.lease_due_in(instance, now, limit, &DueScope::All)
            .await
    }

    /// [`Store::lease_due`], of the enrollments in `scope` only.
    pub async fn lease_due_in(
        &self,
        instance: &str,
        now: i64,
        limit: i64,
        scope: &DueScope<'_>,
    ) -> Result<Vec<Leased>, StoreError> {
        let mut q = Stmt::new(self.backend);
        let [all, held, configured] = scope.args();
        q.sql_args(
            LEASE_DUE.on(self.backend),
            &[
                Val::from(instance),
                Val::from(now + LEASE_SECONDS),
                Val::from(now),
                Val::from(limit),
                all,
                held,
                configured,
            ],
        );
        let rows = q.fetch_all(&self.pool).await?;
        let mut out = rows
            .iter()
            .map(|r| {
                Ok(Leased {
                    enrollment: EnrollmentId(r.try_get("id")?),
                    lead: LeadId(r.try_get("lead_id")?),
                    sequence_id: r.try_get("sequence_id")?,
                    step_id: r.try_get("next_step_id")?,
                    due_at: r.try_get::<Option<i64>, _>("next_due_at")?.unwrap_or(now),
                    mailbox: r.try_get("mailbox")?,
                    thread_subject: r.try_get("thread_subject")?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        out.sort_by_key(|l| (l.due_at, l.enrollment.0));
        Ok(out)
    }

    /// Leaves leased enrollments to the daemons that hold the mailboxes their next emails go
    /// from (each `(enrollment, mailbox)`): their leases end, still due, and `sender` names
    /// the mailbox, so its holder leases them.
    pub async fn hand_over(
        &self,
        instance: &str,
        items: &[(EnrollmentId, &str)],
        now: i64,
    ) -> Result<(), StoreError> {
        if items.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        for (id, mailbox) in items {
            sqlx::query(include_str!("sql/due/hand_over.sql"))
                .bind(*mailbox)
                .bind(now)
                .bind(id.0)
                .bind(instance)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// When the earliest active enrollment that nobody holds is due (the scheduler sleeps
    /// until then). One leased by another daemon is not counted: that daemon is working on it,
    /// and waking for it would spin until its lease ends.
    pub async fn next_due_at(&self, now: i64) -> Result<Option<i64>, StoreError> {
        self.next_due_in(now, &DueScope::All).await
    }

    /// [`Store::next_due_at`], of the enrollments in `scope` only.
    pub async fn next_due_in(
        &self,
        now: i64,
        scope: &DueScope<'_>,
    ) -> Result<Option<i64>, StoreError> {
        let mut q = Stmt::new(self.backend);
        let [all, held, configured] = scope.args();
        q.sql_args(
            include_str!("sql/due/next_due_at.sql"),
            &[Val::from(now), all, held, configured],
        );
        let rows = q.fetch_all(&self.pool).await?;
        match rows.first() {
            Some(r) => Ok(r.try_get("t")?),
            None => Ok(None),
        }
    }

    /// Gives leased enrollments back without doing their step: each becomes due at its new
    /// time (a window opening, a cap's next day), or stays where it was with `None`.
    pub async fn defer(
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
            sqlx::query(include_str!("sql/due/defer.sql"))
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

    /// The touches each enrollment already has, oldest first.
    pub async fn past_touches(
        &self,
        enrollments: &[EnrollmentId],
    ) -> Result<HashMap<EnrollmentId, Vec<PastTouch>>, StoreError> {
        let mut out: HashMap<EnrollmentId, Vec<PastTouch>> = HashMap::new();
        for chunk in enrollments.chunks(500) {
            let ids = Val::List(chunk.iter().map(|e| Val::from(e.0)).collect());
            let mut q = Stmt::new(self.backend);
            q.sql_args(include_str!("sql/due/past_touches.sql"), &[ids]);
            for r in q.fetch_all(&self.pool).await? {
                out.entry(EnrollmentId(r.try_get("enrollment_id")?))
                    .or_default()
                    .push(PastTouch {
                        id: r.try_get("id")?,
                        step_id: r.try_get("step_id")?,
                        kind: touch_kind(&r.try_get::<String, _>("kind")?)?,
                        state: touch_state(&r.try_get::<String, _>("state")?)?,
                        message_id: r.try_get("message_id")?,
                        subject: r.try_get("subject")?,
                        sent_at: r.try_get("sent_at")?,
                        attempt: r.try_get("attempt")?,
                        mailbox: r.try_get("mailbox")?,
                    });
            }
        }
        Ok(out)
    }

    /// Ends or pauses a leased enrollment without running a step (no step left; the sequence
    /// is gone; no mailbox can send it), with an event. Returns false, changing nothing, when
    /// it is no longer active and leased by `instance`.
    pub async fn settle_leased(
        &self,
        instance: &str,
        enrollment: EnrollmentId,
        to: EnrollmentState,
        reason: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(include_str!("sql/due/settle_leased.sql"))
            .bind(now)
            .bind(to.as_str())
            .bind(reason)
            .bind(enrollment.0)
            .bind(instance)
            .bind(to.is_final().then_some(now))
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else {
            return Ok(false);
        };
        let sequence: String = row.try_get("sequence_id")?;
        let kind = match to {
            EnrollmentState::Finished => EventKind::Finished,
            EnrollmentState::Paused => EventKind::Paused,
            _ => EventKind::Stopped,
        };
        let mut ev = NewEvent::about(kind, Some(LeadId(row.try_get("lead_id")?)));
        ev.enrollment = Some(enrollment);
        ev.sequence = Some(&sequence);
        ev.data = serde_json::json!({ "reason": reason });
        events::insert(&mut tx, &ev, now).await?;
        tx.commit().await?;
        Ok(true)
    }
}

/// Drops `enrollment`'s lease inside the caller's transaction.
pub(super) async fn release(
    tx: &mut AnyConnection,
    enrollment: EnrollmentId,
    now: i64,
) -> Result<(), StoreError> {
    on_enrollment(tx, include_str!("sql/due/release.sql"), enrollment, now).await
}

/// Undoes a claim's hold that got no touch, inside the caller's transaction: the lease is
/// dropped and the enrollment is due at `now` again (see `sql/due/release_due.sql`).
pub(super) async fn release_due(
    tx: &mut AnyConnection,
    enrollment: EnrollmentId,
    now: i64,
) -> Result<(), StoreError> {
    on_enrollment(tx, include_str!("sql/due/release_due.sql"), enrollment, now).await
}

/// Runs `sql` (`$1` now, `$2` the enrollment) inside the caller's transaction.
async fn on_enrollment(
    tx: &mut AnyConnection,
    sql: &'static str,
    enrollment: EnrollmentId,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(sql)
        .bind(now)
        .bind(enrollment.0)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// A stored touch kind; another value means the table was written by something else.
fn touch_kind(s: &str) -> Result<TouchKind, StoreError> {
    TouchKind::parse(s).ok_or_else(|| StoreError::Corrupt(format!("unknown touch kind {s:?}")))
}

/// A stored touch state (see [`touch_kind`]).
fn touch_state(s: &str) -> Result<TouchState, StoreError> {
    s.parse().map_err(StoreError::Corrupt)
}

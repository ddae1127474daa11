//! Claiming due steps (DESIGN.md invariants 1 and 2): one committed transaction per batch,
//! before any byte of it goes to a server. Two set-based statements do a batch of any size
//! (see `statements` for why their number matters), both under the same guard, that the
//! enrollment is still `active`, still leased by this daemon (a stop, pause or reply recorded
//! since the lease wins) and its address, domain or forgotten hash not suppressed:
//!
//! 1. the enrollments point at their step and lose their due time;
//! 2. the email touches are inserted `sending` with their Message-IDs (a retry re-claims its
//!    row and keeps the Message-ID it was given the first time).
//!
//! The daemon runs them in the same transaction as the recording of the emails that just
//! finished. Suppressed addresses and task steps are rare and go row by row.

use std::collections::{HashMap, HashSet};

use sqlx::{AnyConnection, Row};

use super::due::{release, release_due};
use super::events::{self, NewEvent};
use super::leases::LEASE_SECONDS;
use super::sent::{SentRecord, fold_statement, record_statements};
use super::statements::{self, Stmt, Val};
use super::suppressions::values_for;
use super::touches::{Claim, ClaimKind, Claimed};
use super::{Backend, Store, StoreError};
use crate::domain::EventKind;

impl Store {
    /// Claims steps in one transaction: each enrollment must still be active and leased by
    /// `instance`, and its address must not be suppressed. A claimed email touch is `sending`
    /// with its Message-ID; a claimed task is `scheduled` with an open task row. The enrollment
    /// is left with no due time until the outcome is recorded. Outcomes come in `claims`' order.
    pub async fn claim(
        &self,
        instance: &str,
        claims: &[Claim<'_>],
        now: i64,
    ) -> Result<Vec<Claimed>, StoreError> {
        self.record_sent_then_claim(&[], instance, claims, now)
            .await
    }

    /// Records `sent` (see [`Store::record_sent_many`]) and claims `claims` (see
    /// [`Store::claim`]) in one transaction: the sending daemon's one write per round of
    /// finished and next emails.
    pub async fn record_sent_then_claim(
        &self,
        sent: &[SentRecord],
        instance: &str,
        claims: &[Claim<'_>],
        now: i64,
    ) -> Result<Vec<Claimed>, StoreError> {
        let batch = Batch::new(self.backend, instance, claims, now);
        let mut stmts = record_statements(self.backend, sent);
        let recorded = stmts.len();
        if !batch.unique.is_empty() {
            stmts.push(batch.hold());
        }
        if !batch.emails.is_empty() {
            stmts.push(batch.insert_email_touches());
        }
        if stmts.is_empty() {
            return Ok(vec![Claimed::Lost; claims.len()]);
        }
        let mut tx = self.begin_write().await?;
        let mut results = statements::run(&mut tx, self.backend, stmts).await?;
        let fold = fold_statement(&results[..recorded])?;
        let mut rows = results.drain(recorded..);
        let held: HashSet<i64> = match rows.next() {
            Some(rows) => rows
                .iter()
                .map(|r| r.try_get("id"))
                .collect::<Result<_, _>>()?,
            None => HashSet::new(),
        };
        let mut touches: HashMap<i64, (i64, i64)> = HashMap::with_capacity(batch.emails.len());
        for r in rows.next().unwrap_or_default() {
            touches.insert(
                r.try_get("enrollment_id")?,
                (r.try_get("id")?, r.try_get("attempt")?),
            );
        }
        drop(rows);
        let out = batch.outcomes(&mut tx, &held, &touches).await?;
        if let Some(fold) = fold {
            fold.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(out)
    }
}

/// One batch of claims: each enrollment is claimed once (a second claim of it is lost).
struct Batch<'c, 'a> {
    backend: Backend,
    instance: &'c str,
    claims: &'c [Claim<'a>],
    now: i64,
    /// The claims that count: the first of each enrollment.
    unique: Vec<usize>,
    /// Those of `unique` that send an email.
    emails: Vec<usize>,
}

impl<'c, 'a> Batch<'c, 'a> {
    fn new(backend: Backend, instance: &'c str, claims: &'c [Claim<'a>], now: i64) -> Self {
        let mut seen = HashSet::with_capacity(claims.len());
        let unique: Vec<usize> = (0..claims.len())
            .filter(|&i| seen.insert(claims[i].enrollment.0))
            .collect();
        let emails = unique
            .iter()
            .copied()
            .filter(|&i| matches!(claims[i].kind, ClaimKind::Email { .. }))
            .collect();
        Batch {
            backend,
            instance,
            claims,
            now,
            unique,
            emails,
        }
    }

    /// The guarded update of the claims' enrollments (see `sql/claims/hold.sql`). Returns the
    /// ids held.
    fn hold(&self) -> Stmt<'c> {
        let rows = self
            .unique
            .iter()
            .map(|&i| {
                let c = &self.claims[i];
                let mut row = vec![Val::from(c.enrollment.0), Val::from(c.step_id)];
                row.extend(suppression_vals(c));
                row.extend(match &c.kind {
                    ClaimKind::Email { mailbox, epoch, .. } => {
                        [Val::from(mailbox.as_str()), Val::from(*epoch)]
                    }
                    _ => [Val::Text(None), Val::Int(None)],
                });
                row
            })
            .collect();
        let mut s = Stmt::new(self.backend);
        s.values(
            &[
                "enrollment",
                "step",
                "address",
                "domain",
                "hash",
                "mailbox",
                "epoch",
            ],
            rows,
        )
        .sql_args(
            include_str!("sql/claims/hold.sql"),
            &[
                Val::from(self.now + LEASE_SECONDS),
                Val::from(self.now),
                Val::from(self.instance),
            ],
        );
        s
    }

    /// The touch rows of the email claims, `sending`, under the same guard as [`Batch::hold`]
    /// (see `sql/claims/insert_email_touches.sql`). Returns `id, attempt, enrollment_id` of the
    /// rows claimed.
    fn insert_email_touches(&self) -> Stmt<'c> {
        const COLS: [&str; 15] = [
            "enrollment",
            "lead",
            "sequence",
            "step",
            "variant",
            "mailbox",
            "message_id",
            "subject",
            "due",
            "recipient",
            "handed",
            "address",
            "domain",
            "hash",
            "epoch",
        ];
        let rows = self
            .emails
            .iter()
            .map(|&i| {
                let c = &self.claims[i];
                let ClaimKind::Email {
                    mailbox,
                    message_id,
                    subject,
                    variant,
                    recipient_domain,
                    handed,
                    epoch,
                } = &c.kind
                else {
                    unreachable!("only email claims are inserted here");
                };
                let mut row = vec![
                    Val::from(c.enrollment.0),
                    Val::from(c.lead.0),
                    Val::from(c.sequence_id),
                    Val::from(c.step_id),
                    Val::from(variant.as_str()),
                    Val::from(mailbox.as_str()),
                    Val::from(message_id.as_str()),
                    Val::from(subject.as_str()),
                    Val::from(c.due_at),
                    Val::from(recipient_domain.as_str()),
                    Val::from(*handed),
                ];
                row.extend(suppression_vals(c));
                row.push(Val::from(*epoch));
                row
            })
            .collect();
        let mut s = Stmt::new(self.backend);
        s.values(&COLS, rows).sql_args(
            include_str!("sql/claims/insert_email_touches.sql"),
            &[Val::from(self.now), Val::from(self.instance)],
        );
        s
    }

    /// Each claim's outcome, given the enrollments `held` and the email `touches` claimed (by
    /// enrollment: touch and attempt). An enrollment not held was stopped, paused or taken
    /// meanwhile (lost), or its address is suppressed (rare; checked one by one, and stopped).
    /// A held task step gets its touch and task; a held email step with no touch claimed
    /// already has one that is not waiting for a retry.
    async fn outcomes(
        &self,
        tx: &mut AnyConnection,
        held: &HashSet<i64>,
        touches: &HashMap<i64, (i64, i64)>,
    ) -> Result<Vec<Claimed>, StoreError> {
        let mut out = vec![Claimed::Lost; self.claims.len()];
        let mut missed: Vec<usize> = self
            .unique
            .iter()
            .copied()
            .filter(|&i| !held.contains(&self.claims[i].enrollment.0))
            .collect();
        // An email refused by the fence (its mailbox moved to another daemon) is lost, not
        // suppressed, and its lease is dropped at once: this daemon renews the leases it
        // holds, so one kept would never be due again while it lives.
        if missed
            .iter()
            .any(|&i| matches!(self.claims[i].kind, ClaimKind::Email { .. }))
        {
            let ours = super::holders::held_by(tx, self.instance).await?;
            let mut fenced = Vec::new();
            missed.retain(|&i| match &self.claims[i].kind {
                ClaimKind::Email { mailbox, epoch, .. } if ours.get(mailbox) != Some(epoch) => {
                    fenced.push(self.claims[i].enrollment.0);
                    false
                }
                _ => true,
            });
            for id in fenced {
                sqlx::query(include_str!("sql/claims/drop_fenced.sql"))
                    .bind(id)
                    .bind(self.instance)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        for i in self.still_ours(tx, &missed).await? {
            stop_suppressed(tx, &self.claims[i], self.now).await?;
            out[i] = Claimed::Suppressed;
        }
        for &i in &self.unique {
            let c = &self.claims[i];
            if !held.contains(&c.enrollment.0) {
                continue;
            }
            out[i] = match &c.kind {
                ClaimKind::Task { kind, note, owner } => {
                    claim_task(tx, c, kind, note, owner.as_deref(), self.now).await?
                }
                ClaimKind::Draft(d) => super::drafts::claim_draft(tx, c, d, self.now).await?,
                ClaimKind::Email { .. } => match touches.get(&c.enrollment.0) {
                    Some(&(touch, attempt)) => Claimed::Go { touch, attempt },
                    None => {
                        release_due(tx, c.enrollment, self.now).await?;
                        Claimed::AlreadyDone
                    }
                },
            };
        }
        Ok(out)
    }

    /// Of the claims `which` that were not held, those still active and leased by this
    /// daemon: the ones held back by a suppression.
    async fn still_ours(
        &self,
        tx: &mut AnyConnection,
        which: &[usize],
    ) -> Result<Vec<usize>, StoreError> {
        let mut ours = HashSet::new();
        for chunk in which.chunks(500) {
            let ids = chunk
                .iter()
                .map(|&i| Val::from(self.claims[i].enrollment.0))
                .collect();
            let mut q = Stmt::new(self.backend);
            q.sql_args(
                include_str!("sql/claims/still_ours.sql"),
                &[Val::from(self.instance), Val::List(ids)],
            );
            for r in q.fetch_all(&mut *tx).await? {
                ours.insert(r.try_get::<i64, _>("id")?);
            }
        }
        Ok(which
            .iter()
            .copied()
            .filter(|&i| ours.contains(&self.claims[i].enrollment.0))
            .collect())
    }
}

/// The suppression values of a claim's address, as `v` columns `address, domain, hash`.
fn suppression_vals<'v>(c: &Claim<'_>) -> [Val<'v>; 3] {
    values_for(c.email).map(Val::from)
}

/// The address is suppressed: the enrollment stops, with an event saying why.
async fn stop_suppressed(
    tx: &mut AnyConnection,
    c: &Claim<'_>,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(include_str!("sql/claims/stop_suppressed.sql"))
        .bind(now)
        .bind(c.enrollment.0)
        .execute(&mut *tx)
        .await?;
    let mut ev = NewEvent::about(EventKind::Stopped, Some(c.lead));
    ev.enrollment = Some(c.enrollment);
    ev.sequence = Some(c.sequence_id);
    ev.step = Some(c.step_id);
    ev.data = serde_json::json!({ "reason": "suppressed" });
    events::insert(tx, &ev, now).await
}

/// A task step: the touch (`scheduled`) and an open task for the rep. The enrollment waits in
/// the rep's hands, not a daemon's: no lease.
async fn claim_task(
    tx: &mut AnyConnection,
    c: &Claim<'_>,
    kind: &str,
    note: &str,
    owner: Option<&str>,
    now: i64,
) -> Result<Claimed, StoreError> {
    let row = sqlx::query(include_str!("sql/claims/task_touch.sql"))
        .bind(c.enrollment.0)
        .bind(c.lead.0)
        .bind(c.sequence_id)
        .bind(c.step_id)
        .bind(c.due_at)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
    let Some(r) = row else {
        release_due(tx, c.enrollment, now).await?;
        return Ok(Claimed::AlreadyDone);
    };
    let touch: i64 = r.try_get("id")?;
    sqlx::query(include_str!("sql/claims/task.sql"))
        .bind(touch)
        .bind(c.enrollment.0)
        .bind(c.lead.0)
        .bind(kind)
        .bind(note)
        .bind(owner)
        .bind(now)
        .bind(c.sequence_id)
        .bind(c.step_id)
        .execute(&mut *tx)
        .await?;
    release(tx, c.enrollment, now).await?;
    let mut ev = NewEvent::about(EventKind::TaskDue, Some(c.lead));
    ev.enrollment = Some(c.enrollment);
    ev.touch = Some(touch);
    ev.sequence = Some(c.sequence_id);
    ev.step = Some(c.step_id);
    ev.mailbox = owner;
    ev.data = serde_json::json!({ "task": kind });
    events::insert(tx, &ev, now).await?;
    Ok(Claimed::Go { touch, attempt: 1 })
}

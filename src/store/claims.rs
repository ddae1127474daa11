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

use super::events::{self, NewEvent};
use super::leases::LEASE_SECONDS;
use super::sent::{SentRecord, record_statements};
use super::statements::{self, Stmt, Val};
use super::suppressions::values_for;
use super::touches::{Claim, ClaimKind, Claimed, release};
use super::{Backend, Store, StoreError, built, in_list_from, placeholder};
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
        let mut stmts = record_statements(self.backend, sent);
        let recorded = stmts.len();
        // An enrollment is claimed once per batch; a second claim of it is lost.
        let mut seen = HashSet::with_capacity(claims.len());
        let unique: Vec<usize> = (0..claims.len())
            .filter(|&i| seen.insert(claims[i].enrollment.0))
            .collect();
        let emails: Vec<usize> = unique
            .iter()
            .copied()
            .filter(|&i| matches!(claims[i].kind, ClaimKind::Email { .. }))
            .collect();
        if !unique.is_empty() {
            stmts.push(hold(self.backend, instance, claims, &unique, now));
        }
        if !emails.is_empty() {
            stmts.push(insert_email_touches(
                self.backend,
                instance,
                claims,
                &emails,
                now,
            ));
        }
        if stmts.is_empty() {
            return Ok(vec![Claimed::Lost; claims.len()]);
        }
        let mut tx = self.begin_write().await?;
        let mut rows = statements::run(&mut tx, self.backend, stmts)
            .await?
            .into_iter()
            .skip(recorded);
        let held: HashSet<i64> = match rows.next() {
            Some(rows) => rows
                .iter()
                .map(|r| r.try_get("id"))
                .collect::<Result<_, _>>()?,
            None => HashSet::new(),
        };
        let mut touches: HashMap<i64, (i64, i64)> = HashMap::with_capacity(emails.len());
        for r in rows.next().unwrap_or_default() {
            touches.insert(
                r.try_get("enrollment_id")?,
                (r.try_get("id")?, r.try_get("attempt")?),
            );
        }
        let mut out = vec![Claimed::Lost; claims.len()];
        // Not held: stopped, paused or taken meanwhile (lost), or suppressed (rare; checked
        // one by one).
        let missed: Vec<usize> = unique
            .iter()
            .copied()
            .filter(|&i| !held.contains(&claims[i].enrollment.0))
            .collect();
        for i in still_ours(&mut tx, self.backend, instance, claims, &missed).await? {
            stop_suppressed(&mut tx, &claims[i], now).await?;
            out[i] = Claimed::Suppressed;
        }
        for &i in &unique {
            let c = &claims[i];
            if !held.contains(&c.enrollment.0) {
                continue;
            }
            out[i] = match &c.kind {
                ClaimKind::Task { kind, note, owner } => {
                    claim_task(&mut tx, c, kind, note, owner.as_deref(), now).await?
                }
                ClaimKind::Email { .. } => match touches.get(&c.enrollment.0) {
                    Some(&(touch, attempt)) => Claimed::Go { touch, attempt },
                    // The step already has a touch that is not waiting for a retry.
                    None => {
                        release(&mut tx, c.enrollment, now).await?;
                        Claimed::AlreadyDone
                    }
                },
            };
        }
        tx.commit().await?;
        Ok(out)
    }
}

/// `NOT EXISTS` a suppression of the address, its domain or its forgotten hash, in `v`.
const NOT_SUPPRESSED: &str =
    "NOT EXISTS (SELECT 1 FROM suppressions s WHERE s.value IN (v.address, v.domain, v.hash))";

/// The suppression values of a claim's address, as `v` columns `address, domain, hash`.
fn suppression_vals(c: &Claim<'_>) -> [Val; 3] {
    let [a, d, h] = values_for(c.email);
    [Val::Text(Some(a)), Val::Text(Some(d)), Val::Text(Some(h))]
}

/// The guarded update of the claims' enrollments: each still active, leased by `instance` and
/// not suppressed points at its step and has no due time. Returns the ids held.
fn hold(backend: Backend, instance: &str, claims: &[Claim<'_>], which: &[usize], now: i64) -> Stmt {
    let rows = which
        .iter()
        .map(|&i| {
            let c = &claims[i];
            let mut row = vec![Val::from(c.enrollment.0), Val::from(c.step_id)];
            row.extend(suppression_vals(c));
            row
        })
        .collect();
    let mut s = Stmt::new(backend);
    s.values(&["enrollment", "step", "address", "domain", "hash"], rows)
        .sql("UPDATE enrollments SET next_due_at = NULL, next_step_id = v.step, lease_until = ")
        .arg(now + LEASE_SECONDS)
        .sql(", updated_at = ")
        .arg(now)
        .sql(
            " FROM v WHERE enrollments.id = v.enrollment AND enrollments.state = 'active' \
             AND enrollments.lease_owner = ",
        )
        .arg(instance)
        .sql(" AND ")
        .sql(NOT_SUPPRESSED)
        .sql(" RETURNING enrollments.id AS id");
    s
}

/// The touch rows of the email claims `which`, `sending`, under the same guard as [`hold`].
/// Returns `id, attempt, enrollment_id` of the rows claimed; a step whose touch exists and is
/// not waiting for a retry is left out. A retry (or a render failure fixed and resumed)
/// re-claims its row and keeps the Message-ID it was given the first time.
fn insert_email_touches(
    backend: Backend,
    instance: &str,
    claims: &[Claim<'_>],
    which: &[usize],
    now: i64,
) -> Stmt {
    let rows = which
        .iter()
        .map(|&i| {
            let c = &claims[i];
            let ClaimKind::Email {
                mailbox,
                message_id,
                subject,
                variant,
                recipient_domain,
                handed,
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
                Val::from(i64::from(*handed)),
            ];
            row.extend(suppression_vals(c));
            row
        })
        .collect();
    let mut s = Stmt::new(backend);
    s.values(
        &[
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
        ],
        rows,
    )
    .sql(
        "INSERT INTO touches (enrollment_id, lead_id, sequence_id, step_id, kind, variant, state, mailbox, \
           message_id, subject, attempt, due_at, claimed_at, created_at, recipient_domain, handed_at) \
         SELECT v.enrollment, v.lead, v.sequence, v.step, 'email', v.variant, 'sending', v.mailbox, \
           v.message_id, v.subject, 1, v.due, ",
    )
    .arg(now)
    .sql(", ")
    .arg(now)
    .sql(", v.recipient, CASE WHEN v.handed = 1 THEN ")
    .arg(now)
    .sql(
        " END FROM v JOIN enrollments e ON e.id = v.enrollment \
         WHERE e.state = 'active' AND e.lease_owner = ",
    )
    .arg(instance)
    .sql(" AND ")
    .sql(NOT_SUPPRESSED)
    .sql(
        " ON CONFLICT (enrollment_id, step_id) DO UPDATE SET state = 'sending', attempt = touches.attempt + 1, \
           claimed_at = excluded.claimed_at, mailbox = COALESCE(touches.mailbox, excluded.mailbox), \
           message_id = COALESCE(touches.message_id, excluded.message_id), \
           subject = excluded.subject, variant = excluded.variant, error = NULL, \
           recipient_domain = excluded.recipient_domain, handed_at = excluded.handed_at \
         WHERE touches.state = 'scheduled' OR (touches.state = 'failed' AND touches.message_id IS NULL) \
         RETURNING id, attempt, enrollment_id",
    );
    s
}

/// Of the claims `which` that were not held, those still active and leased by `instance`:
/// the ones held back by a suppression.
async fn still_ours(
    tx: &mut AnyConnection,
    backend: Backend,
    instance: &str,
    claims: &[Claim<'_>],
    which: &[usize],
) -> Result<Vec<usize>, StoreError> {
    if which.is_empty() {
        return Ok(Vec::new());
    }
    let mut ours = HashSet::new();
    for chunk in which.chunks(500) {
        let sql = format!(
            "SELECT id FROM enrollments WHERE state = 'active' AND lease_owner = {} AND id IN ({})",
            placeholder(backend, 1),
            in_list_from(backend, 2, chunk.len())
        );
        let mut q = sqlx::query(built(sql)).bind(instance);
        for &i in chunk {
            q = q.bind(claims[i].enrollment.0);
        }
        for r in q.fetch_all(&mut *tx).await? {
            ours.insert(r.try_get::<i64, _>("id")?);
        }
    }
    Ok(which
        .iter()
        .copied()
        .filter(|&i| ours.contains(&claims[i].enrollment.0))
        .collect())
}

/// The address is suppressed: the enrollment stops, with an event saying why.
async fn stop_suppressed(
    tx: &mut AnyConnection,
    c: &Claim<'_>,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE enrollments SET state = 'stopped', outcome = 'suppressed', reason = 'the address is on the suppression list', \
         finished_at = $1, lease_owner = NULL, lease_until = NULL WHERE id = $2",
    )
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
    let row = sqlx::query(
        "INSERT INTO touches (enrollment_id, lead_id, sequence_id, step_id, kind, state, due_at, claimed_at, created_at) \
         VALUES ($1, $2, $3, $4, 'task', 'scheduled', $5, $6, $6) \
         ON CONFLICT (enrollment_id, step_id) DO NOTHING RETURNING id",
    )
    .bind(c.enrollment.0)
    .bind(c.lead.0)
    .bind(c.sequence_id)
    .bind(c.step_id)
    .bind(c.due_at)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(r) = row else {
        release(tx, c.enrollment, now).await?;
        return Ok(Claimed::AlreadyDone);
    };
    let touch: i64 = r.try_get("id")?;
    sqlx::query(
        "INSERT INTO tasks (touch_id, enrollment_id, lead_id, kind, note, owner, state, due_at, created_at, sequence_id, step_id) \
         VALUES ($1, $2, $3, $4, $5, $6, 'open', $7, $7, $8, $9)",
    )
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

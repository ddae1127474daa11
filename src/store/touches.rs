//! Touches: the daemon's side of the store. Leasing due enrollments, claiming a step before
//! anything leaves (DESIGN.md invariants 1 and 2), and recording what the server said.
//!
//! The life of an email step, as rows:
//!
//! 1. `lease_due`: due active enrollments get `lease_owner`/`lease_until` (one atomic
//!    `UPDATE … RETURNING`; `FOR UPDATE SKIP LOCKED` on PostgreSQL so several daemons share the
//!    table without waiting on each other).
//! 2. `claim`: in one transaction per batch, a guarded update that the enrollment is still
//!    active and still ours, the suppression check, and the touch row in state `sending` with
//!    its Message-ID. The enrollment's `next_due_at` is cleared, so nothing else picks it up.
//!    Only after this commits does a byte go to the server.
//! 3. `record_*`: `sent` (and the enrollment moves to its next step), `scheduled` again for a
//!    retry (same Message-ID), `failed`, or `uncertain` when the connection broke after the
//!    message was handed over. A crashed daemon's `sending` touches that a server may have had
//!    become `uncertain` (see `leases`); they are never sent again without a person (or the
//!    Sent folder) deciding. Those no server was ready for go back to the queue.

use std::collections::HashMap;

use serde::Serialize;
use sqlx::{AnyConnection, Row};

use super::enrollments::EnrollmentId;
use super::events::{self, NewEvent};
use super::leases::LEASE_SECONDS;
use super::{Backend, LeadId, Store, StoreError, built, in_list};
use crate::domain::EventKind;
use crate::domain::{Next, PastTouch, TouchKind};
use crate::enrollment::{EnrollmentState, TouchState};
use crate::lead::Email;

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

/// What the daemon decided to do with one due step.
#[derive(Debug, Clone)]
pub enum ClaimKind {
    /// Send an email.
    Email {
        /// The sending mailbox.
        mailbox: String,
        /// `<id@domain>`: a new one, or the one a retry keeps.
        message_id: String,
        /// The subject (for status and threading).
        subject: String,
        /// The A/B variant.
        variant: String,
        /// Recipient domain, for the per-domain limit.
        recipient_domain: String,
        /// The mailbox's connections were working at the claim: the server may have the
        /// message from now on (`handed_at` is set with the claim). When false, the sender
        /// marks it just before the body (see [`Store::mark_handed`]).
        handed: bool,
    },
    /// Create a task for the rep; the enrollment waits until it is done or skipped.
    Task {
        /// call, linkedin, custom.
        kind: String,
        /// The rendered note.
        note: String,
        /// Whose task (the lead's owner or the sending mailbox).
        owner: Option<String>,
    },
}

/// One step to claim.
#[derive(Debug, Clone)]
pub struct Claim<'a> {
    /// The leased enrollment.
    pub enrollment: EnrollmentId,
    /// Its lead.
    pub lead: LeadId,
    /// The lead's address (for the suppression check).
    pub email: &'a Email,
    /// The sequence.
    pub sequence_id: &'a str,
    /// The step.
    pub step_id: &'a str,
    /// When it was due.
    pub due_at: i64,
    /// What to do.
    pub kind: ClaimKind,
}

/// What claiming one step did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claimed {
    /// The touch is ours to execute. For an email, `attempt` counts this hand-over.
    Go {
        /// The touch row.
        touch: i64,
        /// 1 for the first hand-over to a server, more for retries.
        attempt: i64,
    },
    /// The enrollment changed since it was leased (stopped, paused, replied, taken by another
    /// daemon): nothing happens.
    Lost,
    /// The address or its domain is suppressed: the enrollment was stopped, nothing sent.
    Suppressed,
    /// The step already has a touch that is not waiting for a retry: nothing happens.
    AlreadyDone,
}

/// A touch as the daemon's recovery and `resolve` see it.
#[derive(Debug, Clone, Serialize)]
pub struct TouchInfo {
    /// Row id.
    pub id: i64,
    /// Enrollment.
    pub enrollment: i64,
    /// Lead.
    pub lead: i64,
    /// Sequence.
    pub sequence_id: String,
    /// Step.
    pub step_id: String,
    /// email or task.
    pub kind: String,
    /// State.
    pub state: String,
    /// Sending mailbox.
    pub mailbox: Option<String>,
    /// Message-ID.
    pub message_id: Option<String>,
    /// Subject.
    pub subject: Option<String>,
    /// When claimed.
    pub claimed_at: Option<i64>,
    /// Last error.
    pub error: Option<String>,
}

impl Store {
    /// Leases up to `limit` due active enrollments (due at or before `now`, not leased by a live
    /// daemon), oldest due first.
    pub async fn lease_due(
        &self,
        instance: &str,
        now: i64,
        limit: i64,
    ) -> Result<Vec<Leased>, StoreError> {
        let lock = match self.backend {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let sql = format!(
            "UPDATE enrollments SET lease_owner = $1, lease_until = $2 WHERE id IN (\
               SELECT id FROM enrollments WHERE state = 'active' AND next_due_at <= $3 \
               AND (lease_until IS NULL OR lease_until < $3) ORDER BY next_due_at LIMIT $4{lock}) \
             RETURNING id, lead_id, sequence_id, next_step_id, next_due_at, mailbox, thread_subject"
        );
        let rows = sqlx::query(built(sql))
            .bind(instance)
            .bind(now + LEASE_SECONDS)
            .bind(now)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
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

    /// When the earliest active enrollment that nobody holds is due (the scheduler sleeps
    /// until then). One leased by another daemon is not counted: that daemon is working on it,
    /// and waking for it would spin until its lease ends.
    pub async fn next_due_at(&self, now: i64) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query(
            "SELECT MIN(next_due_at) AS t FROM enrollments WHERE state = 'active' AND next_due_at IS NOT NULL \
             AND (lease_until IS NULL OR lease_until < $1)",
        )
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("t")?)
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
            sqlx::query(
                "UPDATE enrollments SET next_step_id = COALESCE($1, next_step_id), next_due_at = $2, \
                 lease_owner = NULL, lease_until = NULL, updated_at = $3 \
                 WHERE id = $4 AND state = 'active' AND lease_owner = $5",
            )
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
            let sql = format!(
                "SELECT id, enrollment_id, step_id, kind, state, message_id, subject, sent_at, attempt, mailbox \
                 FROM touches WHERE enrollment_id IN ({}) ORDER BY id",
                in_list(self.backend, chunk.len())
            );
            let mut q = sqlx::query(built(sql));
            for e in chunk {
                q = q.bind(e.0);
            }
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

    /// The server said "try later" or could not be reached before the message was handed
    /// over: the touch waits for `retry_at` with the same Message-ID.
    pub async fn record_retry(
        &self,
        touch: i64,
        error: &str,
        retry_at: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let Some(t) = touch_info(&mut tx, touch).await? else {
            return Ok(());
        };
        sqlx::query(
            "UPDATE touches SET state = 'scheduled', error = $1, next_attempt_at = $2 WHERE id = $3 AND state = 'sending'",
        )
        .bind(error)
        .bind(retry_at)
        .bind(touch)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE enrollments SET next_due_at = $1, lease_owner = NULL, lease_until = NULL, updated_at = $2 \
             WHERE id = $3 AND state IN ('active', 'paused')",
        )
        .bind(retry_at)
        .bind(now)
        .bind(t.enrollment)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The step failed for good (a 5xx, a render error, retries exhausted): the touch is
    /// `failed` and the enrollment becomes `to` (failed, paused, or bounced), with an event.
    /// With `suppress`, the address goes on the suppression list (a hard bounce).
    pub async fn record_failed(
        &self,
        touch: i64,
        error: &str,
        to: EnrollmentState,
        suppress: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let Some(t) = touch_info(&mut tx, touch).await? else {
            return Ok(());
        };
        sqlx::query(
            "UPDATE touches SET state = 'failed', error = $1, next_attempt_at = NULL WHERE id = $2 AND state IN ('sending', 'scheduled', 'uncertain')",
        )
        .bind(error)
        .bind(touch)
        .execute(&mut *tx)
        .await?;
        let kind = match to {
            EnrollmentState::Bounced => EventKind::Bounced,
            EnrollmentState::Paused => EventKind::Paused,
            _ => EventKind::Failed,
        };
        let mut ev = event_for(&t, kind);
        ev.data = serde_json::json!({ "error": error, "message_id": t.message_id });
        events::insert(&mut tx, &ev, now).await?;
        let finished = if to.is_final() { "$1" } else { "NULL" };
        let sql = format!(
            "UPDATE enrollments SET state = $2, reason = $3, updated_at = $1, next_due_at = NULL, \
             lease_owner = NULL, lease_until = NULL, finished_at = {finished}, \
             outcome = CASE WHEN $2 IN ('paused') THEN outcome ELSE $2 END \
             WHERE id = $4 AND state IN ('active', 'paused')"
        );
        sqlx::query(built(sql))
            .bind(now)
            .bind(to.as_str())
            .bind(error)
            .bind(t.enrollment)
            .execute(&mut *tx)
            .await?;
        if let Some(value) = suppress {
            sqlx::query(
                "INSERT INTO suppressions (value, reason, note, created_at) VALUES ($1, 'bounced', $2, $3) ON CONFLICT (value) DO NOTHING",
            )
            .bind(value)
            .bind(error)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            let mut ev = NewEvent::about(EventKind::Suppressed, Some(LeadId(t.lead)));
            ev.data = serde_json::json!({ "value": value, "reason": "bounced" });
            events::insert(&mut tx, &ev, now).await?;
            // Other open enrollments of the same address stop too.
            sqlx::query(
                "UPDATE enrollments SET state = 'bounced', outcome = 'bounced', reason = $1, updated_at = $2, \
                 finished_at = $2, next_due_at = NULL WHERE lead_id = $3 AND id <> $4 AND state IN ('active', 'paused')",
            )
            .bind(error)
            .bind(now)
            .bind(t.lead)
            .bind(t.enrollment)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The connection broke after the message was handed over: the server may or may not have
    /// it. The touch becomes `uncertain` and waits for a person (`drumbeat resolve`).
    pub async fn record_uncertain(&self, touch: i64, error: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE touches SET state = 'uncertain', error = $1 WHERE id = $2 AND state = 'sending'",
        )
        .bind(error)
        .bind(touch)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// One touch by id.
    pub async fn touch(&self, id: i64) -> Result<Option<TouchInfo>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        touch_info(&mut conn, id).await
    }

    /// A person says an uncertain touch did not reach the server: it is sent again at the
    /// next tick, with the same Message-ID.
    pub async fn resolve_not_sent(&self, touch: i64, now: i64) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let Some(t) = touch_info(&mut tx, touch).await? else {
            return Ok(false);
        };
        let n = sqlx::query(
            "UPDATE touches SET state = 'scheduled', error = 'resolved by hand: not sent', next_attempt_at = $1 \
             WHERE id = $2 AND state = 'uncertain'",
        )
        .bind(now)
        .bind(touch)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 1 {
            sqlx::query(
                "UPDATE enrollments SET next_due_at = $1, lease_owner = NULL, lease_until = NULL, updated_at = $1 \
                 WHERE id = $2 AND state IN ('active', 'paused')",
            )
            .bind(now)
            .bind(t.enrollment)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(n == 1)
    }
}

impl Store {
    /// Ends or pauses a leased enrollment without running a step (no step left; the sequence
    /// is gone; no mailbox can send it), with an event.
    pub async fn settle_leased(
        &self,
        instance: &str,
        enrollment: EnrollmentId,
        to: EnrollmentState,
        reason: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let finished = if to.is_final() { "$1" } else { "NULL" };
        let sql = format!(
            "UPDATE enrollments SET state = $2, reason = $3, updated_at = $1, next_due_at = CASE WHEN $2 = 'paused' THEN next_due_at ELSE NULL END, \
             lease_owner = NULL, lease_until = NULL, finished_at = {finished}, \
             outcome = CASE WHEN $2 = 'paused' THEN outcome ELSE $2 END, \
             next_step_id = CASE WHEN $2 = 'finished' THEN NULL ELSE next_step_id END \
             WHERE id = $4 AND state = 'active' AND lease_owner = $5 RETURNING lead_id, sequence_id"
        );
        let row = sqlx::query(built(sql))
            .bind(now)
            .bind(to.as_str())
            .bind(reason)
            .bind(enrollment.0)
            .bind(instance)
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

    /// A step could not be rendered: nothing is sent, the touch is `failed` with the reason
    /// (no Message-ID, so a fixed template and `drumbeat resume` retry it), and the enrollment
    /// pauses so the rep sees it under "needs attention".
    #[allow(clippy::too_many_arguments)]
    pub async fn fail_render(
        &self,
        instance: &str,
        enrollment: EnrollmentId,
        lead: LeadId,
        sequence: &str,
        step: &str,
        error: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let held = sqlx::query(
            "UPDATE enrollments SET state = 'paused', reason = $1, updated_at = $2, lease_owner = NULL, lease_until = NULL, \
             next_step_id = $3 WHERE id = $4 AND state = 'active' AND lease_owner = $5",
        )
        .bind(format!("step {step:?} cannot be rendered: {error}"))
        .bind(now)
        .bind(step)
        .bind(enrollment.0)
        .bind(instance)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if held != 1 {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO touches (enrollment_id, lead_id, sequence_id, step_id, kind, state, error, attempt, due_at, created_at) \
             VALUES ($1, $2, $3, $4, 'email', 'failed', $5, 0, $6, $6) \
             ON CONFLICT (enrollment_id, step_id) DO UPDATE SET state = 'failed', error = excluded.error \
             WHERE touches.message_id IS NULL",
        )
        .bind(enrollment.0)
        .bind(lead.0)
        .bind(sequence)
        .bind(step)
        .bind(error)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let mut ev = NewEvent::about(EventKind::Failed, Some(lead));
        ev.enrollment = Some(enrollment);
        ev.sequence = Some(sequence);
        ev.step = Some(step);
        ev.data = serde_json::json!({ "error": error, "render": true });
        events::insert(&mut tx, &ev, now).await?;
        tx.commit().await?;
        Ok(())
    }
}

pub(super) async fn release(
    tx: &mut AnyConnection,
    enrollment: EnrollmentId,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE enrollments SET lease_owner = NULL, lease_until = NULL, updated_at = $1 WHERE id = $2",
    )
    .bind(now)
    .bind(enrollment.0)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Moves the enrollment past a done step (still active or paused; a stopped one stays put).
pub(super) async fn advance(
    tx: &mut AnyConnection,
    t: &TouchInfo,
    next: &Next,
    now: i64,
) -> Result<(), StoreError> {
    match next {
        Next::Step { id, due_at } => {
            sqlx::query(
                "UPDATE enrollments SET next_step_id = $1, next_due_at = $2, lease_owner = NULL, lease_until = NULL, \
                 updated_at = $3 WHERE id = $4 AND state IN ('active', 'paused')",
            )
            .bind(id)
            .bind(*due_at)
            .bind(now)
            .bind(t.enrollment)
            .execute(&mut *tx)
            .await?;
        }
        Next::Finished => {
            let n = sqlx::query(
                "UPDATE enrollments SET state = 'finished', outcome = 'finished', next_step_id = NULL, next_due_at = NULL, \
                 lease_owner = NULL, lease_until = NULL, finished_at = $1, updated_at = $1 \
                 WHERE id = $2 AND state IN ('active', 'paused')",
            )
            .bind(now)
            .bind(t.enrollment)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 1 {
                events::insert(tx, &event_for(t, EventKind::Finished), now).await?;
            }
        }
    }
    Ok(())
}

pub(super) async fn touch_info(
    conn: &mut AnyConnection,
    id: i64,
) -> Result<Option<TouchInfo>, StoreError> {
    let row = sqlx::query(
        "SELECT id, enrollment_id, lead_id, sequence_id, step_id, kind, state, mailbox, message_id, subject, claimed_at, error \
         FROM touches WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(touch_info_from).transpose()
}

pub(super) fn touch_info_from(r: &sqlx::any::AnyRow) -> Result<TouchInfo, StoreError> {
    Ok(TouchInfo {
        id: r.try_get("id")?,
        enrollment: r.try_get("enrollment_id")?,
        lead: r.try_get("lead_id")?,
        sequence_id: r.try_get("sequence_id")?,
        step_id: r.try_get("step_id")?,
        kind: r.try_get("kind")?,
        state: r.try_get("state")?,
        mailbox: r.try_get("mailbox")?,
        message_id: r.try_get("message_id")?,
        subject: r.try_get("subject")?,
        claimed_at: r.try_get("claimed_at")?,
        error: r.try_get("error")?,
    })
}

pub(super) fn event_for(t: &TouchInfo, kind: EventKind) -> NewEvent<'_> {
    let mut ev = NewEvent::about(kind, Some(LeadId(t.lead)));
    ev.enrollment = Some(EnrollmentId(t.enrollment));
    ev.touch = Some(t.id);
    ev.sequence = Some(&t.sequence_id);
    ev.step = Some(&t.step_id);
    ev.mailbox = t.mailbox.as_deref();
    ev
}

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
        for r in sqlx::query(
            "SELECT mailbox, COUNT(*) AS n, MAX(claimed_at) AS last FROM touches \
             WHERE kind = 'email' AND claimed_at >= $1 AND mailbox IS NOT NULL \
             AND state IN ('sending', 'sent', 'uncertain') GROUP BY mailbox",
        )
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
            let first: Option<i64> = sqlx::query_scalar(
                "SELECT MIN(sent_at) FROM touches WHERE mailbox = $1 AND sent_at IS NOT NULL",
            )
            .bind(*m)
            .fetch_one(&self.pool)
            .await?;
            if let Some(first) = first {
                out.first.insert(m.to_string(), first);
            }
        }
        Ok(out)
    }

    /// Emails claimed to each of `domains` since `since`.
    pub async fn sends_to_domains(
        &self,
        domains: &[&str],
        since: i64,
    ) -> Result<HashMap<String, Vec<i64>>, StoreError> {
        let mut out: HashMap<String, Vec<i64>> = HashMap::new();
        for chunk in domains.chunks(500) {
            let sql = format!(
                "SELECT recipient_domain, claimed_at FROM touches WHERE recipient_domain IN ({}) \
                 AND claimed_at >= ? AND state IN ('sending', 'sent', 'uncertain') ORDER BY claimed_at",
                in_list(self.backend, chunk.len())
            );
            let sql = match self.backend {
                Backend::Sqlite => sql,
                Backend::Postgres => sql.replace('?', &format!("${}", chunk.len() + 1)),
            };
            let mut q = sqlx::query(built(sql));
            for d in chunk {
                q = q.bind(*d);
            }
            for r in q.bind(since).fetch_all(&self.pool).await? {
                out.entry(r.try_get("recipient_domain")?)
                    .or_default()
                    .push(r.try_get("claimed_at")?);
            }
        }
        Ok(out)
    }
}

/// A stored touch kind; another value means the table was written by something else.
fn touch_kind(s: &str) -> Result<TouchKind, StoreError> {
    TouchKind::parse(s).ok_or_else(|| StoreError::Corrupt(format!("unknown touch kind {s:?}")))
}

/// A stored touch state (see [`touch_kind`]).
fn touch_state(s: &str) -> Result<TouchState, StoreError> {
    s.parse().map_err(StoreError::Corrupt)
}

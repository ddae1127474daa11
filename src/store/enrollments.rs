//! Enrollments (one lead in one sequence) and the touches made for them.

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::admission::{self, Admission, Verdict};
use super::effects::{self, Subject};
use super::events::{self, NewEvent};
use super::statements::{Stmt, Val};
use super::suppressions::{any_forgotten, plain_values_for, values_for};
use super::{Backend, LeadId, Store, StoreError};
use crate::domain::EventKind;
use crate::enrollment::EnrollmentState;
use crate::lead::Email;
use crate::policy::{self, Refusal, Seen, Signal, StopRules};

/// Row id of an enrollment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct EnrollmentId(pub i64);

/// One lead to enroll.
#[derive(Debug, Clone)]
pub struct EnrollRequest<'a> {
    /// The lead.
    pub lead: LeadId,
    /// Its address (checked against the suppression list).
    pub email: &'a Email,
    /// The sequence's first step.
    pub first_step: &'a str,
    /// When that step is due (unix seconds).
    pub due_at: i64,
}

/// What enrolling one lead did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnrollOutcome {
    /// A new enrollment.
    Enrolled(EnrollmentId),
    /// A new enrollment that a rule refused and the caller forced (see [`Admission`]).
    Forced(EnrollmentId, Refusal),
    /// The lead is (or was) in this sequence already; nothing changed.
    AlreadyEnrolled,
    /// The address or its domain is on the suppression list.
    Suppressed,
    /// A rule of `[enrollment]` (or the sequences' `exclusive:`) holds the lead back.
    Refused(Refusal),
}

impl EnrollOutcome {
    /// The new enrollment, forced or not.
    pub fn enrollment(&self) -> Option<EnrollmentId> {
        match self {
            EnrollOutcome::Enrolled(id) | EnrollOutcome::Forced(id, _) => Some(*id),
            _ => None,
        }
    }
}

/// What [`Store::record_meeting_booked`] did.
#[derive(Debug, Clone, Serialize)]
pub struct MeetingBooked {
    /// The sequences whose enrollment stopped.
    pub stopped: Vec<String>,
    /// Whether the event was recorded (false: the same report came before).
    pub recorded: bool,
}

/// An enrollment as stored, with its lead's address.
#[derive(Debug, Clone, Serialize)]
pub struct EnrollmentRow {
    /// Row id.
    pub id: EnrollmentId,
    /// The lead.
    pub lead_id: LeadId,
    /// The lead's address.
    pub email: String,
    /// The sequence.
    pub sequence_id: String,
    /// Its state.
    pub state: EnrollmentState,
    /// The step that goes next.
    pub next_step_id: Option<String>,
    /// When it is due (unix seconds).
    pub next_due_at: Option<i64>,
    /// Sticky mailbox, once the thread started.
    pub mailbox: Option<String>,
    /// Auto-resume time of a pause.
    pub paused_until: Option<i64>,
    /// Why it ended.
    pub outcome: Option<String>,
    /// Detail of the last state change.
    pub reason: Option<String>,
    /// When enrolled.
    pub enrolled_at: i64,
    /// When it ended.
    pub finished_at: Option<i64>,
}

/// One state change made by [`Store::change_state`].
#[derive(Debug, Clone, Serialize)]
pub struct StateChange {
    /// The sequence.
    pub sequence_id: String,
    /// State before.
    pub from: EnrollmentState,
    /// State after.
    pub to: EnrollmentState,
}

/// A touch as stored (for timelines and status).
#[derive(Debug, Clone, Serialize)]
pub struct TouchRow {
    /// Row id.
    pub id: i64,
    /// Sequence.
    pub sequence_id: String,
    /// Step.
    pub step_id: String,
    /// email or task.
    pub kind: String,
    /// A/B variant.
    pub variant: Option<String>,
    /// scheduled, sending, sent, failed, uncertain, skipped.
    pub state: String,
    /// Sending mailbox.
    pub mailbox: Option<String>,
    /// Message-ID given at claim time.
    pub message_id: Option<String>,
    /// Subject sent.
    pub subject: Option<String>,
    /// When sent (unix seconds).
    pub sent_at: Option<i64>,
    /// Why it failed.
    pub error: Option<String>,
    /// A task step's task: open, done or skipped (None for an email).
    pub task_state: Option<String>,
}

impl Store {
    /// Enrolls leads into a sequence in one transaction, with no rule of `[enrollment]`
    /// (tools and tests; every way a person enrolls uses [`Store::enroll_under`]).
    pub async fn enroll(
        &self,
        sequence: &str,
        requests: &[EnrollRequest<'_>],
        now: i64,
        dry_run: bool,
    ) -> Result<Vec<EnrollOutcome>, StoreError> {
        self.enroll_under(sequence, requests, &Admission::OPEN, now, dry_run)
            .await
    }

    /// Enrolls leads into a sequence in one transaction. Leads already in it (in any state)
    /// and suppressed addresses are left alone; the rest are judged by `admission`'s rules
    /// (`policy::admit`, on facts read in this transaction, with the leads locked on
    /// PostgreSQL). Outcomes come back in input order. With `dry_run` nothing is kept.
    pub async fn enroll_under(
        &self,
        sequence: &str,
        requests: &[EnrollRequest<'_>],
        admission: &Admission<'_>,
        now: i64,
        dry_run: bool,
    ) -> Result<Vec<EnrollOutcome>, StoreError> {
        let mut tx = self.begin_write().await?;
        let out = enroll(&mut tx, self.backend, sequence, requests, admission, now).await?;
        if dry_run {
            tx.rollback().await?;
        } else {
            tx.commit().await?;
        }
        Ok(out)
    }

    /// A lead's enrollments, oldest first.
    pub async fn enrollments_for_lead(
        &self,
        lead: LeadId,
    ) -> Result<Vec<EnrollmentRow>, StoreError> {
        let rows = sqlx::query(include_str!("sql/enrollments/for_lead.sql"))
            .bind(lead.0)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(enrollment_row).collect()
    }

    /// Moves a lead's enrollments (all, or the one in `sequence`) to `to`, where the transition
    /// is allowed; each change is a guarded update plus an event, in one transaction. Pausing
    /// keeps the due time; resuming makes a past due time due now; stopping clears it.
    pub async fn change_state(
        &self,
        lead: LeadId,
        sequence: Option<&str>,
        to: EnrollmentState,
        reason: &str,
        now: i64,
    ) -> Result<Vec<StateChange>, StoreError> {
        let mut tx = self.begin_write().await?;
        let rows = sqlx::query(include_str!("sql/enrollments/for_lead_by_id.sql"))
            .bind(lead.0)
            .fetch_all(&mut *tx)
            .await?;
        let mut changes = Vec::new();
        for row in rows.iter().map(enrollment_row) {
            let row = row?;
            if sequence.is_some_and(|s| s != row.sequence_id) || !row.state.can_become(to) {
                continue;
            }
            let sql = match to {
                EnrollmentState::Active => include_str!("sql/enrollments/resume.sql"),
                EnrollmentState::Paused => include_str!("sql/enrollments/pause.sql"),
                _ => include_str!("sql/enrollments/end.sql"),
            };
            let done = sqlx::query(sql)
                .bind(to.as_str())
                .bind(reason)
                .bind(now)
                .bind(row.id.0)
                .bind(row.state.as_str())
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if done != 1 {
                continue;
            }
            let kind = match to {
                EnrollmentState::Active => EventKind::Resumed,
                EnrollmentState::Paused => EventKind::Paused,
                _ => EventKind::Stopped,
            };
            let mut ev = NewEvent::about(kind, Some(lead));
            ev.enrollment = Some(row.id);
            ev.sequence = Some(&row.sequence_id);
            ev.data = if kind == EventKind::Stopped {
                // Reports count stops by hand (a sequence cut short by the rep).
                serde_json::json!({ "reason": reason, "from": row.state.as_str(), "by": "hand" })
            } else {
                serde_json::json!({ "reason": reason, "from": row.state.as_str() })
            };
            events::insert(&mut tx, &ev, now).await?;
            changes.push(StateChange {
                sequence_id: row.sequence_id.clone(),
                from: row.state,
                to,
            });
        }
        tx.commit().await?;
        Ok(changes)
    }

    /// Pauses whose `paused_until` has come (an out-of-office return date) end: those
    /// enrollments are active again and due now. Returns how many.
    pub async fn resume_due_pauses(&self, now: i64) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        let rows = sqlx::query(include_str!("sql/enrollments/resume_due_pauses.sql"))
            .bind(now)
            .fetch_all(&mut *tx)
            .await?;
        for r in &rows {
            let sequence: String = r.try_get("sequence_id")?;
            let mut ev = NewEvent::about(EventKind::Resumed, Some(LeadId(r.try_get("lead_id")?)));
            ev.enrollment = Some(EnrollmentId(r.try_get("id")?));
            ev.sequence = Some(&sequence);
            ev.data = serde_json::json!({ "reason": "pause ended" });
            events::insert(&mut tx, &ev, now).await?;
        }
        tx.commit().await?;
        Ok(rows.len() as u64)
    }

    /// A meeting was booked with the lead (a scheduling tool's webhook, the API): every open
    /// enrollment of the lead stops with outcome `meeting-booked`, and a `meeting-booked` event
    /// carrying `data` is recorded, in one transaction; a claim made after it never sends
    /// (DESIGN.md invariant 2). The same report again (an event with the same `data` already
    /// recorded, nothing left to stop) changes nothing: webhooks are retried. Returns the
    /// sequences stopped and whether the event was new.
    pub async fn record_meeting_booked(
        &self,
        lead: LeadId,
        data: &serde_json::Value,
        now: i64,
    ) -> Result<MeetingBooked, StoreError> {
        let mut tx = self.begin_write().await?;
        let stopped: Vec<String> = sqlx::query(include_str!("sql/enrollments/open_sequences.sql"))
            .bind(lead.0)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| r.try_get("sequence_id"))
            .collect::<Result<_, _>>()?;
        let decision = policy::decide(
            Signal::MeetingBooked,
            StopRules::DEFAULT,
            Seen {
                lead: true,
                soft_bounces: 0,
            },
            now,
        );
        let subject = Subject {
            lead: Some(lead.0),
            enrollment: None,
            address: None,
            note: "meeting booked",
        };
        effects::apply(&mut tx, decision.effect, subject, now).await?;
        let text = data.to_string();
        let seen = stopped.is_empty()
            && sqlx::query(include_str!("sql/enrollments/event_seen.sql"))
                .bind(lead.0)
                .bind(EventKind::MeetingBooked.as_str())
                .bind(&text)
                .fetch_optional(&mut *tx)
                .await?
                .is_some();
        if !seen {
            // Credited to the lead's owner, for the report by rep.
            let owner: Option<String> = sqlx::query(include_str!("sql/enrollments/lead_owner.sql"))
                .bind(lead.0)
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| r.try_get("owner"))
                .transpose()?
                .flatten();
            let mut ev = NewEvent::about(EventKind::MeetingBooked, Some(lead));
            ev.mailbox = owner.as_deref();
            ev.data = data.clone();
            events::insert(&mut tx, &ev, now).await?;
        }
        tx.commit().await?;
        Ok(MeetingBooked {
            stopped,
            recorded: !seen,
        })
    }

    /// A lead's touches, oldest first.
    pub async fn touches_for_lead(&self, lead: LeadId) -> Result<Vec<TouchRow>, StoreError> {
        let rows = sqlx::query(include_str!("sql/enrollments/touches_for_lead.sql"))
            .bind(lead.0)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(TouchRow {
                    id: r.try_get("id")?,
                    sequence_id: r.try_get("sequence_id")?,
                    step_id: r.try_get("step_id")?,
                    kind: r.try_get("kind")?,
                    variant: r.try_get("variant")?,
                    state: r.try_get("state")?,
                    mailbox: r.try_get("mailbox")?,
                    message_id: r.try_get("message_id")?,
                    subject: r.try_get("subject")?,
                    sent_at: r.try_get("sent_at")?,
                    error: r.try_get("error")?,
                    task_state: r.try_get("task_state")?,
                })
            })
            .collect()
    }
}

/// Ends every open (active or paused) enrollment of `lead` in `state`, with `outcome` and
/// `reason`, inside the caller's transaction; their leases are dropped, so a daemon working on
/// one finds it gone when it claims. Returns how many ended.
pub(super) async fn end_open(
    conn: &mut AnyConnection,
    lead: LeadId,
    state: EnrollmentState,
    outcome: &str,
    reason: &str,
    now: i64,
) -> Result<u64, StoreError> {
    Ok(sqlx::query(include_str!("sql/enrollments/end_open.sql"))
        .bind(state.as_str())
        .bind(outcome)
        .bind(reason)
        .bind(now)
        .bind(lead.0)
        .execute(conn)
        .await?
        .rows_affected())
}

/// [`Store::enroll_under`] inside the caller's transaction.
pub(super) async fn enroll(
    conn: &mut AnyConnection,
    backend: Backend,
    sequence: &str,
    requests: &[EnrollRequest<'_>],
    admission: &Admission<'_>,
    now: i64,
) -> Result<Vec<EnrollOutcome>, StoreError> {
    let mut out = Vec::with_capacity(requests.len());
    // Without any forgotten person on the list, no address needs hashing.
    let forgotten = !requests.is_empty() && any_forgotten(&mut *conn, backend).await?;
    for chunk in requests.chunks(300) {
        let suppressed = suppressed(conn, backend, chunk, forgotten).await?;
        let mut seen = HashSet::new();
        let candidates: Vec<&EnrollRequest<'_>> = chunk
            .iter()
            .zip(&suppressed)
            .filter(|(r, s)| !**s && seen.insert(r.lead))
            .map(|(r, _)| r)
            .collect();
        let leads: Vec<LeadId> = candidates.iter().map(|r| r.lead).collect();
        let verdicts = admission::judge(conn, backend, sequence, &leads, admission, now).await?;
        let (mut refused, mut forced) = (HashMap::new(), HashMap::new());
        let mut todo = Vec::with_capacity(candidates.len());
        for (r, v) in candidates.into_iter().zip(verdicts) {
            match v {
                Verdict::Admit => todo.push(r),
                Verdict::Force(why) => {
                    forced.insert(r.lead.0, why);
                    todo.push(r);
                }
                Verdict::Refuse(why) => {
                    refused.insert(r.lead.0, why);
                }
            }
        }
        let mut created = if todo.is_empty() {
            HashMap::new()
        } else {
            let who = (&forced, admission.by);
            insert(conn, backend, sequence, &todo, who, now).await?
        };
        for (r, s) in chunk.iter().zip(&suppressed) {
            out.push(if *s {
                EnrollOutcome::Suppressed
            } else if let Some(why) = refused.get(&r.lead.0) {
                EnrollOutcome::Refused(why.clone())
            } else if let Some(id) = created.remove(&r.lead.0) {
                match forced.remove(&r.lead.0) {
                    Some(why) => EnrollOutcome::Forced(EnrollmentId(id), why),
                    None => EnrollOutcome::Enrolled(EnrollmentId(id)),
                }
            } else {
                EnrollOutcome::AlreadyEnrolled
            });
        }
    }
    Ok(out)
}

/// Whether each request's address is suppressed (the address, its domain, or with
/// `forgotten` its hash), in `chunk`'s order.
async fn suppressed(
    conn: &mut AnyConnection,
    backend: Backend,
    chunk: &[EnrollRequest<'_>],
    forgotten: bool,
) -> Result<Vec<bool>, StoreError> {
    let values: Vec<Vec<String>> = chunk
        .iter()
        .map(|r| {
            if forgotten {
                values_for(r.email).into()
            } else {
                plain_values_for(r.email).into()
            }
        })
        .collect();
    let list = Val::List(
        values
            .iter()
            .flatten()
            .map(|v| Val::from(v.as_str()))
            .collect(),
    );
    let mut q = Stmt::new(backend);
    q.sql_args(include_str!("sql/enrollments/suppressed.sql"), &[list]);
    let hits: HashSet<String> = q
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| r.try_get::<String, _>("value"))
        .collect::<Result<_, _>>()?;
    Ok(values
        .iter()
        .map(|v| v.iter().any(|x| hits.contains(x)))
        .collect())
}

/// Enrolls the leads of `todo` (not empty, each lead once) with an event each; returns the
/// enrollments made by lead id (a lead in the sequence already has none). A lead of
/// `forced.0` was enrolled over a rule by `forced.1`: its event says which, and it is logged.
async fn insert(
    conn: &mut AnyConnection,
    backend: Backend,
    sequence: &str,
    todo: &[&EnrollRequest<'_>],
    forced: (&HashMap<i64, Refusal>, &str),
    now: i64,
) -> Result<HashMap<i64, i64>, StoreError> {
    let rows = todo
        .iter()
        .map(|r| {
            vec![
                Val::from(r.lead.0),
                Val::from(r.first_step),
                Val::from(r.due_at),
            ]
        })
        .collect();
    let mut q = Stmt::new(backend);
    q.values(&["lead_id", "first_step", "due_at"], rows)
        .sql_args(
            include_str!("sql/enrollments/insert.sql"),
            &[
                Val::from(sequence),
                Val::from(EnrollmentState::Active.as_str()),
                Val::from(now),
            ],
        );
    let mut created: HashMap<i64, i64> = HashMap::new();
    for row in q.fetch_all(&mut *conn).await? {
        created.insert(row.try_get("lead_id")?, row.try_get("id")?);
    }
    let enrolled: Vec<NewEvent<'_>> = todo
        .iter()
        .filter_map(|r| {
            let id = created.get(&r.lead.0)?;
            let mut ev = NewEvent::about(EventKind::Enrolled, Some(r.lead));
            ev.enrollment = Some(EnrollmentId(*id));
            ev.sequence = Some(sequence);
            if let Some(why) = forced.0.get(&r.lead.0) {
                let by = forced.1;
                tracing::info!(
                    lead = r.lead.0,
                    enrollment = *id,
                    sequence,
                    rule = why.name(),
                    by,
                    "enrolled by force over a rule: {why}"
                );
                ev.data =
                    serde_json::json!({ "forced": why.name(), "why": why.to_string(), "by": by });
            }
            Some(ev)
        })
        .collect();
    events::insert_many(conn, backend, &enrolled, now).await?;
    Ok(created)
}

pub(super) fn enrollment_row(r: &AnyRow) -> Result<EnrollmentRow, StoreError> {
    let state: String = r.try_get("state")?;
    Ok(EnrollmentRow {
        id: EnrollmentId(r.try_get("id")?),
        lead_id: LeadId(r.try_get("lead_id")?),
        email: r.try_get("email")?,
        sequence_id: r.try_get("sequence_id")?,
        state: state.parse().map_err(StoreError::Corrupt)?,
        next_step_id: r.try_get("next_step_id")?,
        next_due_at: r.try_get("next_due_at")?,
        mailbox: r.try_get("mailbox")?,
        paused_until: r.try_get("paused_until")?,
        outcome: r.try_get("outcome")?,
        reason: r.try_get("reason")?,
        enrolled_at: r.try_get("enrolled_at")?,
        finished_at: r.try_get("finished_at")?,
    })
}

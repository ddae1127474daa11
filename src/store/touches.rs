//! Touches: the daemon's side of the store. Leasing due enrollments, claiming a step before
//! anything leaves (DESIGN.md invariants 1 and 2), and recording what the server said.
//!
//! This file holds what the steps share (the claim's types, a touch as recovery sees it); the
//! steps live in `due` (leasing, deferring, settling), `claims`, `sent`, `outcomes` (every end
//! but `sent`) and `pacing` (what the caps count). The life of an email step, as rows:
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

use serde::Serialize;
use sqlx::{AnyConnection, Row};

use super::enrollments::EnrollmentId;
use super::events::NewEvent;
use super::{LeadId, Store, StoreError};
use crate::domain::EventKind;
use crate::lead::Email;

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
        /// The epoch of this daemon's lease of `mailbox` the claim was decided under (see
        /// `holders`): the claim is refused when the lease moved since.
        epoch: i64,
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
    /// Make a draft the rep approves (an email step with `review:`); the enrollment waits for
    /// the rep, or for the draft's deadline.
    Draft(Box<super::drafts::NewDraft>),
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
    /// One touch by id.
    pub async fn touch(&self, id: i64) -> Result<Option<TouchInfo>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        touch_info(&mut conn, id).await
    }
}

/// The touch `id`, inside the caller's transaction.
pub(super) async fn touch_info(
    conn: &mut AnyConnection,
    id: i64,
) -> Result<Option<TouchInfo>, StoreError> {
    let row = sqlx::query(include_str!("sql/touches/by_id.sql"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(touch_info_from).transpose()
}

/// A touch from a row of `sql/touches/by_id.sql`'s columns.
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

/// An event about touch `t`, with all its context.
pub(super) fn event_for(t: &TouchInfo, kind: EventKind) -> NewEvent<'_> {
    let mut ev = NewEvent::about(kind, Some(LeadId(t.lead)));
    ev.enrollment = Some(EnrollmentId(t.enrollment));
    ev.touch = Some(t.id);
    ev.sequence = Some(&t.sequence_id);
    ev.step = Some(&t.step_id);
    ev.mailbox = t.mailbox.as_deref();
    ev
}

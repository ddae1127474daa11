//! Drafts: the email steps with `review:` that wait for the rep (`drumbeat drafts`). A draft is
//! made when its step comes due, in the claim's transaction: its touch is an email `scheduled`
//! (the lead waits at the step) with the draft's Message-ID. It ends one way, once:
//!
//! - approved (`draft send`): the enrollment is due now, and the daemon sends the draft's text
//!   through the normal claim (the touch is re-claimed, keeping its Message-ID);
//! - sent from the rep's own mail client (the watcher found it in Sent): the touch is recorded
//!   `sent` as the daemon's sends are, and the lead moves on;
//! - skipped (`draft skip`, or `then: skip` past the deadline): the touch is `skipped`.
//!
//! Its copy in the mailbox's IMAP Drafts folder is a chore column (`imap`: `append`,
//! `appended`, `remove`) the watcher works through.

use std::collections::HashMap;

use serde::Serialize;
use sqlx::{AnyConnection, Row};

use super::due::{release, release_due};
use super::enrollments::EnrollmentId;
use super::events::{self, NewEvent};
use super::outcomes::advance;
use super::sent::{SentRecord, record};
use super::statements::{Stmt, Val};
use super::touches::{Claim, Claimed, event_for, touch_info};
use super::{Store, StoreError};
use crate::domain::{EventKind, Next};

/// What the daemon made of a due review step: the draft to store.
#[derive(Debug, Clone)]
pub struct NewDraft {
    /// The sending mailbox.
    pub mailbox: String,
    /// `<id@domain>`, kept when it is sent.
    pub message_id: String,
    /// The thread's previous Message-ID, for a reply in a thread.
    pub in_reply_to: Option<String>,
    /// The subject.
    pub subject: String,
    /// The plain text, before the footer and tracked links.
    pub body: String,
    /// The HTML, when the template has one.
    pub html: Option<String>,
    /// The whole message, as it goes into the Drafts folder.
    pub message: String,
    /// The A/B variant.
    pub variant: String,
    /// The recipient's domain.
    pub recipient_domain: String,
    /// When the deadline passes.
    pub deadline_at: Option<i64>,
    /// `task` or `skip`.
    pub then: Option<String>,
    /// Put a copy in the mailbox's IMAP Drafts folder.
    pub imap: bool,
}

/// One draft, with its lead's address.
#[derive(Debug, Clone, Serialize)]
pub struct DraftRow {
    /// Row id (what `drumbeat draft send ID` takes).
    pub id: i64,
    /// open (waiting for the rep), approved (the daemon sends it), sent, skipped.
    pub state: String,
    /// The lead.
    pub email: String,
    /// The sequence.
    pub sequence_id: String,
    /// The step.
    pub step_id: String,
    /// The sending mailbox.
    pub mailbox: String,
    /// Its Message-ID.
    pub message_id: String,
    /// The thread's previous Message-ID.
    pub in_reply_to: Option<String>,
    /// Subject.
    pub subject: String,
    /// Plain text.
    pub body: String,
    /// HTML, until an edit drops it.
    pub html: Option<String>,
    /// When the rep last edited it.
    pub edited_at: Option<i64>,
    /// When its deadline passes.
    pub deadline_at: Option<i64>,
    /// What the deadline does: task or skip.
    pub then: Option<String>,
    /// The rep's task, once the deadline passed.
    pub task_id: Option<i64>,
    /// The Drafts folder chore still to do (append, remove), or `appended`.
    pub imap: Option<String>,
    /// Why the last Drafts folder chore failed.
    pub imap_error: Option<String>,
    /// How it ended: cli, client, deadline.
    pub closed_how: Option<String>,
    /// When it was made.
    pub created_at: i64,
    /// When it ended.
    pub closed_at: Option<i64>,
    /// The touch row.
    pub touch_id: i64,
    /// The enrollment.
    pub enrollment_id: i64,
    /// The lead.
    pub lead_id: i64,
    /// The touch's state (`scheduled` while the draft waits).
    pub touch_state: String,
    /// The enrollment's state.
    pub enrollment_state: String,
    /// The whole message, as in the Drafts folder.
    #[serde(skip)]
    pub message: String,
}

impl DraftRow {
    /// Whether the rep can still act on it: open or approved, its touch not yet sent, its
    /// enrollment still open (a reply or a stop ends its drafts).
    pub fn waiting(&self) -> bool {
        matches!(self.state.as_str(), "open" | "approved")
            && self.touch_state == "scheduled"
            && matches!(self.enrollment_state.as_str(), "active" | "paused")
    }
}

/// A Drafts folder chore of a mailbox.
#[derive(Debug, Clone)]
pub struct DraftChore {
    /// The draft.
    pub id: i64,
    /// Its Message-ID (how its copy is found).
    pub message_id: String,
    /// The whole message to append.
    pub message: String,
    /// `append` or `remove`.
    pub chore: String,
    /// The `imap` column as read (the chore's end is guarded on it).
    pub was: String,
}

/// What acting on a draft did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DraftChange {
    /// Done now.
    Done,
    /// No such draft.
    Unknown,
    /// It is no longer waiting (its state, or its touch's).
    Closed(String),
}

impl Store {
    /// Drafts, oldest first: those still waiting, or all; of one mailbox, or every one.
    pub async fn drafts(
        &self,
        mailbox: Option<&str>,
        all: bool,
    ) -> Result<Vec<DraftRow>, StoreError> {
        let mut q = Stmt::new(self.backend);
        q.sql(include_str!("sql/drafts/select.sql"))
            .sql(" WHERE 1 = 1");
        if !all {
            q.sql(include_str!("sql/drafts/waiting.sql"));
        }
        if let Some(m) = mailbox {
            q.sql(" AND d.mailbox = ").arg(m);
        }
        q.sql(" ORDER BY d.created_at, d.id LIMIT 10000");
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter().map(draft_row).collect()
    }

    /// One draft.
    pub async fn draft(&self, id: i64) -> Result<Option<DraftRow>, StoreError> {
        let mut q = Stmt::new(self.backend);
        q.sql(include_str!("sql/drafts/select.sql"))
            .sql(" WHERE d.id = ")
            .arg(id);
        let rows = q.fetch_all(&self.pool).await?;
        rows.first().map(draft_row).transpose()
    }

    /// The waiting drafts of these enrollments (the daemon's tick), by enrollment.
    pub async fn waiting_drafts(
        &self,
        enrollments: &[EnrollmentId],
    ) -> Result<HashMap<EnrollmentId, DraftRow>, StoreError> {
        let mut out = HashMap::new();
        for chunk in enrollments.chunks(500) {
            let mut q = Stmt::new(self.backend);
            q.sql(include_str!("sql/drafts/select.sql"))
                .sql(" WHERE 1 = 1")
                .sql(include_str!("sql/drafts/waiting.sql"))
                .sql(" AND d.enrollment_id IN ")
                .arg(Val::List(chunk.iter().map(|e| Val::from(e.0)).collect()));
            for r in q.fetch_all(&self.pool).await? {
                let d = draft_row(&r)?;
                out.insert(EnrollmentId(d.enrollment_id), d);
            }
        }
        Ok(out)
    }

    /// An enrollment leased by `instance` goes on waiting for its draft, due at `due` (the
    /// deadline) or not at all.
    pub async fn wait_for_draft(
        &self,
        instance: &str,
        enrollment: EnrollmentId,
        due: Option<i64>,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(include_str!("sql/drafts/wait.sql"))
            .bind(due)
            .bind(now)
            .bind(enrollment.0)
            .bind(instance)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The rep's edit of an open draft: its subject, text and message (the HTML part goes).
    pub async fn edit_draft(
        &self,
        id: i64,
        subject: &str,
        body: &str,
        message: &str,
        now: i64,
    ) -> Result<DraftChange, StoreError> {
        let Some(d) = self.draft(id).await? else {
            return Ok(DraftChange::Unknown);
        };
        if d.state != "open" || !d.waiting() {
            return Ok(DraftChange::Closed(d.shown_state()));
        }
        let n = sqlx::query(include_str!("sql/drafts/edit.sql"))
            .bind(subject)
            .bind(body)
            .bind(message)
            .bind(now)
            .bind(id)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(if n == 1 {
            DraftChange::Done
        } else {
            DraftChange::Closed("changed meanwhile".into())
        })
    }

    /// `draft send`: the draft is approved and its enrollment due now at its step, so the
    /// daemon's next tick sends it (inside the send window) through the normal claim.
    pub async fn approve_draft(&self, id: i64, now: i64) -> Result<DraftChange, StoreError> {
        let Some(d) = self.draft(id).await? else {
            return Ok(DraftChange::Unknown);
        };
        if d.state != "open" || !d.waiting() {
            return Ok(DraftChange::Closed(d.shown_state()));
        }
        if d.enrollment_state != "active" {
            return Ok(DraftChange::Closed(format!(
                "waiting, but its lead's enrollment is {}",
                d.enrollment_state
            )));
        }
        let mut tx = self.begin_write().await?;
        if close(&mut tx, id, "approved", "cli", now).await?.is_none() {
            return Ok(DraftChange::Closed("changed meanwhile".into()));
        }
        sqlx::query(include_str!("sql/drafts/approve.sql"))
            .bind(&d.step_id)
            .bind(now)
            .bind(d.enrollment_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(DraftChange::Done)
    }

    /// The step of a waiting draft is skipped (`draft skip`, or its deadline with
    /// `then: skip`): the touch is `skipped` and the enrollment moves to `next`.
    pub async fn skip_draft(
        &self,
        id: i64,
        how: &str,
        next: &Next,
        now: i64,
    ) -> Result<DraftChange, StoreError> {
        let mut tx = self.begin_write().await?;
        let Some((touch, _)) = close(&mut tx, id, "skipped", how, now).await? else {
            return self.why_not(id).await;
        };
        let Some(t) = touch_info(&mut tx, touch).await? else {
            return Ok(DraftChange::Unknown);
        };
        sqlx::query(include_str!("sql/tasks/close_touch.sql"))
            .bind("skipped")
            .bind(now)
            .bind(touch)
            .execute(&mut *tx)
            .await?;
        let mut ev = event_for(&t, EventKind::TaskDone);
        ev.data = serde_json::json!({ "draft": id, "state": "skipped", "how": how });
        events::insert(&mut tx, &ev, now).await?;
        advance(&mut tx, &t, next, now).await?;
        tx.commit().await?;
        Ok(DraftChange::Done)
    }

    /// The rep sent a waiting draft from their own mail client (the watcher found it in
    /// Sent): the touch is recorded `sent`, once, as the daemon records its own sends, and the
    /// enrollment moves to `next`.
    pub async fn draft_sent_by_client(
        &self,
        id: i64,
        how: &str,
        new_thread: bool,
        next: &Next,
        now: i64,
    ) -> Result<DraftChange, StoreError> {
        let mut tx = self.begin_write().await?;
        let Some((touch, _)) = close(&mut tx, id, "sent", "client", now).await? else {
            return self.why_not(id).await;
        };
        // The client moved its copy out of Drafts itself.
        sqlx::query("UPDATE drafts SET imap = NULL WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(include_str!("sql/drafts/touch_sending.sql"))
            .bind(touch)
            .execute(&mut *tx)
            .await?;
        let sent = [SentRecord {
            touch,
            response: how.to_string(),
            new_thread,
            next: next.clone(),
            at: now,
            // The client filed it in Sent itself.
            copy: None,
        }];
        record(&mut tx, self.backend, &sent).await?;
        tx.commit().await?;
        Ok(DraftChange::Done)
    }

    /// A waiting draft past its deadline with `then: task`: the rep gets a task to send or
    /// skip it (the draft stays), and the enrollment, leased by `instance`, waits without a
    /// due time.
    pub async fn draft_deadline_task(
        &self,
        instance: &str,
        d: &DraftRow,
        note: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(include_str!("sql/drafts/task.sql"))
            .bind(d.enrollment_id)
            .bind(lead_of(&mut tx, d.enrollment_id).await?)
            .bind(note)
            .bind(&d.mailbox)
            .bind(now)
            .bind(&d.sequence_id)
            .bind(&d.step_id)
            .fetch_one(&mut *tx)
            .await?;
        let task: i64 = row.try_get("id")?;
        sqlx::query("UPDATE drafts SET task_id = $1 WHERE id = $2")
            .bind(task)
            .bind(d.id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(include_str!("sql/drafts/wait.sql"))
            .bind(None::<i64>)
            .bind(now)
            .bind(d.enrollment_id)
            .bind(instance)
            .execute(&mut *tx)
            .await?;
        if let Some(t) = touch_info(&mut tx, d.touch_id).await? {
            let mut ev = event_for(&t, EventKind::TaskDue);
            ev.data = serde_json::json!({ "task": "draft", "draft": d.id, "deadline": true });
            events::insert(&mut tx, &ev, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The Drafts folder chores of `mailbox`.
    pub async fn draft_chores(&self, mailbox: &str) -> Result<Vec<DraftChore>, StoreError> {
        let rows = sqlx::query(include_str!("sql/drafts/chores.sql"))
            .bind(mailbox)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(DraftChore {
                    id: r.try_get("id")?,
                    message_id: r.try_get("message_id")?,
                    message: r.try_get("message")?,
                    chore: r.try_get("imap")?,
                    was: r.try_get("was")?,
                })
            })
            .collect()
    }

    /// A Drafts folder chore done, or failed with `error` (and tried again next time).
    pub async fn draft_chore_done(
        &self,
        c: &DraftChore,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        let to = match (error, c.chore.as_str()) {
            (Some(_), _) => Some(c.was.as_str()),
            (None, "append") => Some("appended"),
            (None, _) => None,
        };
        sqlx::query(include_str!("sql/drafts/chore_done.sql"))
            .bind(to)
            .bind(error)
            .bind(c.id)
            .bind(&c.was)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Why a draft could not be closed.
    async fn why_not(&self, id: i64) -> Result<DraftChange, StoreError> {
        Ok(match self.draft(id).await? {
            None => DraftChange::Unknown,
            Some(d) => DraftChange::Closed(d.shown_state()),
        })
    }
}

impl DraftRow {
    /// Its state as the rep sees it: what became of its touch once that is not `scheduled`.
    pub fn shown_state(&self) -> String {
        match (self.state.as_str(), self.touch_state.as_str()) {
            ("open" | "approved", "scheduled") if !self.waiting() => {
                format!("void (its lead's enrollment is {})", self.enrollment_state)
            }
            (s @ ("open" | "approved"), "scheduled") => s.to_string(),
            ("approved", "sent") => "sent".into(),
            ("approved", t) => format!("approved, then {t}"),
            (s, _) => s.to_string(),
        }
    }
}

/// A review step's claim, inside the claim's transaction: its touch (`scheduled`, the lead
/// waits), the draft, and the enrollment without a lease, due at the deadline (or not at all).
pub(super) async fn claim_draft(
    tx: &mut AnyConnection,
    c: &Claim<'_>,
    d: &NewDraft,
    now: i64,
) -> Result<Claimed, StoreError> {
    let row = sqlx::query(include_str!("sql/drafts/touch.sql"))
        .bind(c.enrollment.0)
        .bind(c.lead.0)
        .bind(c.sequence_id)
        .bind(c.step_id)
        .bind(&d.variant)
        .bind(&d.mailbox)
        .bind(&d.message_id)
        .bind(&d.subject)
        .bind(c.due_at)
        .bind(now)
        .bind(&d.recipient_domain)
        .fetch_optional(&mut *tx)
        .await?;
    let Some(r) = row else {
        release_due(tx, c.enrollment, now).await?;
        return Ok(Claimed::AlreadyDone);
    };
    let touch: i64 = r.try_get("id")?;
    let row = sqlx::query(include_str!("sql/drafts/insert.sql"))
        .bind(touch)
        .bind(c.enrollment.0)
        .bind(c.lead.0)
        .bind(c.sequence_id)
        .bind(c.step_id)
        .bind(&d.mailbox)
        .bind(&d.message_id)
        .bind(d.in_reply_to.as_deref())
        .bind(&d.subject)
        .bind(&d.body)
        .bind(d.html.as_deref())
        .bind(&d.message)
        .bind(d.deadline_at)
        .bind(d.then.as_deref())
        .bind(d.imap.then_some("append"))
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
    let draft: i64 = row.try_get("id")?;
    release(tx, c.enrollment, now).await?;
    sqlx::query("UPDATE enrollments SET next_due_at = $1 WHERE id = $2 AND state = 'active'")
        .bind(d.deadline_at)
        .bind(c.enrollment.0)
        .execute(&mut *tx)
        .await?;
    let mut ev = NewEvent::about(EventKind::TaskDue, Some(c.lead));
    ev.enrollment = Some(c.enrollment);
    ev.touch = Some(touch);
    ev.sequence = Some(c.sequence_id);
    ev.step = Some(c.step_id);
    ev.mailbox = Some(&d.mailbox);
    ev.data = serde_json::json!({ "task": "draft", "draft": draft });
    events::insert(tx, &ev, now).await?;
    Ok(Claimed::Go { touch, attempt: 0 })
}

/// Closes waiting draft `id` as `state`, with its deadline task; its Drafts folder copy is to
/// be removed. Returns its touch and task, or `None` when it was not waiting.
async fn close(
    tx: &mut AnyConnection,
    id: i64,
    state: &str,
    how: &str,
    now: i64,
) -> Result<Option<(i64, Option<i64>)>, StoreError> {
    let Some(r) = sqlx::query(include_str!("sql/drafts/close.sql"))
        .bind(state)
        .bind(how)
        .bind(now)
        .bind(id)
        .bind("remove")
        .fetch_optional(&mut *tx)
        .await?
    else {
        return Ok(None);
    };
    let touch: i64 = r.try_get("touch_id")?;
    let task: Option<i64> = r.try_get("task_id")?;
    if let Some(task) = task {
        sqlx::query(include_str!("sql/drafts/close_task.sql"))
            .bind(now)
            .bind(task)
            .execute(&mut *tx)
            .await?;
    }
    Ok(Some((touch, task)))
}

/// The lead of an enrollment.
async fn lead_of(tx: &mut AnyConnection, enrollment: i64) -> Result<i64, StoreError> {
    let r = sqlx::query("SELECT lead_id FROM enrollments WHERE id = $1")
        .bind(enrollment)
        .fetch_one(&mut *tx)
        .await?;
    Ok(r.try_get("lead_id")?)
}

fn draft_row(r: &sqlx::any::AnyRow) -> Result<DraftRow, StoreError> {
    Ok(DraftRow {
        id: r.try_get("id")?,
        state: r.try_get("state")?,
        email: r.try_get("email")?,
        sequence_id: r.try_get("sequence_id")?,
        step_id: r.try_get("step_id")?,
        mailbox: r.try_get("mailbox")?,
        message_id: r.try_get("message_id")?,
        in_reply_to: r.try_get("in_reply_to")?,
        subject: r.try_get("subject")?,
        body: r.try_get("body")?,
        html: r.try_get("html")?,
        edited_at: r.try_get("edited_at")?,
        deadline_at: r.try_get("deadline_at")?,
        then: r.try_get("then_action")?,
        task_id: r.try_get("task_id")?,
        imap: r.try_get("imap")?,
        imap_error: r.try_get("imap_error")?,
        closed_how: r.try_get("closed_how")?,
        created_at: r.try_get("created_at")?,
        closed_at: r.try_get("closed_at")?,
        touch_id: r.try_get("touch_id")?,
        enrollment_id: r.try_get("enrollment_id")?,
        lead_id: r.try_get("lead_id")?,
        touch_state: r.try_get("touch_state")?,
        enrollment_state: r.try_get("enrollment_state")?,
        message: r.try_get("message")?,
    })
}

//! Tasks: the manual steps of a sequence (a call, a LinkedIn touch) waiting for the rep.

use serde::Serialize;
use sqlx::Row;

use super::events;
use super::outcomes::advance;
use super::statements::Stmt;
use super::touches::{event_for, touch_info};
use super::{Store, StoreError};
use crate::domain::EventKind;
use crate::domain::Next;
use crate::enrollment::TouchState;

/// One task with its lead's context.
#[derive(Debug, Clone, Serialize)]
pub struct TaskRow {
    /// Row id (what `drumbeat task done ID` takes).
    pub id: i64,
    /// call, linkedin, custom.
    pub kind: String,
    /// open, done, skipped.
    pub state: String,
    /// Whose task (a mailbox name).
    pub owner: Option<String>,
    /// The rendered note.
    pub note: Option<String>,
    /// When it came due (unix seconds).
    pub due_at: i64,
    /// When it was done or skipped.
    pub done_at: Option<i64>,
    /// connected, voicemail, no-answer, wrong-number… (done tasks).
    pub outcome: Option<String>,
    /// The rep's note on what happened.
    pub result_note: Option<String>,
    /// The sequence and step that made it.
    pub sequence_id: Option<String>,
    /// The step.
    pub step_id: Option<String>,
    /// The lead.
    pub email: String,
    /// Lead's name, company, title and phone, for the call.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// Company.
    pub company: Option<String>,
    /// Title.
    pub title: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// The lead's time zone.
    pub timezone: Option<String>,
    /// The touch row of the step.
    #[serde(skip)]
    pub touch_id: Option<i64>,
}

/// Which tasks to list.
#[derive(Debug, Clone, Default)]
pub struct TaskFilter<'a> {
    /// Only this owner's.
    pub owner: Option<&'a str>,
    /// Only open tasks due before this instant.
    pub due_before: Option<i64>,
    /// Include done and skipped tasks.
    pub all: bool,
}

/// What `finish_task` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskFinish {
    /// Done or skipped now.
    Finished,
    /// No such task.
    Unknown,
    /// It was already done or skipped.
    AlreadyClosed(String),
}

/// The columns [`task_row`] reads, for the listing built at run time (`sql/tasks/by_id.sql`
/// names them too).
const TASK_COLUMNS: &str = "t.id, t.kind, t.state, t.owner, t.note, t.due_at, t.done_at, t.outcome, t.result_note, \
     t.sequence_id, t.step_id, t.touch_id, l.email, l.first_name, l.last_name, l.company, l.title, l.phone, l.timezone";

impl Store {
    /// Tasks, oldest due first.
    pub async fn tasks(&self, f: &TaskFilter<'_>) -> Result<Vec<TaskRow>, StoreError> {
        let head = if f.all {
            format!(
                "SELECT {TASK_COLUMNS} FROM tasks t JOIN leads l ON l.id = t.lead_id WHERE 1 = 1"
            )
        } else {
            format!(
                "SELECT {TASK_COLUMNS} FROM tasks t JOIN leads l ON l.id = t.lead_id WHERE t.state = 'open'"
            )
        };
        let mut q = Stmt::new(self.backend);
        q.sql(&head);
        if let Some(o) = f.owner {
            q.sql(" AND t.owner = ").arg(o);
        }
        if let Some(d) = f.due_before {
            q.sql(" AND t.due_at < ").arg(d);
        }
        q.sql(" ORDER BY t.due_at, t.id LIMIT 10000");
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter().map(task_row).collect()
    }

    /// One task.
    pub async fn task(&self, id: i64) -> Result<Option<TaskRow>, StoreError> {
        let row = sqlx::query(include_str!("sql/tasks/by_id.sql"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(task_row).transpose()
    }

    /// Closes an open task (`done`, with an outcome and note, or `skipped`) and moves its
    /// enrollment on to `next`, in one transaction.
    pub async fn finish_task(
        &self,
        id: i64,
        state: &str,
        outcome: Option<&str>,
        note: Option<&str>,
        next: &Next,
        now: i64,
    ) -> Result<TaskFinish, StoreError> {
        let mut tx = self.begin_write().await?;
        let Some(row) = sqlx::query(include_str!("sql/tasks/state.sql"))
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Ok(TaskFinish::Unknown);
        };
        let current: String = row.try_get("state")?;
        if current != "open" {
            return Ok(TaskFinish::AlreadyClosed(current));
        }
        let touch: Option<i64> = row.try_get("touch_id")?;
        sqlx::query(include_str!("sql/tasks/close.sql"))
            .bind(state)
            .bind(outcome)
            .bind(note)
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if let Some(touch) = touch
            && let Some(t) = touch_info(&mut tx, touch).await?
        {
            let touch_state = if state == "done" {
                TouchState::Sent
            } else {
                TouchState::Skipped
            };
            sqlx::query(include_str!("sql/tasks/close_touch.sql"))
                .bind(touch_state.as_str())
                .bind(now)
                .bind(touch)
                .execute(&mut *tx)
                .await?;
            let mut ev = event_for(&t, EventKind::TaskDone);
            ev.data =
                serde_json::json!({ "task": id, "state": state, "outcome": outcome, "note": note });
            events::insert(&mut tx, &ev, now).await?;
            advance(&mut tx, &t, next, now).await?;
        }
        tx.commit().await?;
        Ok(TaskFinish::Finished)
    }
}

/// A task for the rep that is no step of the sequence (answering a challenge-response
/// request): doing or skipping it moves nothing on.
pub(super) struct RepTask<'a> {
    pub(super) enrollment: i64,
    pub(super) lead: i64,
    pub(super) sequence: Option<&'a str>,
    pub(super) kind: &'a str,
    pub(super) note: &'a str,
    /// The mailbox whose rep does it.
    pub(super) owner: &'a str,
}

/// Opens `task`, due now, inside the caller's transaction.
pub(super) async fn open_rep_task(
    tx: &mut sqlx::AnyConnection,
    task: &RepTask<'_>,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO tasks (touch_id, enrollment_id, lead_id, kind, note, owner, state, due_at, created_at, sequence_id) \
         VALUES (NULL, $1, $2, $3, $4, $5, 'open', $6, $6, $7)",
    )
    .bind(task.enrollment)
    .bind(task.lead)
    .bind(task.kind)
    .bind(task.note)
    .bind(task.owner)
    .bind(now)
    .bind(task.sequence)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

fn task_row(r: &sqlx::any::AnyRow) -> Result<TaskRow, StoreError> {
    Ok(TaskRow {
        id: r.try_get("id")?,
        kind: r.try_get("kind")?,
        state: r.try_get("state")?,
        owner: r.try_get("owner")?,
        note: r.try_get("note")?,
        due_at: r.try_get("due_at")?,
        done_at: r.try_get("done_at")?,
        outcome: r.try_get("outcome")?,
        result_note: r.try_get("result_note")?,
        sequence_id: r.try_get("sequence_id")?,
        step_id: r.try_get("step_id")?,
        touch_id: r.try_get("touch_id")?,
        email: r.try_get("email")?,
        first_name: r.try_get("first_name")?,
        last_name: r.try_get("last_name")?,
        company: r.try_get("company")?,
        title: r.try_get("title")?,
        phone: r.try_get("phone")?,
        timezone: r.try_get("timezone")?,
    })
}

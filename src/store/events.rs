//! The append-only event log: every fact drumbeat learns or causes. Reports count from here,
//! so a report for a past period never changes.

use crate::domain::EventKind;
use serde::Serialize;
use sqlx::Row;

use super::statements::{Stmt, Val};
use super::{Backend, EnrollmentId, LeadId, Store, StoreError};

/// An event to record.
#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    /// What happened.
    pub kind: EventKind,
    /// To whom.
    pub lead: Option<LeadId>,
    /// In which enrollment.
    pub enrollment: Option<EnrollmentId>,
    /// Which touch.
    pub touch: Option<i64>,
    /// Which sequence.
    pub sequence: Option<&'a str>,
    /// Which step.
    pub step: Option<&'a str>,
    /// Which mailbox.
    pub mailbox: Option<&'a str>,
    /// Evidence and details.
    pub data: serde_json::Value,
}

impl<'a> NewEvent<'a> {
    /// An event about a lead with no further context.
    pub fn about(kind: EventKind, lead: Option<LeadId>) -> Self {
        NewEvent {
            kind,
            lead,
            enrollment: None,
            touch: None,
            sequence: None,
            step: None,
            mailbox: None,
            data: serde_json::Value::Object(Default::default()),
        }
    }
}

/// An event as stored.
#[derive(Debug, Clone, Serialize)]
pub struct EventRow {
    /// Row id (orders events recorded in the same second).
    pub id: i64,
    /// When (unix seconds, UTC).
    pub at: i64,
    /// What happened (see [`EventKind::as_str`]).
    pub kind: String,
    /// Sequence, when any.
    pub sequence_id: Option<String>,
    /// Step, when any.
    pub step_id: Option<String>,
    /// Mailbox, when any.
    pub mailbox: Option<String>,
    /// Details.
    pub data: serde_json::Value,
}

/// Records an event inside the caller's transaction.
pub(super) async fn insert(
    conn: &mut sqlx::AnyConnection,
    e: &NewEvent<'_>,
    now: i64,
) -> Result<(), StoreError> {
    insert_returning_id(conn, e, now).await.map(|_| ())
}

/// Records an event inside the caller's transaction; returns its id.
pub(super) async fn insert_returning_id(
    conn: &mut sqlx::AnyConnection,
    e: &NewEvent<'_>,
    now: i64,
) -> Result<i64, StoreError> {
    let row = sqlx::query(include_str!("sql/events/insert.sql"))
        .bind(now)
        .bind(e.kind.as_str())
        .bind(e.lead.map(|l| l.0))
        .bind(e.enrollment.map(|x| x.0))
        .bind(e.touch)
        .bind(e.sequence)
        .bind(e.step)
        .bind(e.mailbox)
        .bind(e.data.to_string())
        .fetch_one(conn)
        .await?;
    Ok(row.try_get("id")?)
}

/// Records events inside the caller's transaction, in order, a few hundred per statement (an
/// import that enrolls a million leads records a million events).
pub(super) async fn insert_many(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
    events: &[NewEvent<'_>],
    now: i64,
) -> Result<(), StoreError> {
    const COLS: [&str; 8] = [
        "kind",
        "lead_id",
        "enrollment_id",
        "touch_id",
        "sequence_id",
        "step_id",
        "mailbox",
        "data",
    ];
    for chunk in events.chunks(500) {
        let rows = chunk
            .iter()
            .map(|e| {
                vec![
                    Val::from(e.kind.as_str()),
                    Val::from(e.lead.map(|l| l.0)),
                    Val::from(e.enrollment.map(|x| x.0)),
                    Val::from(e.touch),
                    Val::from(e.sequence),
                    Val::from(e.step),
                    Val::from(e.mailbox),
                    Val::from(e.data.to_string()),
                ]
            })
            .collect();
        let mut q = Stmt::new(backend);
        q.values(&COLS, rows).sql_args(
            include_str!("sql/events/insert_many.sql"),
            &[Val::from(now)],
        );
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

impl Store {
    /// Records one event in its own transaction.
    pub async fn record_event(&self, e: &NewEvent<'_>, now: i64) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        insert(&mut conn, e, now).await
    }

    /// A lead's timeline, oldest first.
    pub async fn events_for_lead(&self, lead: LeadId) -> Result<Vec<EventRow>, StoreError> {
        let rows = sqlx::query(include_str!("sql/events/for_lead.sql"))
            .bind(lead.0)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let data: String = r.try_get("data")?;
                Ok(EventRow {
                    id: r.try_get("id")?,
                    at: r.try_get("at")?,
                    kind: r.try_get("kind")?,
                    sequence_id: r.try_get("sequence_id")?,
                    step_id: r.try_get("step_id")?,
                    mailbox: r.try_get("mailbox")?,
                    data: serde_json::from_str(&data).unwrap_or(serde_json::Value::String(data)),
                })
            })
            .collect()
    }
}

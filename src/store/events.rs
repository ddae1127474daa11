//! The append-only event log: every fact drumbeat learns or causes. Reports count from here,
//! so a report for a past period never changes.

use crate::domain::EventKind;
use serde::Serialize;
use sqlx::Row;

use super::{
    Backend, EnrollmentId, LeadId, Store, StoreError, built, json_rows, json_safe, values_clause,
};

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
    let row = sqlx::query(
        "INSERT INTO events (at, kind, lead_id, enrollment_id, touch_id, sequence_id, step_id, mailbox, data) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
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
    for chunk in events.chunks(500) {
        let safe = |t: Option<&str>| t.is_none_or(json_safe);
        let q = if backend == Backend::Sqlite
            && chunk
                .iter()
                .all(|e| safe(e.sequence) && safe(e.step) && safe(e.mailbox))
        {
            // One bind for the rows (see json_rows); `data` travels as its JSON text.
            type Row<'a> = (
                &'a str,
                Option<i64>,
                Option<i64>,
                Option<i64>,
                Option<&'a str>,
                Option<&'a str>,
                Option<&'a str>,
                String,
            );
            let rows: Vec<Row<'_>> = chunk
                .iter()
                .map(|e| {
                    (
                        e.kind.as_str(),
                        e.lead.map(|l| l.0),
                        e.enrollment.map(|x| x.0),
                        e.touch,
                        e.sequence,
                        e.step,
                        e.mailbox,
                        e.data.to_string(),
                    )
                })
                .collect();
            sqlx::query(
                "INSERT INTO events (at, kind, lead_id, enrollment_id, touch_id, sequence_id, step_id, mailbox, data) \
                 SELECT ?, j.value ->> 0, j.value ->> 1, j.value ->> 2, j.value ->> 3, j.value ->> 4, \
                   j.value ->> 5, j.value ->> 6, j.value ->> 7 FROM jsonb_each(?) AS j",
            )
            .bind(now)
            .bind(json_rows(&rows)?)
        } else {
            let sql = format!(
                "INSERT INTO events (at, kind, lead_id, enrollment_id, touch_id, sequence_id, step_id, mailbox, data) \
                 VALUES {}",
                values_clause(backend, chunk.len(), 9)
            );
            let mut q = sqlx::query(built(sql));
            for e in chunk {
                q = q
                    .bind(now)
                    .bind(e.kind.as_str())
                    .bind(e.lead.map(|l| l.0))
                    .bind(e.enrollment.map(|x| x.0))
                    .bind(e.touch)
                    .bind(e.sequence)
                    .bind(e.step)
                    .bind(e.mailbox)
                    .bind(e.data.to_string());
            }
            q
        };
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
        let rows = sqlx::query(
            "SELECT id, at, kind, sequence_id, step_id, mailbox, data FROM events WHERE lead_id = $1 ORDER BY at, id",
        )
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

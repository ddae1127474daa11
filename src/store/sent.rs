//! Recording the sends a server took: the touch is `sent`, an event says so, the enrollment
//! names its thread and moves on. The daemon records the sends that finished together in one
//! transaction of set-based statements (a handful per batch, not per email): on SQLite the one
//! writer's statements bound the daemon's throughput.

use std::collections::BTreeMap;

use super::statements::{self, Stmt, Val};
use super::{Backend, Store, StoreError};
use crate::domain::Next;

/// A send the server took, to record (see [`Store::record_sent_many`]).
#[derive(Debug, Clone)]
pub struct SentRecord {
    /// The touch.
    pub touch: i64,
    /// The server's answer.
    pub response: String,
    /// The email started its thread (its subject and Message-ID name the thread).
    pub new_thread: bool,
    /// Where the enrollment goes next.
    pub next: Next,
    /// When it was sent (unix seconds).
    pub at: i64,
}

impl Store {
    /// The server took the message: the touch is `sent`, an event says so, and the enrollment
    /// moves on (unless it was stopped meanwhile, by a reply that raced the send).
    pub async fn record_sent(
        &self,
        touch: i64,
        response: &str,
        new_thread: bool,
        next: &Next,
        now: i64,
    ) -> Result<(), StoreError> {
        self.record_sent_many(&[SentRecord {
            touch,
            response: response.to_string(),
            new_thread,
            next: next.clone(),
            at: now,
        }])
        .await
    }

    /// [`Store::record_sent`] for several touches in one transaction. A touch that is no
    /// longer `sending` or `uncertain` (recorded already) is left as it is.
    pub async fn record_sent_many(&self, sends: &[SentRecord]) -> Result<(), StoreError> {
        let stmts = record_statements(self.backend, sends);
        if stmts.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        statements::run(&mut tx, self.backend, stmts).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// The statements that record `sends`: none reads another's result (see `statements`). Sends
/// that finish together share their second: one set of statements per second.
pub(super) fn record_statements(backend: Backend, sends: &[SentRecord]) -> Vec<Stmt> {
    let mut by_at: BTreeMap<i64, Vec<&SentRecord>> = BTreeMap::new();
    for s in sends {
        by_at.entry(s.at).or_default().push(s);
    }
    let mut out = Vec::new();
    for (at, group) in by_at {
        record_set(backend, &group, at, &mut out);
    }
    out
}

/// Columns of `v` for a set of sends.
const COLS: [&str; 6] = ["touch", "response", "fresh", "step", "due", "finish"];

/// Touches that are still to record (a second record of one changes nothing).
const UNRECORDED: &str = "t.state IN ('sending', 'uncertain')";

fn record_set(backend: Backend, sends: &[&SentRecord], at: i64, out: &mut Vec<Stmt>) {
    let rows: Vec<Vec<Val>> = sends
        .iter()
        .map(|s| {
            let (step, due, finish) = match &s.next {
                Next::Step { id, due_at } => (Some(id.as_str()), Some(*due_at), 0),
                Next::Finished => (None, None, 1),
            };
            vec![
                Val::from(s.touch),
                Val::from(s.response.as_str()),
                Val::from(i64::from(s.new_thread)),
                Val::from(step),
                Val::from(due),
                Val::from(finish),
            ]
        })
        .collect();
    let finishes = sends.iter().any(|s| matches!(s.next, Next::Finished));
    let data = match backend {
        Backend::Sqlite => {
            "json_object('message_id', t.message_id, 'response', v.response, 'variant', t.variant)"
        }
        Backend::Postgres => {
            "json_build_object('message_id', t.message_id, 'response', v.response, 'variant', t.variant)::text"
        }
    };
    // The events first: they read the touches' and enrollments' states before the updates.
    let mut sent = Stmt::new(backend);
    sent.values(&COLS, rows.clone())
        .sql(
            "INSERT INTO events (at, kind, lead_id, enrollment_id, touch_id, sequence_id, step_id, mailbox, data) \
             SELECT ",
        )
        .arg(at)
        .sql(&format!(
            ", 'sent', t.lead_id, t.enrollment_id, t.id, t.sequence_id, t.step_id, t.mailbox, {data} \
             FROM v JOIN touches t ON t.id = v.touch WHERE {UNRECORDED} ORDER BY t.id"
        ));
    out.push(sent);
    if finishes {
        let mut finished = Stmt::new(backend);
        finished
            .values(&COLS, rows.clone())
            .sql(
                "INSERT INTO events (at, kind, lead_id, enrollment_id, touch_id, sequence_id, step_id, mailbox, data) \
                 SELECT ",
            )
            .arg(at)
            .sql(&format!(
                ", 'finished', t.lead_id, t.enrollment_id, t.id, t.sequence_id, t.step_id, t.mailbox, '{{}}' \
                 FROM v JOIN touches t ON t.id = v.touch JOIN enrollments e ON e.id = t.enrollment_id \
                 WHERE {UNRECORDED} AND v.finish = 1 AND e.state IN ('active', 'paused') ORDER BY t.id"
            ));
        out.push(finished);
    }
    // The first email of a thread names it (subject, Message-ID, mailbox); later threaded
    // steps fill in only what is missing. The enrollment moves to its next step or finishes,
    // unless it was stopped meanwhile (by a reply that raced the send). Every right-hand side
    // reads the row as it was before this update.
    const MOVES: &str = "enrollments.state IN ('active', 'paused')";
    let mut enrollments = Stmt::new(backend);
    enrollments
        .values(&COLS, rows)
        .sql(&format!(
            "UPDATE enrollments SET \
               mailbox = CASE WHEN t.kind = 'email' THEN COALESCE(enrollments.mailbox, t.mailbox) ELSE enrollments.mailbox END, \
               thread_subject = CASE WHEN t.kind <> 'email' THEN enrollments.thread_subject WHEN v.fresh = 1 THEN t.subject \
                 ELSE COALESCE(enrollments.thread_subject, t.subject) END, \
               thread_message_id = CASE WHEN t.kind <> 'email' THEN enrollments.thread_message_id WHEN v.fresh = 1 THEN t.message_id \
                 ELSE COALESCE(enrollments.thread_message_id, t.message_id) END, \
               next_step_id = CASE WHEN {MOVES} THEN v.step ELSE enrollments.next_step_id END, \
               next_due_at = CASE WHEN {MOVES} THEN v.due ELSE enrollments.next_due_at END, \
               lease_owner = CASE WHEN {MOVES} THEN NULL ELSE enrollments.lease_owner END, \
               lease_until = CASE WHEN {MOVES} THEN NULL ELSE enrollments.lease_until END, \
               state = CASE WHEN {MOVES} AND v.finish = 1 THEN 'finished' ELSE enrollments.state END, \
               outcome = CASE WHEN {MOVES} AND v.finish = 1 THEN 'finished' ELSE enrollments.outcome END, \
               updated_at = CASE WHEN {MOVES} THEN "
        ))
        .arg(at)
        .sql(&format!(
            " ELSE enrollments.updated_at END, \
               finished_at = CASE WHEN {MOVES} AND v.finish = 1 THEN "
        ))
        .arg(at)
        .sql(&format!(
            " ELSE enrollments.finished_at END \
             FROM v JOIN touches t ON t.id = v.touch \
             WHERE enrollments.id = t.enrollment_id AND {UNRECORDED}"
        ));
    out.push(enrollments);
    // Last: the touches, whose state the statements above read.
    let mut touches = Stmt::new(backend);
    touches
        .values(
            &["touch"],
            sends.iter().map(|s| vec![Val::from(s.touch)]).collect(),
        )
        .sql("UPDATE touches SET state = 'sent', sent_at = ")
        .arg(at)
        .sql(
            ", next_attempt_at = NULL, error = NULL \
             WHERE id IN (SELECT touch FROM v) AND state IN ('sending', 'uncertain')",
        );
    out.push(touches);
}

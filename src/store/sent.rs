//! Recording the sends a server took: the touch is `sent`, an event says so, the enrollment
//! names its thread and moves on. The daemon records the sends that finished together in one
//! transaction of set-based statements (a handful per batch, not per email): on SQLite the one
//! writer's statements bound the daemon's throughput.

use std::collections::BTreeMap;

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::statements::{self, PerEngine, Stmt, Val};
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
    /// The message as sent, when a copy goes into the mailbox's Sent folder: queued in the
    /// same transaction (see [`Store::due_sent_copies`]).
    pub copy: Option<String>,
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
            copy: None,
        }])
        .await
    }

    /// [`Store::record_sent`] for several touches in one transaction. A touch that is no
    /// longer `sending` or `uncertain` (recorded already) is left as it is.
    pub async fn record_sent_many(&self, sends: &[SentRecord]) -> Result<(), StoreError> {
        if sends.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        record(&mut tx, self.backend, sends).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Records `sends` in the caller's transaction, their facts folded last (see
/// [`fold_statement`]): the caller commits next.
pub(super) async fn record(
    conn: &mut AnyConnection,
    backend: Backend,
    sends: &[SentRecord],
) -> Result<(), StoreError> {
    let results = statements::run(conn, backend, record_statements(backend, sends)).await?;
    if let Some(fold) = fold_statement(&results)? {
        fold.execute(&mut *conn).await?;
    }
    Ok(())
}

/// On PostgreSQL, the statement that folds the report's facts of the `sent` events that
/// [`record_statements`] inserted (their ids are the only rows those statements return), to
/// run as the transaction's last statement. Its `sent` events skipped the row trigger that
/// folds them one at a time (migrations/postgres/0027_sent_facts_batch.sql); at the end of
/// the transaction, as that deferred trigger ran, the facts' rows are locked only once every
/// other lock is held. `None` on SQLite, whose row triggers fold them, or with nothing sent.
pub(super) fn fold_statement(results: &[Vec<AnyRow>]) -> Result<Option<Stmt<'static>>, StoreError> {
    let mut ids = Vec::new();
    for row in results.iter().flatten() {
        ids.push(row.try_get::<i64, _>("sent_event")?.to_string());
    }
    if ids.is_empty() {
        return Ok(None);
    }
    let mut s = Stmt::new(Backend::Postgres);
    s.sql("SELECT sent_facts_fold(")
        .arg(format!("{{{}}}", ids.join(",")))
        .sql("::bigint[])");
    Ok(Some(s))
}

/// The statements that record `sends`: none reads another's result (see `statements`). Sends
/// that finish together share their second: one set of statements per second.
pub(super) fn record_statements(backend: Backend, sends: &[SentRecord]) -> Vec<Stmt<'_>> {
    let mut by_at: BTreeMap<i64, Vec<&SentRecord>> = BTreeMap::new();
    for s in sends {
        by_at.entry(s.at).or_default().push(s);
    }
    let mut out = Vec::new();
    if backend == Backend::Postgres && !sends.is_empty() {
        // This transaction folds its `sent` events' facts itself (see `fold_statement`).
        let mut skip = Stmt::new(backend);
        skip.sql(SKIP_SENT_FACTS_TRIGGER);
        out.push(skip);
    }
    for (at, group) in by_at {
        record_set(backend, &group, at, &mut out);
    }
    out
}

/// Tells migration 0027's row trigger that this transaction folds its own `sent` events.
const SKIP_SENT_FACTS_TRIGGER: &str = "SET LOCAL drumbeat.sent_facts = 'batch'";

/// Columns of `v` for a set of sends.
const COLS: [&str; 6] = ["touch", "response", "fresh", "step", "due", "finish"];

/// The `sent` events' insert, per engine (they spell a JSON object differently).
const SENT_EVENTS: PerEngine = PerEngine {
    sqlite: include_str!("sql/sent/sent_events.sqlite.sql"),
    postgres: include_str!("sql/sent/sent_events.postgres.sql"),
};

/// The statements that record `sends`, all sent at `at`, in the order they must run: the
/// events first (they read the touches' and enrollments' states before the updates), then the
/// enrollments, then the touches.
fn record_set<'s>(backend: Backend, sends: &[&'s SentRecord], at: i64, out: &mut Vec<Stmt<'s>>) {
    let rows: Vec<Vec<Val<'s>>> = sends.iter().map(|s| row(s)).collect();
    let at = [Val::from(at)];
    let over_v = |rows: Vec<Vec<Val<'s>>>, sql: &str| {
        let mut s = Stmt::new(backend);
        s.values(&COLS, rows).sql_args(sql, &at);
        s
    };
    out.push(over_v(rows.clone(), SENT_EVENTS.on(backend)));
    if sends.iter().any(|s| matches!(s.next, Next::Finished)) {
        out.push(over_v(
            rows.clone(),
            include_str!("sql/sent/finished_events.sql"),
        ));
    }
    out.push(over_v(rows, include_str!("sql/sent/move_enrollments.sql")));
    // Before the touches are marked: only a touch still to record queues its copy.
    let copies: Vec<Vec<Val<'s>>> = sends
        .iter()
        .filter_map(|s| Some(vec![Val::from(s.touch), Val::from(s.copy.as_deref()?)]))
        .collect();
    if !copies.is_empty() {
        let mut q = Stmt::new(backend);
        q.values(&["touch", "message"], copies)
            .sql_args(include_str!("sql/sent/queue_copies.sql"), &at);
        out.push(q);
    }
    let mut touches = Stmt::new(backend);
    touches
        .values(
            &["touch"],
            sends.iter().map(|s| vec![Val::from(s.touch)]).collect(),
        )
        .sql_args(include_str!("sql/sent/mark_sent.sql"), &at);
    out.push(touches);
}

/// One send as a row of `v` ([`COLS`]).
fn row(s: &SentRecord) -> Vec<Val<'_>> {
    let (step, due, finish) = match &s.next {
        Next::Step { id, due_at } => (Some(id.as_str()), Some(*due_at), 0),
        Next::Finished => (None, None, 1),
    };
    vec![
        Val::from(s.touch),
        Val::from(s.response.as_str()),
        Val::from(s.new_thread),
        Val::from(step),
        Val::from(due),
        Val::from(finish),
    ]
}

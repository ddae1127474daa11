//! Set-based statements for the daemon's hot path, run with as few round trips as each engine
//! allows.
//!
//! Every statement to the store is a round trip to the engine: on SQLite, to the one thread
//! sqlx runs the connection on, which costs 60–90 µs on a small VM whatever the statement does.
//! The sending daemon claims and records a few emails at a time, many times a second, so it
//! builds its statements so that none needs another's result (each reads its rows from a `v`
//! table of values, never from a previous `RETURNING`), and runs them:
//!
//! - on SQLite, as one multi-statement query (one round trip), whose rows come back in
//!   statement order; the values travel as one JSON bind per statement, so the SQL text is the
//!   same whatever the batch size and its prepared form is reused;
//! - on PostgreSQL, one after another, with the values as a `VALUES` list.

use futures_util::TryStreamExt;
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::{AnyConnection, Arguments};

use super::{Backend, StoreError, built, json_safe, push_placeholder};

/// One bound value.
#[derive(Debug, Clone)]
pub(super) enum Val {
    Int(Option<i64>),
    Text(Option<String>),
}

impl From<i64> for Val {
    fn from(v: i64) -> Self {
        Val::Int(Some(v))
    }
}

impl From<Option<i64>> for Val {
    fn from(v: Option<i64>) -> Self {
        Val::Int(v)
    }
}

impl From<&str> for Val {
    fn from(v: &str) -> Self {
        Val::Text(Some(v.to_string()))
    }
}

impl From<Option<&str>> for Val {
    fn from(v: Option<&str>) -> Self {
        Val::Text(v.map(str::to_string))
    }
}

impl serde::Serialize for Val {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Val::Int(Some(v)) => s.serialize_i64(*v),
            Val::Text(Some(v)) => s.serialize_str(v),
            Val::Int(None) | Val::Text(None) => s.serialize_none(),
        }
    }
}

/// One statement and its binds, built in the order its text reads.
#[derive(Debug)]
pub(super) struct Stmt {
    backend: Backend,
    sql: String,
    args: Vec<Val>,
}

impl Stmt {
    pub(super) fn new(backend: Backend) -> Self {
        Stmt {
            backend,
            sql: String::new(),
            args: Vec::new(),
        }
    }

    /// Appends SQL text (which must hold no placeholder of its own).
    pub(super) fn sql(&mut self, text: &str) -> &mut Self {
        self.sql.push_str(text);
        self
    }

    /// Appends a placeholder bound to `v`.
    pub(super) fn arg(&mut self, v: impl Into<Val>) -> &mut Self {
        self.args.push(v.into());
        push_placeholder(&mut self.sql, self.backend, self.args.len());
        self
    }

    /// Appends `WITH v(cols…) AS (…)`: a table `v` of `rows`, each as many values as `cols`.
    /// `rows` must not be empty.
    pub(super) fn values(&mut self, cols: &[&str], rows: Vec<Vec<Val>>) -> &mut Self {
        debug_assert!(!rows.is_empty() && rows.iter().all(|r| r.len() == cols.len()));
        self.sql.push_str("WITH v(");
        self.sql.push_str(&cols.join(", "));
        self.sql.push_str(") AS (");
        let json = self.backend == Backend::Sqlite
            && rows
                .iter()
                .flatten()
                .all(|v| !matches!(v, Val::Text(Some(t)) if !json_safe(t)));
        if json {
            // One bind for the rows: the text is the same whatever their number.
            self.sql.push_str("SELECT ");
            for i in 0..cols.len() {
                if i > 0 {
                    self.sql.push_str(", ");
                }
                self.sql.push_str(&format!("j.value ->> {i}"));
            }
            self.sql.push_str(" FROM json_each(");
            let text = serde_json::to_string(&rows).unwrap_or_else(|_| "[]".into());
            self.arg(Val::Text(Some(text)));
            self.sql.push_str(") AS j");
        } else {
            self.sql.push_str("VALUES ");
            for (r, row) in rows.into_iter().enumerate() {
                self.sql.push_str(if r > 0 { ", (" } else { "(" });
                for (c, v) in row.into_iter().enumerate() {
                    if c > 0 {
                        self.sql.push_str(", ");
                    }
                    self.arg(v);
                }
                self.sql.push(')');
            }
        }
        self.sql.push_str(") ");
        self
    }
}

fn bind_all(args: Vec<Val>, into: &mut AnyArguments) -> Result<(), StoreError> {
    for v in args {
        let r = match v {
            Val::Int(v) => into.add(v),
            Val::Text(v) => into.add(v),
        };
        r.map_err(|e| StoreError::Query(sqlx::Error::Encode(e)))?;
    }
    Ok(())
}

/// Runs `stmts` in order on `conn` (inside the caller's transaction) and returns each one's
/// rows.
pub(super) async fn run(
    conn: &mut AnyConnection,
    backend: Backend,
    stmts: Vec<Stmt>,
) -> Result<Vec<Vec<AnyRow>>, StoreError> {
    let n = stmts.len();
    let mut out: Vec<Vec<AnyRow>> = Vec::with_capacity(n);
    match backend {
        Backend::Sqlite => {
            let mut sql = String::new();
            let mut args = AnyArguments::default();
            for s in stmts {
                sql.push_str(&s.sql);
                sql.push_str(";\n");
                bind_all(s.args, &mut args)?;
            }
            let mut current = Vec::new();
            // sqlx 0.9 deprecates a query of several statements with binds (sqlx issue 3108:
            // only its SQLite driver runs them, and it may stop in a later major version). It
            // is the only way to run a batch in one round trip; should it go, SQLite takes the
            // per-statement branch below, as PostgreSQL does, at a cost in speed only.
            #[allow(deprecated)]
            let mut results = sqlx::query_with(built(sql), args).fetch_many(&mut *conn);
            while let Some(item) = results.try_next().await? {
                match item {
                    sqlx::Either::Left(_) => out.push(std::mem::take(&mut current)),
                    sqlx::Either::Right(row) => current.push(row),
                }
            }
            if out.len() != n {
                return Err(StoreError::Query(sqlx::Error::Protocol(format!(
                    "{n} statements gave {} results",
                    out.len()
                ))));
            }
        }
        Backend::Postgres => {
            for s in stmts {
                let mut args = AnyArguments::default();
                bind_all(s.args, &mut args)?;
                out.push(
                    sqlx::query_with(built(s.sql), args)
                        .fetch_all(&mut *conn)
                        .await?,
                );
            }
        }
    }
    Ok(out)
}

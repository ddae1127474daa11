//! Statements built at run time: the one place that spells, for each engine, the placeholders
//! of a statement whose number of values is known only then (a bulk insert, an `IN` list), and
//! runs batches of set-based statements for the daemon's hot path with as few round trips as
//! each engine allows.
//!
//! A bulk statement reads its rows from a table `v` ([`Stmt::values`]) or its keys from a list
//! ([`Stmt::list`]). Rows travel as one JSON bind on both engines (the SQL text is the same
//! whatever the number of rows, so its prepared form and, on PostgreSQL, its plan are reused,
//! and sqlx's `Any` driver does not copy every value on its way in); a list does on SQLite, and
//! is one placeholder per key on PostgreSQL. Either way it is one statement per chunk. The fixed text around them lives in `sql/` and is appended with [`Stmt::sql_args`],
//! whose `$N` become this statement's placeholders.
//!
//! Every statement to the store is a round trip to the engine: on SQLite, to the one thread
//! sqlx runs the connection on, which costs 60–90 µs on a small VM whatever the statement does.
//! The sending daemon claims and records a few emails at a time, many times a second, so it
//! builds its statements so that none needs another's result (each reads its rows from a `v`
//! table of values, never from a previous `RETURNING`), and [`run`]s them:
//!
//! - on SQLite, as one multi-statement query (one round trip), whose rows come back in
//!   statement order;
//! - on PostgreSQL, one after another.

use std::borrow::Cow;

use futures_util::TryStreamExt;
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::{AnyConnection, Arguments};

use super::{Backend, StoreError, built, json_safe, push_placeholder};

/// One bound value; text is borrowed where it can be, so that a bulk statement's rows cost no
/// copy until they are bound or written as JSON.
#[derive(Debug, Clone)]
pub(super) enum Val<'a> {
    /// An integer, or NULL.
    Int(Option<i64>),
    /// Text, or NULL.
    Text(Option<Cow<'a, str>>),
    /// The values of an `IN` list (not empty): bound, it becomes `(…)` (see [`Stmt::list`]).
    List(Vec<Val<'a>>),
}

impl From<i64> for Val<'_> {
    fn from(v: i64) -> Self {
        Val::Int(Some(v))
    }
}

impl From<Option<i64>> for Val<'_> {
    fn from(v: Option<i64>) -> Self {
        Val::Int(v)
    }
}

impl From<bool> for Val<'_> {
    /// 1 or 0, as both engines' integer columns hold flags.
    fn from(v: bool) -> Self {
        Val::Int(Some(i64::from(v)))
    }
}

impl<'a> From<&'a str> for Val<'a> {
    fn from(v: &'a str) -> Self {
        Val::Text(Some(Cow::Borrowed(v)))
    }
}

impl<'a> From<Option<&'a str>> for Val<'a> {
    fn from(v: Option<&'a str>) -> Self {
        Val::Text(v.map(Cow::Borrowed))
    }
}

impl From<String> for Val<'_> {
    fn from(v: String) -> Self {
        Val::Text(Some(Cow::Owned(v)))
    }
}

impl<'a> From<&'a Option<String>> for Val<'a> {
    fn from(v: &'a Option<String>) -> Self {
        Val::Text(v.as_deref().map(Cow::Borrowed))
    }
}

impl Val<'_> {
    /// Whether this value survives a JSON bind on SQLite (see `json_safe`).
    fn json_safe(&self) -> bool {
        match self {
            Val::Text(Some(t)) => json_safe(t),
            Val::List(vals) => vals.iter().all(Val::json_safe),
            Val::Int(_) | Val::Text(None) => true,
        }
    }
}

impl serde::Serialize for Val<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Val::Int(Some(v)) => s.serialize_i64(*v),
            Val::Text(Some(v)) => s.serialize_str(v),
            Val::Int(None) | Val::Text(None) => s.serialize_none(),
            Val::List(vals) => vals.serialize(s),
        }
    }
}

/// A fixed statement whose text differs per engine, both forms kept side by side (in
/// `sql/…/NAME.sqlite.sql` and `sql/…/NAME.postgres.sql`).
#[derive(Debug, Clone, Copy)]
pub(super) struct PerEngine {
    /// The SQLite form.
    pub(super) sqlite: &'static str,
    /// The PostgreSQL form.
    pub(super) postgres: &'static str,
}

impl PerEngine {
    /// The form `backend` runs.
    pub(super) fn on(self, backend: Backend) -> &'static str {
        match backend {
            Backend::Sqlite => self.sqlite,
            Backend::Postgres => self.postgres,
        }
    }
}

/// One statement and its binds, built in the order its text reads.
#[derive(Debug)]
pub(super) struct Stmt<'a> {
    backend: Backend,
    sql: String,
    args: Vec<Val<'a>>,
}

impl<'a> Stmt<'a> {
    /// An empty statement for `backend`.
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

    /// Appends a placeholder bound to `v` (for a [`Val::List`], the list: see [`Stmt::list`]).
    pub(super) fn arg(&mut self, v: impl Into<Val<'a>>) -> &mut Self {
        match v.into() {
            Val::List(vals) => self.list(vals),
            v => {
                self.args.push(v);
                push_placeholder(&mut self.sql, self.backend, self.args.len());
                self
            }
        }
    }

    /// Appends `text` (usually a file of `sql/`), in which `$1`…`$n` stand for `args[0]`…
    /// `args[n - 1]`, each as often and in whatever order the text names it: every one becomes
    /// a placeholder of this statement, bound to its value (a [`Val::List`] becomes its `(…)`,
    /// so a file writes `x IN $1`). `--` comments are left out; quoted
    /// text is copied as it is. Panics when the text names an argument it was not given (a
    /// bug in the caller, which every test of the statement finds).
    pub(super) fn sql_args(&mut self, text: &str, args: &[Val<'a>]) -> &mut Self {
        let b = text.as_bytes();
        let (mut i, mut from) = (0, 0);
        while i < b.len() {
            match b[i] {
                quote @ (b'\'' | b'"') => {
                    i += 1;
                    while i < b.len() && b[i] != quote {
                        i += 1;
                    }
                    i += 1;
                }
                b'-' if b.get(i + 1) == Some(&b'-') => {
                    self.sql.push_str(&text[from..i]);
                    while i < b.len() && b[i] != b'\n' {
                        i += 1;
                    }
                    from = i;
                }
                b'$' if b.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                    self.sql.push_str(&text[from..i]);
                    let digits = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
                    let end = i + 1 + digits;
                    let n: usize = text[i + 1..end].parse().unwrap_or(0);
                    let v = n
                        .checked_sub(1)
                        .and_then(|k| args.get(k))
                        .unwrap_or_else(|| {
                            panic!("SQL names ${n}, but {} arguments were given", args.len())
                        });
                    self.arg(v.clone());
                    (i, from) = (end, end);
                }
                _ => i += 1,
            }
        }
        self.sql.push_str(&text[from.min(text.len())..]);
        self
    }

    /// Whether these values may travel as one JSON bind: on SQLite, when no text holds NUL.
    fn json<'v>(&self, mut vals: impl Iterator<Item = &'v Val<'v>>) -> bool {
        self.backend == Backend::Sqlite && vals.all(Val::json_safe)
    }

    /// Appends `WITH v(cols…) AS (…)`: a table `v` of `rows`, each as many values as `cols`.
    /// `rows` must not be empty. The rows are one JSON bind, so the statement's text is the
    /// same whatever their number and each engine prepares and plans it once per connection:
    /// on SQLite read with `jsonb_each` (whose rows `->>` reads without parsing them again),
    /// on PostgreSQL with `jsonb_array_elements`, each column cast to its values' type. Text
    /// holding NUL (which neither engine's JSON takes) makes them a `VALUES` list instead.
    pub(super) fn values(&mut self, cols: &[&str], rows: Vec<Vec<Val<'a>>>) -> &mut Self {
        debug_assert!(!rows.is_empty() && rows.iter().all(|r| r.len() == cols.len()));
        self.sql.push_str("WITH v(");
        self.sql.push_str(&cols.join(", "));
        self.sql.push_str(") AS (");
        let safe = rows.iter().flatten().all(Val::json_safe);
        match (self.backend, safe, column_types(&rows)) {
            (Backend::Sqlite, true, _) => {
                self.json_rows(&rows, "jsonb_each(", ")", &vec![""; cols.len()]);
            }
            (Backend::Postgres, true, Some(casts)) => {
                self.json_rows(&rows, "jsonb_array_elements(", "::jsonb)", &casts);
            }
            _ => self.values_list(rows),
        }
        self.sql.push_str(") ");
        self
    }

    /// `SELECT j.value ->> 0…` over `rows` as one JSON bind, read by `from` … `to`, each
    /// column followed by its cast.
    fn json_rows(&mut self, rows: &[Vec<Val<'a>>], from: &str, to: &str, casts: &[&str]) {
        self.sql.push_str("SELECT ");
        for (i, cast) in casts.iter().enumerate() {
            if i > 0 {
                self.sql.push_str(", ");
            }
            self.sql.push_str(&match *cast {
                "" => format!("j.value ->> {i}"),
                cast => format!("(j.value ->> {i}){cast}"),
            });
        }
        self.sql.push_str(" FROM ");
        self.sql.push_str(from);
        self.arg(json_text(rows));
        self.sql.push_str(to);
        self.sql.push_str(" AS j");
    }

    /// `VALUES ($1, $2), …`: one placeholder per value.
    fn values_list(&mut self, rows: Vec<Vec<Val<'a>>>) {
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

    /// Appends `(…)`, the right-hand side of an `IN` holding `vals` (which must not be empty):
    /// on SQLite one JSON bind read with `json_each`, unless a text holds NUL; otherwise one
    /// placeholder per value.
    pub(super) fn list(&mut self, vals: Vec<Val<'a>>) -> &mut Self {
        debug_assert!(!vals.is_empty());
        if self.json(vals.iter()) {
            self.sql.push_str("(SELECT j.value FROM json_each(");
            self.arg(json_text(&vals));
            self.sql.push_str(") AS j)");
        } else {
            self.sql.push('(');
            for (i, v) in vals.into_iter().enumerate() {
                if i > 0 {
                    self.sql.push_str(", ");
                }
                self.arg(v);
            }
            self.sql.push(')');
        }
        self
    }

    /// The statement as sqlx runs it.
    fn query(self) -> Result<sqlx::query::Query<'static, sqlx::Any, AnyArguments>, StoreError> {
        let mut args = AnyArguments::default();
        bind_all(self.args, &mut args)?;
        Ok(sqlx::query_with(built(self.sql), args))
    }

    /// Runs this statement alone (inside the caller's transaction, when `executor` is one)
    /// and returns its rows.
    pub(super) async fn fetch_all<'e, E>(self, executor: E) -> Result<Vec<AnyRow>, StoreError>
    where
        E: sqlx::Executor<'e, Database = sqlx::Any>,
    {
        Ok(self.query()?.fetch_all(executor).await?)
    }

    /// Runs this statement alone; returns how many rows it changed.
    pub(super) async fn execute<'e, E>(self, executor: E) -> Result<u64, StoreError>
    where
        E: sqlx::Executor<'e, Database = sqlx::Any>,
    {
        Ok(self.query()?.execute(executor).await?.rows_affected())
    }
}

/// The PostgreSQL cast of each column of `rows` (`::bigint` for integers, none for text),
/// when every row has the same kind of value in each column (NULLs included: a `Val` keeps
/// its kind), else `None`.
fn column_types(rows: &[Vec<Val<'_>>]) -> Option<Vec<&'static str>> {
    let cast = |v: &Val<'_>| match v {
        Val::Int(_) => Some("::bigint"),
        Val::Text(_) => Some(""),
        Val::List(_) => None,
    };
    let first: Vec<&'static str> = rows.first()?.iter().map(cast).collect::<Option<_>>()?;
    rows.iter()
        .all(|r| r.iter().map(cast).eq(first.iter().map(|c| Some(*c))))
        .then_some(first)
}

/// `rows` as one JSON text (values never fail to serialize).
fn json_text<'a, T: serde::Serialize + ?Sized>(rows: &T) -> Val<'a> {
    Val::from(serde_json::to_string(rows).expect("numbers, text and nulls serialize to JSON"))
}

fn bind_all(args: Vec<Val<'_>>, into: &mut AnyArguments) -> Result<(), StoreError> {
    for v in args {
        let r = match v {
            Val::Int(v) => into.add(v),
            Val::Text(v) => into.add(v.map(Cow::into_owned)),
            Val::List(_) => unreachable!("Stmt::arg spells a list as its values"),
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
    stmts: Vec<Stmt<'_>>,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn text<'s>(s: &'s Stmt<'_>) -> &'s str {
        &s.sql
    }

    #[test]
    fn sql_args_numbers_each_use_of_an_argument_in_text_order() {
        let args = [Val::from(7), Val::from("x")];
        let sql = "-- $9 in a comment is no placeholder\nSELECT $2, '$1', $1 WHERE a = $2";
        let mut pg = Stmt::new(Backend::Postgres);
        pg.sql("WITH v AS (SELECT ")
            .arg(1)
            .sql(") ")
            .sql_args(sql, &args);
        assert_eq!(
            text(&pg),
            "WITH v AS (SELECT $1) \nSELECT $2, '$1', $3 WHERE a = $4"
        );
        let bound: Vec<String> = pg.args.iter().map(|v| format!("{v:?}")).collect();
        assert_eq!(bound.len(), 4);
        assert!(
            bound[1].contains("\"x\"") && bound[2].contains('7'),
            "{bound:?}"
        );
        let mut lite = Stmt::new(Backend::Sqlite);
        lite.sql_args(sql, &args);
        assert_eq!(text(&lite), "\nSELECT ?, '$1', ? WHERE a = ?");
        assert_eq!(lite.args.len(), 3);
    }

    #[test]
    #[should_panic(expected = "SQL names $3")]
    fn sql_args_refuses_an_argument_it_was_not_given() {
        Stmt::new(Backend::Postgres).sql_args("SELECT $3", &[Val::from(1)]);
    }

    #[test]
    fn bulk_values_are_one_json_bind_on_both_engines() {
        let rows = || {
            vec![
                vec![Val::from(1), Val::from("a")],
                vec![Val::from(2), Val::from("b")],
            ]
        };
        let mut lite = Stmt::new(Backend::Sqlite);
        lite.values(&["n", "s"], rows());
        assert_eq!(
            text(&lite),
            "WITH v(n, s) AS (SELECT j.value ->> 0, j.value ->> 1 FROM jsonb_each(?) AS j) "
        );
        assert_eq!(lite.args.len(), 1);
        let mut pg = Stmt::new(Backend::Postgres);
        pg.values(&["n", "s"], rows());
        assert_eq!(
            text(&pg),
            "WITH v(n, s) AS (SELECT (j.value ->> 0)::bigint, j.value ->> 1 \
             FROM jsonb_array_elements($1::jsonb) AS j) "
        );
        assert_eq!(pg.args.len(), 1);
        assert!(
            format!("{:?}", pg.args[0]).contains(r#"[[1,\"a\"],[2,\"b\"]]"#),
            "{:?}",
            pg.args
        );
        // Text holding NUL cannot go through either engine's JSON: one bind per value.
        for backend in [Backend::Sqlite, Backend::Postgres] {
            let mut nul = Stmt::new(backend);
            nul.values(&["s"], vec![vec![Val::from("a\0b")]]);
            assert!(
                text(&nul).starts_with("WITH v(s) AS (VALUES ("),
                "{}",
                text(&nul)
            );
        }
        // Nor can a column whose rows hold integers and text (PostgreSQL casts per column).
        let mut mixed = Stmt::new(Backend::Postgres);
        mixed.values(&["x"], vec![vec![Val::from(1)], vec![Val::from("a")]]);
        assert_eq!(text(&mixed), "WITH v(x) AS (VALUES ($1), ($2)) ");
        // NULLs keep their column's kind.
        let mut nulls = Stmt::new(Backend::Postgres);
        nulls.values(&["x"], vec![vec![Val::Int(None)], vec![Val::from(2)]]);
        assert!(
            text(&nulls).contains("(j.value ->> 0)::bigint"),
            "{}",
            text(&nulls)
        );
    }

    #[test]
    fn lists_are_one_json_bind_on_sqlite_and_placeholders_on_postgres() {
        let vals = || vec![Val::from("a"), Val::from("b"), Val::from("c")];
        let mut lite = Stmt::new(Backend::Sqlite);
        lite.sql("x IN ").list(vals());
        assert_eq!(text(&lite), "x IN (SELECT j.value FROM json_each(?) AS j)");
        let mut pg = Stmt::new(Backend::Postgres);
        pg.sql("x IN ").list(vals()).sql(" AND y = ").arg(4);
        assert_eq!(text(&pg), "x IN ($1, $2, $3) AND y = $4");
        let mut file = Stmt::new(Backend::Postgres);
        file.sql_args("x IN $2 AND y = $1", &[Val::from(4), Val::List(vals())]);
        assert_eq!(text(&file), "x IN ($1, $2, $3) AND y = $4");
    }
}

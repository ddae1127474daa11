//! The store's schema: migrations apply on a fresh database, reopening is harmless, and the
//! SQLite and PostgreSQL migration folders describe the same schema.

use std::collections::BTreeMap;

use drumbeat::store::Store;

use crate::support::{
    NOW, StoreCase, for_each_store, fresh_pg_store, fresh_sqlite_store, lead, pg_server,
};

#[tokio::test]
async fn migrations_apply_on_a_fresh_database_and_reopening_is_idempotent() {
    for_each_store(
        "migrations_apply_on_a_fresh_database_and_reopening_is_idempotent",
        |s| async move {
            for table in [
                "accounts",
                "leads",
                "enrollments",
                "touches",
                "events",
                "suppressions",
                "tasks",
                "daemons",
                "inbox_folders",
                "inbox_reads",
                "mailbox_leases",
                "inbound",
                "settings",
                "provider_events",
                "provider_tokens",
                "webhook_deliveries",
                "mailbox_strikes",
                "mailbox_pauses",
                "drafts",
                "holds",
                "sent_copies",
                "crm_jobs",
                "crm_records",
                "mailbox_holders",
            ] {
                assert_eq!(
                    s.int(&format!("SELECT COUNT(*) FROM {table}")).await,
                    0,
                    "{}: {table}",
                    s.engine
                );
            }
            let migrations = "SELECT COUNT(*) FROM _sqlx_migrations WHERE success";
            let shipped = std::fs::read_dir("migrations/sqlite")
                .expect("migrations")
                .count() as i64;
            assert_eq!(s.int(migrations).await, shipped, "{}", s.engine);
            s.upsert_leads(&[lead("jane@acme.com")], "test", NOW, false)
                .await
                .expect("upsert");

            // Opening again (twice, and while the first handle is still open) applies nothing and
            // keeps the data.
            for _ in 0..2 {
                let again = Store::open(&s.url)
                    .await
                    .unwrap_or_else(|e| panic!("{}: reopen: {e}", s.engine));
                assert_eq!(again.count_leads().await.expect("count"), 1, "{}", s.engine);
                again.close().await;
            }
            assert_eq!(s.int(migrations).await, shipped, "{}", s.engine);
            assert_eq!(s.count_leads().await.expect("count"), 1, "{}", s.engine);

            // A store a newer drumbeat migrated (a rolling upgrade half done) is refused with
            // what to do, not run on a schema this one does not know.
            s.exec(
                "INSERT INTO _sqlx_migrations (version, description, installed_on, success, checksum, execution_time) \
                 SELECT 9999, 'from the future', installed_on, success, checksum, execution_time \
                 FROM _sqlx_migrations WHERE version = 1",
            )
            .await;
            let refused = Store::open(&s.url).await.err().map(|e| e.to_string());
            let refused = refused.unwrap_or_default();
            assert!(
                refused.contains("upgraded by a newer drumbeat (its migration 9999")
                    && refused.contains("run the newer version here too"),
                "{}: {refused}",
                s.engine
            );
            s.close().await;
        },
    )
    .await;
}

/// The SQLite drumbeat links is built as .cargo/config.toml says: each connection with its own
/// page cache and no global memory statistics, so that queries on several connections at once
/// (a report's parts, the click writer beside the scheduler) do not take turns on one mutex.
#[tokio::test]
async fn sqlite_connections_share_no_global_mutex() {
    let s = fresh_sqlite_store().await;
    let options: Vec<String> = s
        .rows("PRAGMA compile_options")
        .await
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
        .collect();
    assert!(
        !options.iter().any(|o| o == "ENABLE_MEMORY_MANAGEMENT"),
        "{options:?}"
    );
    assert!(
        options.iter().any(|o| o == "DEFAULT_MEMSTATUS=0"),
        "{options:?}"
    );
    s.close().await;
}

#[tokio::test]
async fn opening_a_sqlite_store_creates_its_missing_folder() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("nested/deeper/drumbeat.db");
    let store = Store::open(&format!("sqlite://{}", path.display()))
        .await
        .expect("open");
    assert!(path.exists(), "{} was not created", path.display());
    assert_eq!(store.count_leads().await.expect("count"), 0);
    store.close().await;
}

/// One engine's schema in an engine-neutral form, table by table.
#[derive(Debug, PartialEq, Eq)]
struct Schema {
    /// Per table: its columns in order as `name type null|not-null default`.
    columns: BTreeMap<String, Vec<String>>,
    /// Every index but the primary key: `table(cols) unique? where 'literals'`, with the
    /// index's name for indexes created by name (constraint indexes are named per engine).
    indexes: Vec<String>,
    /// `table.column -> table.column on delete ACTION`.
    foreign_keys: Vec<String>,
}

fn type_class(t: &str) -> &'static str {
    let t = t.to_ascii_lowercase();
    if t.contains("int") {
        "int"
    } else if t.contains("text") || t.contains("char") {
        "text"
    } else {
        "other"
    }
}

/// `'a'` literals of a partial index's predicate, in order, so that `state IN ('a', 'b')` and
/// PostgreSQL's `state = ANY (ARRAY['a'::text, 'b'::text])` compare equal.
fn literals(predicate: &str) -> String {
    predicate
        .split('\'')
        .skip(1)
        .step_by(2)
        .collect::<Vec<_>>()
        .join(",")
}

fn cell(row: &[Option<String>], i: usize) -> String {
    row[i].clone().unwrap_or_default()
}

async fn sqlite_schema(s: &StoreCase) -> Schema {
    let mut schema = Schema {
        columns: BTreeMap::new(),
        indexes: Vec::new(),
        foreign_keys: Vec::new(),
    };
    let tables = s
        .rows("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations' ORDER BY name")
        .await;
    for t in tables {
        let table = cell(&t, 0);
        let cols = s
            .rows(&format!("SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info('{table}') ORDER BY cid"))
            .await;
        let cols = cols
            .iter()
            .map(|c| {
                let not_null = cell(c, 2) == "1" || cell(c, 4) == "1";
                format!(
                    "{} {} {} {}",
                    cell(c, 0),
                    type_class(&cell(c, 1)),
                    if not_null { "not-null" } else { "null" },
                    cell(c, 3)
                )
            })
            .collect();
        schema.columns.insert(table.clone(), cols);

        for ix in s
            .rows(&format!(
                "SELECT name, \"unique\", origin, partial FROM pragma_index_list('{table}')"
            ))
            .await
        {
            let name = cell(&ix, 0);
            if cell(&ix, 2) == "pk" {
                continue;
            }
            let cols: Vec<String> = s
                .rows(&format!(
                    "SELECT name FROM pragma_index_info('{name}') ORDER BY seqno"
                ))
                .await
                .iter()
                .map(|r| cell(r, 0))
                .collect();
            let predicate = if cell(&ix, 3) == "1" {
                let sql = s
                    .rows(&format!(
                        "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = '{name}'"
                    ))
                    .await;
                let sql = cell(&sql[0], 0);
                let (_, pred) = sql
                    .split_once(" WHERE ")
                    .expect("a partial index has WHERE");
                format!(" where {}", literals(pred))
            } else {
                String::new()
            };
            let shown = if cell(&ix, 2) == "c" {
                format!("{name}: ")
            } else {
                String::new()
            };
            let unique = if cell(&ix, 1) == "1" { " unique" } else { "" };
            schema.indexes.push(format!(
                "{shown}{table}({}){unique}{predicate}",
                cols.join(",")
            ));
        }

        for fk in s.rows(&format!("SELECT \"from\", \"table\", \"to\", on_delete FROM pragma_foreign_key_list('{table}')")).await {
            schema.foreign_keys.push(format!(
                "{table}.{} -> {}.{} on delete {}",
                cell(&fk, 0),
                cell(&fk, 1),
                cell(&fk, 2),
                cell(&fk, 3).to_uppercase()
            ));
        }
    }
    schema.indexes.sort();
    schema.foreign_keys.sort();
    schema
}

async fn postgres_schema(s: &StoreCase) -> Schema {
    let mut schema = Schema {
        columns: BTreeMap::new(),
        indexes: Vec::new(),
        foreign_keys: Vec::new(),
    };
    let cols = s
        .rows(
            "SELECT table_name::text, column_name::text, data_type::text, is_nullable::text, \
             COALESCE(REPLACE(column_default::text, '::text', ''), '') \
             FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> '_sqlx_migrations' \
             ORDER BY table_name, ordinal_position",
        )
        .await;
    for c in cols {
        let not_null = cell(&c, 3) == "NO";
        schema.columns.entry(cell(&c, 0)).or_default().push(format!(
            "{} {} {} {}",
            cell(&c, 1),
            type_class(&cell(&c, 2)),
            if not_null { "not-null" } else { "null" },
            cell(&c, 4)
        ));
    }

    let indexes = s
        .rows(
            "SELECT t.relname::text, i.relname::text, ix.indisunique, \
               EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = ix.indexrelid) AS by_constraint, \
               COALESCE(pg_get_expr(ix.indpred, ix.indrelid), '') AS predicate, \
               (SELECT string_agg(a.attname::text, ',' ORDER BY k.ord) \
                  FROM unnest(ix.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord) \
                  JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum) AS cols \
             FROM pg_index ix JOIN pg_class i ON i.oid = ix.indexrelid JOIN pg_class t ON t.oid = ix.indrelid \
             JOIN pg_namespace n ON n.oid = t.relnamespace \
             WHERE n.nspname = 'public' AND t.relname <> '_sqlx_migrations' AND NOT ix.indisprimary",
        )
        .await;
    for ix in indexes {
        let (table, name, unique, by_constraint, predicate, cols) = (
            cell(&ix, 0),
            cell(&ix, 1),
            cell(&ix, 2),
            cell(&ix, 3),
            cell(&ix, 4),
            cell(&ix, 5),
        );
        let shown = if by_constraint == "true" {
            String::new()
        } else {
            format!("{name}: ")
        };
        let unique = if unique == "true" { " unique" } else { "" };
        let predicate = if predicate.is_empty() {
            String::new()
        } else {
            format!(" where {}", literals(&predicate))
        };
        schema
            .indexes
            .push(format!("{shown}{table}({cols}){unique}{predicate}"));
    }

    let fks = s
        .rows(
            "SELECT c.conrelid::regclass::text, a.attname::text, c.confrelid::regclass::text, b.attname::text, \
               CASE c.confdeltype WHEN 'c' THEN 'CASCADE' WHEN 'n' THEN 'SET NULL' WHEN 'r' THEN 'RESTRICT' \
                 WHEN 'd' THEN 'SET DEFAULT' ELSE 'NO ACTION' END \
             FROM pg_constraint c \
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] \
             JOIN pg_attribute b ON b.attrelid = c.confrelid AND b.attnum = c.confkey[1] \
             WHERE c.contype = 'f'",
        )
        .await;
    for fk in fks {
        schema.foreign_keys.push(format!(
            "{}.{} -> {}.{} on delete {}",
            cell(&fk, 0),
            cell(&fk, 1),
            cell(&fk, 2),
            cell(&fk, 3),
            cell(&fk, 4)
        ));
    }
    schema.indexes.sort();
    schema.foreign_keys.sort();
    schema
}

#[tokio::test]
async fn sqlite_and_postgres_migrations_define_the_same_schema() {
    let Some(server) = pg_server("sqlite_and_postgres_migrations_define_the_same_schema") else {
        return;
    };
    let sqlite = fresh_sqlite_store().await;
    let postgres = fresh_pg_store(&server).await;
    let (a, b) = (
        sqlite_schema(&sqlite).await,
        postgres_schema(&postgres).await,
    );

    // The comparison is only worth something if it saw the whole schema.
    assert_eq!(a.columns.len(), 27, "sqlite tables: {:?}", a.columns.keys());
    assert!(
        a.columns["leads"]
            .iter()
            .any(|c| c == "email text not-null "),
        "{:?}",
        a.columns["leads"]
    );
    assert!(
        a.indexes
            .iter()
            .any(|i| i == "enrollments_due: enrollments(next_due_at) where active"),
        "{:#?}",
        a.indexes
    );
    assert!(
        a.indexes.iter().any(|i| i == "leads(email) unique"),
        "{:#?}",
        a.indexes
    );
    assert!(
        a.foreign_keys
            .iter()
            .any(|f| f == "events.lead_id -> leads.id on delete SET NULL"),
        "{:#?}",
        a.foreign_keys
    );

    for (table, cols) in &a.columns {
        assert_eq!(
            Some(cols),
            b.columns.get(table),
            "columns of {table}: sqlite (left) vs postgres (right)"
        );
    }
    assert_eq!(
        a.columns.keys().collect::<Vec<_>>(),
        b.columns.keys().collect::<Vec<_>>(),
        "tables: sqlite (left) vs postgres (right)"
    );
    assert_eq!(
        a.indexes, b.indexes,
        "indexes: sqlite (left) vs postgres (right)"
    );
    assert_eq!(
        a.foreign_keys, b.foreign_keys,
        "foreign keys: sqlite (left) vs postgres (right)"
    );
    sqlite.close().await;
    postgres.close().await;
}

/// A daemon and a CLI command started together on a new install both migrate.
#[tokio::test]
async fn several_stores_opening_a_fresh_database_at_once_all_succeed() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut urls = vec![("sqlite", crate::support::sqlite_url(dir.path()))];
    if let Some(server) = pg_server("several_stores_opening_a_fresh_database_at_once_all_succeed") {
        urls.push(("postgres", crate::support::fresh_pg_database(&server).await));
    }
    for (engine, url) in urls {
        let opens = (0..4).map(|_| {
            let url = url.clone();
            tokio::spawn(async move { Store::open(&url).await.map(|s| s.backend()) })
        });
        for o in opens.collect::<Vec<_>>() {
            o.await
                .expect("join")
                .unwrap_or_else(|e| panic!("{engine}: concurrent open: {e}"));
        }
        let store = Store::open(&url).await.expect("open");
        assert_eq!(store.count_leads().await.expect("count"), 0, "{engine}");
        store.close().await;
    }
}

//! Helpers shared by the end-to-end tests.

#![allow(dead_code)]

pub mod claims;
pub mod crm;
pub mod daemon;
pub mod dns;
pub mod http;
pub mod imap;
pub mod oauth;
pub mod preview;
pub mod providers;
pub mod receiver;
pub mod sink;

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use tempfile::TempDir;

/// The repository root (where the shipped config.toml, sequences/ and templates/ are).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A temporary copy of the shipped project: config.toml, sequences/, templates/,
/// sample-leads.csv. Its store is a fresh SQLite file in its data/.
pub struct Project {
    pub dir: TempDir,
    /// The test's clock (see [`Project::set_clock`]).
    clock: std::sync::Mutex<Option<String>>,
}

impl Project {
    /// Copies the shipped files into a new temporary folder.
    pub fn shipped() -> Project {
        let dir = tempfile::tempdir().expect("a temp dir");
        for f in ["config.toml", "sample-leads.csv"] {
            std::fs::copy(repo().join(f), dir.path().join(f)).expect("copy shipped file");
        }
        for d in ["sequences", "templates"] {
            copy_dir(&repo().join(d), &dir.path().join(d));
        }
        // Daemons of tests running side by side each listen on a port of their own.
        let config = dir.path().join("config.toml");
        let text = std::fs::read_to_string(&config).expect("read config.toml");
        std::fs::write(
            &config,
            text.replace("listen = \"127.0.0.1:8025\"", "listen = \"127.0.0.1:0\""),
        )
        .expect("write config.toml");
        Project {
            dir,
            clock: std::sync::Mutex::new(None),
        }
    }

    /// Puts the project on a simulated timeline: from now on every command runs at `now`
    /// (RFC 3339, through `DRUMBEAT_NOW`) and a daemon started with [`Project::spawn`] starts
    /// its clock there. A test that fixes any instant fixes them all, so that nothing it does
    /// depends on the day it runs (`scripts/test` runs the suite a second time with the
    /// machine's clock a year ahead to prove it).
    pub fn set_clock(&self, now: &str) {
        *self
            .clock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(now.to_string());
    }

    /// The test's clock, when it has one.
    pub fn clock(&self) -> Option<String> {
        self.clock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Gives the daemon's HTTP side a free loopback port of its own (listen and base_url);
    /// returns the base URL (the same one on later calls).
    pub fn http_base(&self) -> String {
        let current = std::fs::read_to_string(self.file("config.toml")).expect("read config.toml");
        if !current.contains("listen = \"127.0.0.1:0\"")
            && let Some(base) = current
                .lines()
                .find_map(|l| l.strip_prefix("base_url = \""))
                .and_then(|l| l.strip_suffix('"'))
        {
            // Given a port already.
            return base.to_string();
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let text = std::fs::read_to_string(self.file("config.toml")).expect("read config.toml");
        let base = format!("http://127.0.0.1:{port}");
        let text = text
            .replace(
                "listen = \"127.0.0.1:0\"",
                &format!("listen = \"127.0.0.1:{port}\""),
            )
            .replace(
                "base_url = \"http://127.0.0.1:8025\"",
                &format!("base_url = \"{base}\""),
            );
        std::fs::write(self.file("config.toml"), text).expect("write config.toml");
        base
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A file inside it.
    pub fn file(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Writes a file inside it (creating folders).
    pub fn write(&self, rel: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let p = self.file(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("create dir");
        }
        std::fs::write(&p, content).expect("write file");
        p
    }

    /// `drumbeat ARGS…` run inside the project folder with its config.toml.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::cargo_bin("drumbeat").expect("the drumbeat binary");
        c.current_dir(self.path())
            .env_remove("DRUMBEAT_CONFIG")
            .env_remove("RUST_LOG")
            .env_remove("DRUMBEAT_NOW")
            .args(args);
        if let Some(now) = self.clock() {
            c.env("DRUMBEAT_NOW", now);
        }
        c
    }

    /// `drumbeat ARGS…` as a plain std Command, for a process the test spawns and signals
    /// (the long-running daemon).
    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("drumbeat"));
        c.current_dir(self.path())
            .env_remove("DRUMBEAT_CONFIG")
            .env_remove("RUST_LOG")
            .env_remove("DRUMBEAT_NOW")
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        if let Some(now) = self.clock() {
            c.env("DRUMBEAT_NOW", now);
        }
        c.spawn().expect("start drumbeat")
    }

    /// A listing of every file under the project (path and content), to prove a failed
    /// command changed nothing.
    pub fn snapshot(&self) -> Vec<(PathBuf, Vec<u8>)> {
        let mut out = Vec::new();
        snapshot_dir(self.path(), self.path(), &mut out);
        out.sort();
        out
    }
}

fn snapshot_dir(root: &Path, dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
    for e in std::fs::read_dir(dir).expect("read dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            snapshot_dir(root, &p, out);
        } else {
            let rel = p.strip_prefix(root).expect("under root").to_path_buf();
            out.push((rel, std::fs::read(&p).expect("read file")));
        }
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for e in std::fs::read_dir(from).expect("read dir").flatten() {
        let p = e.path();
        let target = to.join(e.file_name());
        if p.is_dir() {
            copy_dir(&p, &target);
        } else {
            std::fs::copy(&p, &target).expect("copy file");
        }
    }
}

/// The PostgreSQL server for tests (`DRUMBEAT_TEST_PG`, a URL whose user may create
/// databases). Without it: a loud skip outside CI, a failure under CI=true.
pub fn pg_server(test: &str) -> Option<String> {
    match std::env::var("DRUMBEAT_TEST_PG") {
        Ok(url) if !url.is_empty() => {
            assert!(
                url.contains("@127.0.0.1") || url.contains("@localhost") || url.contains("@[::1]"),
                "DRUMBEAT_TEST_PG must point at loopback, got {url}"
            );
            Some(url)
        }
        _ => {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!(
                    "{test}: DRUMBEAT_TEST_PG is not set under CI; scripts/testbed must start PostgreSQL"
                );
            }
            eprintln!(
                "\n*** SKIPPED {test}: no PostgreSQL (set DRUMBEAT_TEST_PG, or run scripts/test which starts one) ***\n"
            );
            None
        }
    }
}

/// A fresh, empty PostgreSQL database on the test server; returns its URL.
pub async fn fresh_pg_database(server: &str) -> String {
    use sqlx::Executor;
    sqlx::any::install_default_drivers();
    // The process, a counter and the clock: unique within a run and across runs on one
    // server, whatever the clock's resolution (the suite also runs under libfaketime).
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let name = format!(
        "drumbeat_t_{}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock after 1970")
            .as_nanos()
    );
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(server)
        .await
        .expect("connect to DRUMBEAT_TEST_PG");
    conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await
        .expect("create test database");
    let base = server.rsplit_once('/').map_or(server, |(b, _)| b);
    format!("{base}/{name}")
}

/// A fresh SQLite store URL in `dir`.
pub fn sqlite_url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("drumbeat.db").display())
}

// ============================================================================================
// CLI helpers (used by tests/e2e/cli_*.rs): run the binary and read what it said, edit the
// shipped files, and fingerprints of the project and the store that prove a failed command
// changed nothing.
// ============================================================================================

/// What one run of the binary did.
#[derive(Debug)]
pub struct Run {
    /// The exit code (-1 when killed by a signal).
    pub code: i32,
    /// Everything printed on stdout.
    pub stdout: String,
    /// Everything printed on stderr.
    pub stderr: String,
}

impl Run {
    /// What a finished process said.
    pub fn from_output(out: std::process::Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Stdout parsed as JSON (panics with the output when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    /// Asserts the exit code, showing both streams when it differs.
    #[track_caller]
    pub fn code(&self, expected: i32) -> &Run {
        assert_eq!(
            self.code, expected,
            "exit code {} (expected {expected})\nstdout:\n{}\nstderr:\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }

    /// Stdout's lines.
    pub fn out_lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }

    /// Stderr's lines.
    pub fn err_lines(&self) -> Vec<&str> {
        self.stderr.lines().collect()
    }
}

impl Project {
    /// Runs `drumbeat ARGS…` to completion with an empty, non-terminal stdin.
    pub fn run(&self, args: &[&str]) -> Run {
        Run::from_output(self.cmd(args).output().expect("run drumbeat"))
    }

    /// Runs a command that must succeed (exit 0).
    #[track_caller]
    pub fn ok(&self, args: &[&str]) -> Run {
        let run = self.run(args);
        run.code(0);
        run
    }

    /// Runs a command that must do its work but report problems (exit 1), such as an import
    /// that skipped bad rows.
    #[track_caller]
    pub fn problems(&self, args: &[&str]) -> Run {
        let run = self.run(args);
        run.code(1);
        run
    }

    /// Replaces the one occurrence of `from` in the file `rel` by `to` (panics when `from`
    /// is not there exactly once, so a test never edits something other than it thinks).
    #[track_caller]
    pub fn edit(&self, rel: &str, from: &str, to: &str) {
        let path = self.file(rel);
        let text = std::fs::read_to_string(&path).expect("read file to edit");
        assert_eq!(
            text.matches(from).count(),
            1,
            "{from:?} must occur once in {rel}"
        );
        std::fs::write(&path, text.replacen(from, to, 1)).expect("write edited file");
    }

    /// Every file with its content, after folding SQLite's write-ahead log into each store
    /// file (see [`settle_sqlite`]); SQLite's shared-memory index (`*-shm`), which readers
    /// rewrite and which holds no data, is left out.
    pub fn files(&self) -> Vec<(PathBuf, Vec<u8>)> {
        let mut all = self.snapshot();
        for (p, _) in &all {
            if p.extension().is_some_and(|e| e == "db") {
                settle_sqlite(&self.path().join(p));
            }
        }
        all = self.snapshot();
        all.retain(|(p, _)| !p.to_string_lossy().ends_with("-shm"));
        all
    }

    /// What the store says: `status --json` (without the values that follow the clock:
    /// `generated_at` and `due_now`, and without `daemons` and `inbox`, whose heartbeats and
    /// watcher states a running daemon renews on its own), `suppressions --json`, and
    /// `leads show --json` of each address (or its error message).
    pub fn store_state(&self, emails: &[&str]) -> String {
        let mut status = self.ok(&["status", "--json", "--limit", "1000"]).json();
        let obj = status.as_object_mut().expect("status is an object");
        obj.remove("generated_at");
        obj.remove("due_now");
        obj.remove("daemons");
        obj.remove("inbox");
        let mut out = format!(
            "{status:#}\n{}\n",
            self.ok(&["suppressions", "--json"]).stdout
        );
        for e in emails {
            let r = self.run(&["leads", "show", e, "--json"]);
            out.push_str(&format!("{e}: {} {}{}\n", r.code, r.stdout, r.stderr));
        }
        out
    }

    /// Imports the shipped sample-leads.csv with extra flags; it must succeed.
    #[track_caller]
    pub fn import_sample(&self, extra: &[&str]) -> Run {
        let mut args = vec!["leads", "import", "sample-leads.csv"];
        args.extend_from_slice(extra);
        self.ok(&args)
    }
}

/// Checkpoints a SQLite file's write-ahead log into it and closes, so the file alone holds
/// the data. Whether a command's exit leaves the log behind depends on timing; after this,
/// two snapshots differ only when the data did.
pub fn settle_sqlite(db: &Path) {
    use sqlx::{Connection, Executor};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let url = format!("sqlite://{}", db.display());
        let mut conn = sqlx::sqlite::SqliteConnection::connect(&url)
            .await
            .expect("open the store file");
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            .await
            .expect("checkpoint the store");
        conn.close().await.expect("close the store");
    });
}

/// The five leads of the shipped sample-leads.csv, in file order.
pub const SAMPLE_LEADS: [&str; 5] = [
    "maria.garcia@northwind.example",
    "tom.becker@contoso.example",
    "li.wei@fabrikam.example",
    "sam.o'brien@tailspin.example",
    "priya.n@gmail.com",
];

// =============================================================================================
// Store helpers (tests/e2e/store*.rs): run one behaviour against a fresh SQLite file and a
// fresh PostgreSQL database.
// =============================================================================================

use drumbeat::lead::{Email, LeadRecord};
use drumbeat::store::{Backend, Store};

/// A fixed "now" for store tests (2025-10-09T08:53:20Z, a Thursday), in unix seconds.
pub const NOW: i64 = 1_760_000_000;

/// A freshly migrated store of one engine, with a raw connection pool for checks the store's
/// API does not offer (row counts, inserting touches and tasks). Derefs to the [`Store`].
pub struct StoreCase {
    /// The store under test.
    pub store: Store,
    /// Its URL (to open it again).
    pub url: String,
    /// `sqlite` or `postgres`, for messages.
    pub engine: &'static str,
    raw: sqlx::AnyPool,
    _dir: Option<TempDir>,
}

impl std::ops::Deref for StoreCase {
    type Target = Store;
    fn deref(&self) -> &Store {
        &self.store
    }
}

impl StoreCase {
    /// The first column of the first row of `sql`, as an integer (`COUNT(*)` and the like).
    pub async fn int(&self, sql: &str) -> i64 {
        use sqlx::Row;
        let row = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
            .fetch_one(&self.raw)
            .await
            .unwrap_or_else(|e| panic!("{}: {sql}: {e}", self.engine));
        row.try_get::<i64, _>(0)
            .unwrap_or_else(|e| panic!("{}: {sql}: {e}", self.engine))
    }

    /// Every row of `sql`, each column read as optional text (integers become text).
    pub async fn rows(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        use sqlx::Row;
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
            .fetch_all(&self.raw)
            .await
            .unwrap_or_else(|e| panic!("{}: {sql}: {e}", self.engine));
        rows.iter()
            .map(|r| {
                (0..r.columns().len())
                    .map(|i| {
                        r.try_get::<Option<String>, _>(i)
                            .or_else(|_| {
                                r.try_get::<Option<i64>, _>(i)
                                    .map(|v| v.map(|n| n.to_string()))
                            })
                            .or_else(|_| {
                                r.try_get::<Option<bool>, _>(i)
                                    .map(|v| v.map(|b| b.to_string()))
                            })
                            .unwrap_or_else(|e| panic!("{}: {sql}: column {i}: {e}", self.engine))
                    })
                    .collect()
            })
            .collect()
    }

    /// Runs a statement (for fixtures the store has no function for yet); returns rows affected.
    pub async fn exec(&self, sql: &str) -> u64 {
        sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
            .execute(&self.raw)
            .await
            .unwrap_or_else(|e| panic!("{}: {sql}: {e}", self.engine))
            .rows_affected()
    }

    /// Closes the store and the raw pool.
    pub async fn close(&self) {
        self.store.close().await;
        self.raw.close().await;
    }
}

/// Opens a fresh SQLite store in a new temporary folder.
pub async fn fresh_sqlite_store() -> StoreCase {
    let dir = tempfile::tempdir().expect("a temp dir");
    let url = sqlite_url(dir.path());
    store_case(url, "sqlite", Some(dir)).await
}

/// Opens a fresh store in a new database on the PostgreSQL test server.
pub async fn fresh_pg_store(server: &str) -> StoreCase {
    let url = fresh_pg_database(server).await;
    store_case(url, "postgres", None).await
}

async fn store_case(url: String, engine: &'static str, dir: Option<TempDir>) -> StoreCase {
    let store = Store::open(&url)
        .await
        .unwrap_or_else(|e| panic!("{engine}: open a fresh store: {e}"));
    assert_eq!(
        store.backend(),
        if engine == "sqlite" {
            Backend::Sqlite
        } else {
            Backend::Postgres
        }
    );
    let raw = sqlx::any::AnyPoolOptions::new()
        .max_connections(2)
        .connect(&url)
        .await
        .unwrap_or_else(|e| panic!("{engine}: raw connection to {url}: {e}"));
    StoreCase {
        store,
        url,
        engine,
        raw,
        _dir: dir,
    }
}

/// Runs `body` against a fresh SQLite store, then against a fresh PostgreSQL database (skipped
/// loudly without DRUMBEAT_TEST_PG outside CI, see [`pg_server`]). A failure names the engine.
pub async fn for_each_store<F, Fut>(test: &str, body: F)
where
    F: Fn(StoreCase) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    eprintln!("{test}: on sqlite");
    body(fresh_sqlite_store().await).await;
    if let Some(server) = pg_server(test) {
        eprintln!("{test}: on postgres");
        body(fresh_pg_store(&server).await).await;
    }
}

/// A parsed address; panics on a typo in a test.
pub fn email(s: &str) -> Email {
    Email::parse(s).unwrap_or_else(|e| panic!("test address {s:?}: {e}"))
}

/// A lead with only an address.
pub fn lead(address: &str) -> LeadRecord {
    LeadRecord {
        email: email(address),
        first_name: None,
        last_name: None,
        company: None,
        title: None,
        timezone: None,
        phone: None,
        owner: None,
        custom: Default::default(),
    }
}

/// A lead with an address, first name and company.
pub fn named_lead(address: &str, first: &str, company: &str) -> LeadRecord {
    LeadRecord {
        first_name: Some(first.to_string()),
        company: Some(company.to_string()),
        ..lead(address)
    }
}

/// Waits for `cond` to hold, checking every 50 ms; fails the test after `within`.
pub fn wait_until(what: &str, within: std::time::Duration, mut cond: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + within;
    while !cond() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out after {within:?} waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// [`wait_until`] for a condition that has to be awaited (a query on the store): checks every
/// 20 ms, fails the test after `within`.
pub async fn wait_until_async<F, Fut>(what: &str, within: std::time::Duration, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + within;
    while !cond().await {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out after {within:?} waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

//! Helpers shared by the end-to-end tests.

#![allow(dead_code)]

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
        Project { dir }
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
            .args(args);
        c
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
    let name = format!(
        "drumbeat_t_{}_{}",
        std::process::id(),
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

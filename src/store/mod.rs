//! The store: the single source of truth (SQLite by default, PostgreSQL for teams). All SQL of
//! drumbeat lives in this module, grouped by entity; the rest of the code calls typed functions.
//!
//! One code path serves both engines through sqlx's `Any` driver: statements use `$N` binds and
//! SQL that both engines run; instants are UTC unix seconds. The two migration folders
//! (`migrations/sqlite`, `migrations/postgres`) hold the same schema spelled per engine, and the
//! store's tests run against both.
//!
//! The fixed SQL of `store/X.rs` is in `store/sql/X/NAME.sql`, one commented statement per file
//! (what it does, then what each `$N` is), loaded with `include_str!`. Where the engines
//! disagree, both forms sit side by side as `NAME.sqlite.sql` and `NAME.postgres.sql`
//! (`statements::PerEngine`); a statement only SQLite runs (a pragma) is `NAME.sqlite.sql`
//! alone. Statements whose number of values is known only at run time (bulk inserts, `IN`
//! lists) are built with `statements::Stmt`, the one place that spells their placeholders
//! per engine; their fixed text comes from `sql/` too where it can. State names stay literal
//! in SQL (partial indexes need them); `state_names` checks that each is one the code knows.

mod admission;
mod claims;
mod crm;
mod daemons;
mod digest;
mod drafts;
mod due;
mod effects;
mod enrollments;
mod events;
mod health;
mod holders;
mod holds;
mod inbox;
mod inbox_reads;
mod leads;
mod leases;
mod metrics;
mod notifications;
mod outcomes;
mod pacing;
mod provider_events;
mod referrals;
mod report;
mod routing;
mod sent;
mod sent_copies;
mod settings;
mod skips;
#[cfg(test)]
mod state_names;
mod statements;
mod status;
mod suppressions;
mod tasks;
mod touches;
mod tracking;
mod webhooks;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::ConnectOptions;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Executor};

pub use crate::domain::{EventKind, Next, PastTouch, ProviderKind};
pub use crate::policy::{EnrollRules, Refusal};
pub use admission::Admission;
pub use crm::{CrmAttempt, CrmJob, CrmQueue, CrmRecord, NewCrmJob};
pub use daemons::DaemonRow;
pub use digest::{DueStep, EventCount, WaitingReply};
pub use drafts::{DraftChange, DraftChore, DraftRow, NewDraft};
pub use due::{DueScope, Leased};
pub use enrollments::{
    EnrollOutcome, EnrollRequest, EnrollmentId, EnrollmentRow, MeetingBooked, StateChange, TouchRow,
};
pub use events::{EventRow, NewEvent};
pub use health::{HealthNotice, MailboxPause};
pub use holders::{HOLDER_GRACE, HOLDER_LEASE, Held, MailboxHolder};
pub use holds::{HeldStep, Hold, HoldScope};
pub use inbox::{FolderState, InboundFact, InboundOutcome, InboundRow};
pub use inbox_reads::InboxHeld;
pub use leads::{EnrollInto, LeadId, LeadView, StoredLead, UpsertAndEnroll, UpsertOutcome};
pub use leases::{LEASE_RENEW_SECONDS, LEASE_SECONDS, Recovered};
pub use metrics::{COUNTED_EVENTS, MetricsSnapshot};
pub use notifications::{Notification, NotificationProblem, NotifyOutcome, ReplyNotice};
pub use pacing::RecentSends;
pub use provider_events::{ProviderEvent, ProviderOutcome};
pub use referrals::{REFERRAL_SOURCE, REFERRED_BY};
pub use report::{ActivityCounts, CohortCounts, Grouping, POSITIVE_OUTCOMES, QuarterHour};
pub use sent::SentRecord;
pub use sent_copies::{SentCopy, SentCopyCounts};
pub use status::{AttentionItem, MailboxSends, SequenceCounts, StatusSnapshot, UpcomingSend};
pub use suppressions::{SuppressionRow, forgotten_value};
pub use tasks::{TaskFilter, TaskFinish, TaskRow};
pub use touches::{Claim, ClaimKind, Claimed, TouchInfo};
pub use tracking::{Hit, HitWriter};
pub use webhooks::{Attempt, Delivery, EndpointQueue, FeedEvent, NewDelivery};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// Which engine a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite file (WAL mode).
    Sqlite,
    /// PostgreSQL server.
    Postgres,
}

/// A failed store operation.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Could not open or migrate the store.
    #[error("cannot open the store {url}: {source}")]
    Open {
        /// The URL with any password removed.
        url: String,
        /// The cause.
        source: sqlx::Error,
    },
    /// Schema migration failed.
    #[error("cannot migrate the store {url}: {source}")]
    Migrate {
        /// The URL with any password removed.
        url: String,
        /// The cause.
        source: sqlx::migrate::MigrateError,
    },
    /// The store was migrated by a newer drumbeat than this one (a rolling upgrade half done,
    /// or a rollback): this binary refuses it rather than run on a schema it does not know.
    #[error(
        "the store {url} was upgraded by a newer drumbeat (its migration {version} is unknown to this one): run the newer version here too (see docs/operations.md, \"Upgrading\")"
    )]
    Newer {
        /// The URL with any password removed.
        url: String,
        /// The first migration this binary does not know.
        version: i64,
    },
    /// A query failed.
    #[error("store: {0}")]
    Query(#[from] sqlx::Error),
    /// Data in the store does not parse (a bug or a hand edit).
    #[error("store holds bad data: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// Whether trying the same transaction again may succeed: SQLite was busy past its
    /// busy_timeout, or PostgreSQL aborted it for a deadlock or a serialization failure.
    pub fn is_transient(&self) -> bool {
        let StoreError::Query(sqlx::Error::Database(e)) = self else {
            return false;
        };
        matches!(
            e.code().as_deref(),
            Some("40001" | "40P01" | "5" | "6" | "517" | "261" | "262")
        ) || e.message().contains("database is locked")
    }
}

/// Handle to the store; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

/// Connections a daemon or command opens to PostgreSQL at most, unless config.toml's
/// `store_connections` says otherwise.
pub const DEFAULT_CONNECTIONS: u32 = 8;

/// The most writing transactions the sending daemon runs at once ([`Store::writers`]).
pub const MAX_WRITERS: usize = 4;

impl Store {
    /// Opens the store at `url` (creating a SQLite file and its folder when missing) and applies
    /// pending migrations.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        Self::open_with(url, None).await
    }

    /// Opens the store with a pool of at most `connections` (default: [`DEFAULT_CONNECTIONS`]
    /// on PostgreSQL, 4 on SQLite, whose writes take turns anyway).
    pub async fn open_with(url: &str, connections: Option<u32>) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let shown = redact_url(url);
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            Backend::Postgres
        };
        let url = match backend {
            Backend::Sqlite => sqlite_url(url).map_err(|e| StoreError::Open {
                url: shown.clone(),
                source: sqlx::Error::Io(e),
            })?,
            Backend::Postgres => url.to_string(),
        };
        let pool = connect(&url, backend, connections)
            .await
            .map_err(|source| StoreError::Open {
                url: shown.clone(),
                source,
            })?;
        migrate(&pool, backend)
            .await
            .map_err(|source| match source {
                sqlx::migrate::MigrateError::VersionMissing(v) => StoreError::Newer {
                    url: shown,
                    version: v,
                },
                source => StoreError::Migrate { url: shown, source },
            })?;
        Ok(Store { pool, backend })
    }

    /// The engine.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// How many writing transactions the sending daemon runs at once (see
    /// `Daemon::send_claimed`): one on SQLite, whose one writer would make the others wait; on
    /// PostgreSQL one per four connections of the pool, at most [`MAX_WRITERS`], so inbox
    /// watchers and HTTP requests keep connections of their own.
    pub fn writers(&self) -> usize {
        match self.backend {
            Backend::Sqlite => 1,
            Backend::Postgres => {
                (self.pool.options().get_max_connections() as usize / 4).clamp(1, MAX_WRITERS)
            }
        }
    }

    /// A transaction that is going to write. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`): a transaction that reads first and writes later would fail with
    /// SQLITE_BUSY, without waiting, when another connection wrote in between; this one waits
    /// for the lock (busy_timeout) instead. PostgreSQL takes row locks as it goes.
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// Closes the pool, waiting for connections to finish.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// A SQLite URL ready to open: its file's folder exists, and the file is created when missing
/// (`mode=rwc`, unless the URL names a mode).
fn sqlite_url(url: &str) -> std::io::Result<String> {
    let mut url = url.to_string();
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or_default();
    if path != ":memory:"
        && let Some(dir) = Path::new(path).parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)?;
    }
    if !url.contains("mode=") {
        url.push_str(if url.contains('?') {
            "&mode=rwc"
        } else {
            "?mode=rwc"
        });
    }
    Ok(url)
}

/// The pool of connections to `url`, each set up for `backend` as it opens.
async fn connect(
    url: &str,
    backend: Backend,
    connections: Option<u32>,
) -> Result<AnyPool, sqlx::Error> {
    let options = AnyConnectOptions::from_str(url)?
        // A statement over a second is news (`-v`), not a warning: reports over a big
        // store take that long by design, and sqlx would print the whole SQL at each.
        .log_slow_statements(log::LevelFilter::Info, Duration::from_secs(1));
    AnyPoolOptions::new()
        .max_connections(connections.unwrap_or(match backend {
            Backend::Sqlite => 4,
            Backend::Postgres => DEFAULT_CONNECTIONS,
        }))
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(move |conn, _| {
            Box::pin(async move {
                if backend == Backend::Sqlite {
                    conn.execute(include_str!("sql/store/connect.sqlite.sql"))
                        .await?;
                }
                Ok(())
            })
        })
        .connect_with(options)
        .await
}

/// Applies the pending migrations of `backend`'s folder.
async fn migrate(pool: &AnyPool, backend: Backend) -> Result<(), sqlx::migrate::MigrateError> {
    let migrator = match backend {
        Backend::Sqlite => &SQLITE_MIGRATIONS,
        Backend::Postgres => &POSTGRES_MIGRATIONS,
    };
    // sqlx takes no lock to migrate SQLite, so processes opening a new file at once all try
    // to apply its migrations; a loser fails ("table … already exists") once the winner has
    // committed one, and trying again finds it applied. Every failed try means another
    // process applied a migration, so as many tries as there are migrations suffice.
    let mut retries = match backend {
        Backend::Sqlite => migrator.iter().count(),
        Backend::Postgres => 0,
    };
    loop {
        match migrator.run(pool).await {
            Ok(()) => return Ok(()),
            Err(_) if retries > 0 => retries -= 1,
            Err(e) => return Err(e),
        }
    }
}

/// Marks a statement assembled in this module as safe to run. Only constants and the
/// placeholders of [`statements::Stmt`] or [`in_list`] are ever put into such a string; every
/// value goes in as a bind.
fn built(sql: String) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(sql)
}

/// Whether `text` survives a JSON bind and SQLite's JSON functions unchanged: integers and
/// text round-trip exactly through JSON, except text holding NUL (JSON's `\u0000`).
fn json_safe(text: &str) -> bool {
    !text.contains('\0')
}

/// Placeholders for an `IN (…)` list of `n` values, numbered from the statement's first bind,
/// for the statements not built with [`statements::Stmt`] (whose [`statements::Stmt::list`]
/// is the form new code uses).
fn in_list(backend: Backend, n: usize) -> String {
    let mut s = String::with_capacity(n * 6);
    for i in 1..=n {
        if i > 1 {
            s.push_str(", ");
        }
        push_placeholder(&mut s, backend, i);
    }
    s
}

/// Bind parameter `n` (1-based) as each engine spells it.
///
/// SQLite gets anonymous `?` because sqlx binds a `$N` parameter by asking SQLite for its name,
/// a lookup that scans every parameter before it: binding a 7,000-value batch insert that way is
/// quadratic, and took 80% of an import's time. Anonymous parameters are bound by position.
fn push_placeholder(s: &mut String, backend: Backend, n: usize) {
    match backend {
        Backend::Sqlite => s.push('?'),
        Backend::Postgres => {
            s.push('$');
            s.push_str(&n.to_string());
        }
    }
}

/// The URL without its password, for messages.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.split_once('@') {
        Some((userinfo, host)) if userinfo.contains(':') => {
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}")
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted_from_urls() {
        assert_eq!(
            redact_url("postgres://app:hunter2@db:5432/x"),
            "postgres://app:***@db:5432/x"
        );
        assert_eq!(redact_url("sqlite:///tmp/a.db"), "sqlite:///tmp/a.db");
    }

    #[test]
    fn in_list_numbers_binds() {
        assert_eq!(in_list(Backend::Postgres, 3), "$1, $2, $3");
        assert_eq!(in_list(Backend::Sqlite, 3), "?, ?, ?");
    }
}

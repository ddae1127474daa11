//! Daemon instances: a heartbeat per running `drumbeat run`, so `status` can tell whether
//! anything is sending and whether the last catalog reload was refused.

use serde::Serialize;
use sqlx::Row;

use super::{Store, StoreError};

/// One daemon instance as `status` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct DaemonRow {
    /// Instance name.
    pub instance: String,
    /// Process id.
    pub pid: i64,
    /// When it started.
    pub started_at: i64,
    /// Its last heartbeat.
    pub seen_at: i64,
    /// When it stopped cleanly (None while running or after a crash).
    pub stopped_at: Option<i64>,
    /// The last refused catalog reload.
    pub catalog_error: Option<String>,
    /// `daemon` (`drumbeat run`) or `once` (`drumbeat run --once`).
    pub mode: String,
}

impl Store {
    /// Records that an instance started, as a daemon (`once` false) or a `run --once`. A
    /// once-run forgets the earlier once-runs that ended (or went silent): `status` shows the
    /// last one.
    pub async fn daemon_started(
        &self,
        instance: &str,
        pid: i64,
        now: i64,
        once: bool,
    ) -> Result<(), StoreError> {
        let mode = if once { "once" } else { "daemon" };
        if once {
            sqlx::query(
                "DELETE FROM daemons WHERE mode = 'once' AND instance <> $1 \
                 AND (stopped_at IS NOT NULL OR seen_at < $2)",
            )
            .bind(instance)
            .bind(now - 3600)
            .execute(&self.pool)
            .await?;
        }
        sqlx::query(
            "INSERT INTO daemons (instance, pid, started_at, seen_at, mode) VALUES ($1, $2, $3, $3, $4) \
             ON CONFLICT (instance) DO UPDATE SET pid = excluded.pid, started_at = excluded.started_at, \
             seen_at = excluded.seen_at, stopped_at = NULL, catalog_error = NULL, mode = excluded.mode",
        )
        .bind(instance)
        .bind(pid)
        .bind(now)
        .bind(mode)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Heartbeat, with the current catalog error (None when the catalog loaded).
    pub async fn daemon_seen(
        &self,
        instance: &str,
        catalog_error: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE daemons SET seen_at = $1, catalog_error = $2 WHERE instance = $3")
            .bind(now)
            .bind(catalog_error)
            .bind(instance)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records a clean stop.
    pub async fn daemon_stopped(&self, instance: &str, now: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE daemons SET stopped_at = $1, seen_at = $1 WHERE instance = $2")
            .bind(now)
            .bind(instance)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Every instance ever seen, most recent first.
    pub async fn daemons(&self) -> Result<Vec<DaemonRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT instance, pid, started_at, seen_at, stopped_at, catalog_error, mode FROM daemons ORDER BY seen_at DESC",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(DaemonRow {
                    instance: r.try_get("instance")?,
                    pid: r.try_get("pid")?,
                    started_at: r.try_get("started_at")?,
                    seen_at: r.try_get("seen_at")?,
                    stopped_at: r.try_get("stopped_at")?,
                    catalog_error: r.try_get("catalog_error")?,
                    mode: r.try_get("mode")?,
                })
            })
            .collect()
    }
}

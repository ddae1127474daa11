//! Leases and what happens when their holder dies. A daemon leases the due enrollments it
//! works on (see `due::lease_due`), renews its leases every [`LEASE_RENEW_SECONDS`] while
//! it lives, and every scheduler step takes over the work of daemons that stopped renewing:
//! the touches they left `sending` are settled, as at a daemon's own start.

use serde::Serialize;
use sqlx::Row;

use super::{Store, StoreError, built};

/// How long a lease lasts before another daemon may take the enrollment (or, for a touch left
/// `sending`, decide the holder died). The holder renews its leases every
/// [`LEASE_RENEW_SECONDS`] while it lives, so a send may take as long as it needs, and a dead
/// daemon's work moves within this time (plus a scheduler step).
pub const LEASE_SECONDS: i64 = 20;

/// How often a daemon renews the leases it holds.
pub const LEASE_RENEW_SECONDS: u64 = 5;

/// What a recovery did with touches left `sending` by a daemon that is gone.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Recovered {
    /// The server may have the message: `uncertain`, for the Sent folder or a person.
    pub uncertain: u64,
    /// Known unsent (no server was ready for the body): back in the queue, same Message-ID.
    pub requeued: u64,
}

impl Store {
    /// Extends every lease `instance` holds to `until` (the holder is alive and still on it).
    pub async fn renew_leases(&self, instance: &str, until: i64) -> Result<u64, StoreError> {
        Ok(sqlx::query(include_str!("sql/leases/renew.sql"))
            .bind(until)
            .bind(instance)
            .execute(&self.pool)
            .await?
            .rows_affected())
    }

    /// Marks the `sending` touches of `mailbox` that `instance` claimed without `handed_at` as
    /// possibly handed over, just before a body goes to a server after a time when none could
    /// (see [`Recovered`]). Returns the touches marked.
    pub async fn mark_handed(
        &self,
        instance: &str,
        mailbox: &str,
        now: i64,
    ) -> Result<Vec<i64>, StoreError> {
        let rows = sqlx::query(include_str!("sql/leases/mark_handed.sql"))
            .bind(now)
            .bind(mailbox)
            .bind(instance)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok(r.try_get::<i64, _>("id")?))
            .collect()
    }

    /// At start, and after a scheduler step that failed (nothing of its own is in flight at
    /// either time): the leases this instance held and those of daemons whose leases ran out
    /// are given up, and the touches they left `sending` are settled (see [`Recovered`]).
    pub async fn recover(&self, instance: &str, now: i64) -> Result<Recovered, StoreError> {
        self.recover_where(
            "(lease_owner IS NOT NULL AND (lease_owner = $1 OR lease_until < $2))",
            instance,
            now,
        )
        .await
    }

    /// While running: the work of other daemons that stopped renewing their leases (they
    /// died) is taken over: their touches left `sending` are settled and their enrollments
    /// can be leased again. Cheap when there is nothing to do (one indexed look).
    pub async fn recover_abandoned(
        &self,
        instance: &str,
        now: i64,
    ) -> Result<Recovered, StoreError> {
        let expired = sqlx::query(include_str!("sql/leases/any_expired.sql"))
            .bind(instance)
            .bind(now)
            .fetch_optional(&self.pool)
            .await?;
        if expired.is_none() {
            return Ok(Recovered::default());
        }
        self.recover_where(
            "(lease_owner IS NOT NULL AND lease_owner <> $1 AND lease_until < $2)",
            instance,
            now,
        )
        .await
    }

    /// Settles the `sending` touches of the enrollments that `held` selects (SQL over
    /// `enrollments`, with `$1` the instance and `$2` now) and frees those enrollments: a touch
    /// no server was ready for goes back to the queue at once, with its Message-ID and without
    /// counting the attempt that never happened; the rest become `uncertain`.
    async fn recover_where(
        &self,
        held: &str,
        instance: &str,
        now: i64,
    ) -> Result<Recovered, StoreError> {
        let mut tx = self.begin_write().await?;
        let run = |sql: String| sqlx::query(built(sql)).bind(instance).bind(now);
        run(format!(
            "UPDATE enrollments SET next_due_at = $2, updated_at = $2 WHERE {held} AND state = 'active' \
             AND EXISTS (SELECT 1 FROM touches t WHERE t.enrollment_id = enrollments.id \
               AND t.state = 'sending' AND t.handed_at IS NULL)"
        ))
        .execute(&mut *tx)
        .await?;
        let requeued = run(format!(
            "UPDATE touches SET state = 'scheduled', next_attempt_at = $2, \
             attempt = CASE WHEN attempt > 0 THEN attempt - 1 ELSE 0 END, \
             error = 'the daemon stopped before any server was ready for this message; it goes out again' \
             WHERE state = 'sending' AND handed_at IS NULL AND enrollment_id IN (SELECT id FROM enrollments WHERE {held})"
        ))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let uncertain = run(format!(
            "UPDATE touches SET state = 'uncertain', \
             error = 'the daemon stopped while handing this message to the server; it may or may not have been sent' \
             WHERE state = 'sending' AND enrollment_id IN (SELECT id FROM enrollments WHERE {held})"
        ))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        run(format!(
            "UPDATE enrollments SET lease_owner = NULL, lease_until = NULL WHERE {held}"
        ))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Recovered {
            uncertain,
            requeued,
        })
    }
}

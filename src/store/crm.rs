//! The native CRM sync's queue (`crm_jobs`) and the lead ↔ CRM record map (`crm_records`).
//! Like the outgoing webhooks' queue, the events table is the source: a feeder copies new
//! events into jobs (idempotent per CRM and event) and moves the CRM's read position
//! (`settings`: `crm.cursor.NAME`) in the same transaction. The worker takes the oldest
//! pending job of a CRM under a short lease and records what came of it with a guarded
//! update. What a CRM stage means for the lead is decided by `policy`, applied here.

use serde::Serialize;
use sqlx::Row;

use super::effects::{self, Subject};
use super::{LeadId, NewEvent, Store, StoreError, events};
use crate::policy::{self, Seen, Signal, StopRules};

/// A job to queue, as the feeder builds it.
#[derive(Debug, Clone)]
pub struct NewCrmJob {
    /// `hubspot` or `pipedrive`.
    pub crm: String,
    /// `email-out` (a sent email) or `email-in` (a reply).
    pub kind: String,
    /// The lead.
    pub lead_id: i64,
    /// `events.id`.
    pub event_id: i64,
    /// What to log (JSON).
    pub payload: String,
}

/// A pending job.
#[derive(Debug, Clone)]
pub struct CrmJob {
    /// Row id.
    pub id: i64,
    /// `email-out` or `email-in`.
    pub kind: String,
    /// The lead.
    pub lead_id: i64,
    /// `events.id`.
    pub event_id: i64,
    /// What to log (JSON).
    pub payload: String,
    /// Attempts made before this one.
    pub attempts: i64,
    /// When it may be tried.
    pub next_attempt_at: i64,
}

/// What one attempt of a job came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CrmAttempt {
    /// Logged; the CRM's id of what was made.
    Done(String),
    /// It failed; try again at `at`.
    Retry {
        /// What went wrong (never a token or a response body).
        error: String,
        /// When to try again.
        at: i64,
    },
    /// It failed for good (the CRM refused the request itself).
    Failed(String),
}

/// One CRM's queue, for `status`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CrmQueue {
    /// `hubspot` or `pipedrive`.
    pub crm: String,
    /// Jobs waiting (first try or retry).
    pub pending: i64,
    /// Pending jobs that failed at least once.
    pub retrying: i64,
    /// Jobs given up on.
    pub failed: i64,
    /// Jobs done.
    pub done: i64,
    /// When the oldest pending job was queued (unix seconds).
    pub oldest_pending_at: Option<i64>,
    /// The latest failed attempt's error, when the latest attempt failed.
    pub last_error: Option<String>,
}

/// A lead's CRM record whose stage is due a look.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrmRecord {
    /// The lead.
    pub lead_id: i64,
    /// The CRM's id of the contact or person.
    pub remote_id: String,
}

fn cursor_name(crm: &str) -> String {
    format!("crm.cursor.{crm}")
}

impl Store {
    /// The CRM's read position in `events`; a CRM seen for the first time starts at the newest
    /// event (it hears about what happens from now on, not the whole history).
    pub async fn crm_cursor(&self, crm: &str, now: i64) -> Result<i64, StoreError> {
        let newest: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM events")
            .fetch_one(&self.pool)
            .await?;
        let v = self
            .setting_or_insert(&cursor_name(crm), || newest.unwrap_or(0).to_string(), now)
            .await?;
        v.trim().parse().map_err(|_| {
            StoreError::Corrupt(format!("setting {} is not a number", cursor_name(crm)))
        })
    }

    /// Queues `jobs` (an existing one for the same CRM and event is kept as it is) and moves
    /// the CRM's read position to `upto`, in one transaction; returns the jobs added.
    pub async fn enqueue_crm_jobs(
        &self,
        crm: &str,
        jobs: &[NewCrmJob],
        upto: i64,
        now: i64,
    ) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        let mut added = 0;
        for j in jobs {
            added += sqlx::query(
                "INSERT INTO crm_jobs (crm, kind, lead_id, event_id, payload, state, attempts, next_attempt_at, created_at) \
                 VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $6) ON CONFLICT (crm, event_id) DO NOTHING",
            )
            .bind(&j.crm)
            .bind(&j.kind)
            .bind(j.lead_id)
            .bind(j.event_id)
            .bind(&j.payload)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        super::settings::put(&mut tx, &cursor_name(crm), &upto.to_string(), now).await?;
        tx.commit().await?;
        Ok(added)
    }

    /// The oldest pending jobs of `crm`, up to `limit`, in the order they were queued.
    pub async fn crm_pending(&self, crm: &str, limit: i64) -> Result<Vec<CrmJob>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, kind, lead_id, event_id, payload, attempts, next_attempt_at FROM crm_jobs \
             WHERE crm = $1 AND state = 'pending' ORDER BY id LIMIT $2",
        )
        .bind(crm)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(CrmJob {
                    id: r.try_get("id")?,
                    kind: r.try_get("kind")?,
                    lead_id: r.try_get("lead_id")?,
                    event_id: r.try_get("event_id")?,
                    payload: r.try_get("payload")?,
                    attempts: r.try_get("attempts")?,
                    next_attempt_at: r.try_get("next_attempt_at")?,
                })
            })
            .collect()
    }

    /// Leases a pending job to `instance` until `until`; false when another holds it.
    pub async fn lease_crm_job(
        &self,
        id: i64,
        instance: &str,
        now: i64,
        until: i64,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE crm_jobs SET lease_owner = $1, lease_until = $2 WHERE id = $3 AND state = 'pending' \
             AND (lease_until IS NULL OR lease_until < $4 OR lease_owner = $1)",
        )
        .bind(instance)
        .bind(until)
        .bind(id)
        .bind(now)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Records one attempt of a job `instance` holds; false when the lease was lost.
    pub async fn record_crm_attempt(
        &self,
        id: i64,
        instance: &str,
        attempt: &CrmAttempt,
        now: i64,
    ) -> Result<bool, StoreError> {
        let (state, error, next, remote, done) = match attempt {
            CrmAttempt::Done(remote) => ("done", None, now, Some(remote.as_str()), Some(now)),
            CrmAttempt::Retry { error, at } => ("pending", Some(error.as_str()), *at, None, None),
            CrmAttempt::Failed(error) => ("failed", Some(error.as_str()), now, None, None),
        };
        let n = sqlx::query(
            "UPDATE crm_jobs SET state = $1, attempts = attempts + 1, last_error = $2, next_attempt_at = $3, \
               remote_id = $4, done_at = $5, last_attempt_at = $6, lease_owner = NULL, lease_until = NULL \
             WHERE id = $7 AND state = 'pending' AND lease_owner = $8",
        )
        .bind(state)
        .bind(error)
        .bind(next)
        .bind(remote)
        .bind(done)
        .bind(now)
        .bind(id)
        .bind(instance)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// When the next pending job of any CRM may be tried.
    pub async fn next_crm_due(&self) -> Result<Option<i64>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT MIN(next_attempt_at) FROM crm_jobs WHERE state = 'pending'")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// The CRM's id of the lead's record, when it is known.
    pub async fn crm_record(&self, crm: &str, lead: i64) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT remote_id FROM crm_records WHERE crm = $1 AND lead_id = $2")
                .bind(crm)
                .bind(lead)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Remembers the CRM's id of the lead's record.
    pub async fn save_crm_record(
        &self,
        crm: &str,
        lead: i64,
        remote_id: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO crm_records (crm, lead_id, remote_id, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (crm, lead_id) DO UPDATE SET remote_id = excluded.remote_id",
        )
        .bind(crm)
        .bind(lead)
        .bind(remote_id)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Up to `limit` records of `crm` whose lead has an open enrollment and whose stage was not
    /// read since `before`, least recently read first.
    pub async fn crm_records_due(
        &self,
        crm: &str,
        before: i64,
        limit: i64,
    ) -> Result<Vec<CrmRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT r.lead_id, r.remote_id FROM crm_records r WHERE r.crm = $1 \
               AND (r.checked_at IS NULL OR r.checked_at <= $2) \
               AND EXISTS (SELECT 1 FROM enrollments e WHERE e.lead_id = r.lead_id AND e.state IN ('active', 'paused')) \
             ORDER BY COALESCE(r.checked_at, 0), r.lead_id LIMIT $3",
        )
        .bind(crm)
        .bind(before)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(CrmRecord {
                    lead_id: r.try_get("lead_id")?,
                    remote_id: r.try_get("remote_id")?,
                })
            })
            .collect()
    }

    /// Notes the stage read from the CRM for the lead's record.
    pub async fn crm_checked(
        &self,
        crm: &str,
        lead: i64,
        stage: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE crm_records SET stage = $1, checked_at = $2 WHERE crm = $3 AND lead_id = $4",
        )
        .bind(stage)
        .bind(now)
        .bind(crm)
        .bind(lead)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The CRM says the lead's deal moved on (`stage` is one config.toml names): what the
    /// policy decides is applied (every open enrollment stops with outcome `crm-stage`) and a
    /// `stopped` event carrying the CRM and the stage is recorded, in one transaction. Returns
    /// the enrollments stopped (0: none was open, nothing recorded).
    pub async fn record_crm_stage(
        &self,
        lead: LeadId,
        crm: &str,
        stage: &str,
        now: i64,
    ) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        let decision = policy::decide(
            Signal::CrmStage,
            StopRules::DEFAULT,
            Seen {
                lead: true,
                soft_bounces: 0,
            },
            now,
        );
        let subject = Subject {
            lead: Some(lead.0),
            enrollment: None,
            address: None,
            note: "crm stage",
        };
        let applied = effects::apply(&mut tx, decision.effect, subject, now).await?;
        let stopped = match applied {
            effects::Applied::Stopped { lead: n, .. } => n,
            _ => 0,
        };
        if stopped > 0
            && let Some(kind) = decision.event
        {
            let mut ev = NewEvent::about(kind, Some(lead));
            ev.data = serde_json::json!({ "outcome": "crm-stage", "crm": crm, "stage": stage });
            events::insert(&mut tx, &ev, now).await?;
        }
        tx.commit().await?;
        Ok(stopped)
    }

    /// Each CRM's queue, by name.
    pub async fn crm_queues(&self) -> Result<Vec<CrmQueue>, StoreError> {
        let rows = sqlx::query(
            "SELECT crm, \
               SUM(CASE WHEN state = 'pending' THEN 1 ELSE 0 END) AS pending, \
               SUM(CASE WHEN state = 'pending' AND attempts > 0 THEN 1 ELSE 0 END) AS retrying, \
               SUM(CASE WHEN state = 'failed' THEN 1 ELSE 0 END) AS failed, \
               SUM(CASE WHEN state = 'done' THEN 1 ELSE 0 END) AS done, \
               MIN(CASE WHEN state = 'pending' THEN created_at END) AS oldest \
             FROM crm_jobs GROUP BY crm ORDER BY crm",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let crm: String = r.try_get("crm")?;
            let last: Option<(Option<String>, String)> = sqlx::query_as(
                "SELECT last_error, state FROM crm_jobs WHERE crm = $1 AND last_attempt_at IS NOT NULL \
                 ORDER BY last_attempt_at DESC, id DESC LIMIT 1",
            )
            .bind(&crm)
            .fetch_optional(&self.pool)
            .await?;
            out.push(CrmQueue {
                crm,
                pending: r.try_get::<Option<i64>, _>("pending")?.unwrap_or(0),
                retrying: r.try_get::<Option<i64>, _>("retrying")?.unwrap_or(0),
                failed: r.try_get::<Option<i64>, _>("failed")?.unwrap_or(0),
                done: r.try_get::<Option<i64>, _>("done")?.unwrap_or(0),
                oldest_pending_at: r.try_get("oldest")?,
                last_error: last.and_then(|(e, state)| (state != "done").then_some(e).flatten()),
            });
        }
        Ok(out)
    }
}

//! The outgoing webhooks' queue (`webhook_deliveries`). The events table is the source; a
//! feeder copies new events into one delivery row per interested endpoint (idempotent per
//! endpoint and event, so several daemons feeding at once change nothing) and moves each
//! endpoint's read position (`settings`: `webhook.cursor.NAME`) in the same transaction. A
//! sender leases due rows (`FOR UPDATE SKIP LOCKED` on PostgreSQL), posts them, and records
//! the outcome with a guarded update: only the lease holder records.

use serde::Serialize;
use sqlx::Row;

use super::{Backend, Store, StoreError, built};

/// An event with what a webhook payload says about it, read after a cursor.
#[derive(Debug, Clone)]
pub struct FeedEvent {
    /// `events.id`.
    pub id: i64,
    /// When (unix seconds).
    pub at: i64,
    /// Kind as stored (`replied`, `meeting-booked`, …).
    pub kind: String,
    /// The lead, when any.
    pub lead_id: Option<i64>,
    /// Its address (none when the lead was forgotten).
    pub email: Option<String>,
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// Company.
    pub company: Option<String>,
    /// The enrollment.
    pub enrollment_id: Option<i64>,
    /// Sequence.
    pub sequence_id: Option<String>,
    /// Step.
    pub step_id: Option<String>,
    /// Mailbox.
    pub mailbox: Option<String>,
    /// The touch.
    pub touch_id: Option<i64>,
    /// The touch's Message-ID (`<…>`).
    pub message_id: Option<String>,
    /// The touch's subject.
    pub subject: Option<String>,
    /// The event's details (a JSON object).
    pub data: serde_json::Value,
}

/// A delivery to make, as the feeder builds it.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    /// Endpoint name.
    pub endpoint: String,
    /// `events.id`.
    pub event_id: i64,
    /// Event kind.
    pub kind: String,
    /// The body, exactly as it is signed and sent.
    pub payload: String,
}

/// A leased delivery, ready to post.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// Row id.
    pub id: i64,
    /// Endpoint name.
    pub endpoint: String,
    /// `events.id` (the `webhook-id` is made from it: the same on every attempt).
    pub event_id: i64,
    /// The body.
    pub payload: String,
    /// Attempts made before this one.
    pub attempts: i64,
}

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// The endpoint answered 2xx.
    Delivered {
        /// The status code.
        status: u16,
    },
    /// It failed; try again at `at`.
    Retry {
        /// The status code, when the endpoint answered.
        status: Option<u16>,
        /// What went wrong (never the response body, the URL or a secret).
        error: String,
        /// When to try again.
        at: i64,
    },
    /// It failed for good.
    Failed {
        /// The status code, when the endpoint answered.
        status: Option<u16>,
        /// What went wrong.
        error: String,
    },
}

/// One endpoint's queue, for `status`.
#[derive(Debug, Clone, Serialize)]
pub struct EndpointQueue {
    /// Endpoint name.
    pub endpoint: String,
    /// Deliveries waiting (first try or retry).
    pub pending: i64,
    /// Pending deliveries that failed at least once.
    pub retrying: i64,
    /// Deliveries given up on.
    pub failed: i64,
    /// Deliveries made.
    pub delivered: i64,
    /// The latest attempt's error, when the latest attempt failed.
    pub last_error: Option<String>,
    /// The latest attempt's status code, when it got one.
    pub last_status: Option<i64>,
    /// When the latest attempt was made.
    pub last_attempt_at: Option<i64>,
    /// When the latest delivery succeeded.
    pub last_delivered_at: Option<i64>,
}

/// The settings row that holds an endpoint's read position in `events`.
fn cursor_name(endpoint: &str) -> String {
    format!("webhook.cursor.{endpoint}")
}

impl Store {
    /// Each endpoint's read position; an endpoint seen for the first time starts at the newest
    /// event, so it hears about new events only, not the whole history.
    pub async fn webhook_cursors(
        &self,
        endpoints: &[&str],
        now: i64,
    ) -> Result<Vec<i64>, StoreError> {
        let newest: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM events")
            .fetch_one(&self.pool)
            .await?;
        let mut out = Vec::with_capacity(endpoints.len());
        for e in endpoints {
            let v = self
                .setting_or_insert(&cursor_name(e), || newest.unwrap_or(0).to_string(), now)
                .await?;
            out.push(v.trim().parse().map_err(|_| {
                StoreError::Corrupt(format!("setting {} is not a number", cursor_name(e)))
            })?);
        }
        Ok(out)
    }

    /// Up to `limit` events after `after`, oldest first, with their lead and touch.
    pub async fn events_after(&self, after: i64, limit: i64) -> Result<Vec<FeedEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT e.id, e.at, e.kind, e.lead_id, e.enrollment_id, e.touch_id, e.sequence_id, \
               e.step_id, e.mailbox, e.data, l.email, l.first_name, l.last_name, l.company, \
               t.message_id, t.subject \
             FROM events e LEFT JOIN leads l ON l.id = e.lead_id AND l.forgotten_at IS NULL LEFT JOIN touches t ON t.id = e.touch_id \
             WHERE e.id > $1 ORDER BY e.id LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let data: String = r.try_get("data")?;
                Ok(FeedEvent {
                    id: r.try_get("id")?,
                    at: r.try_get("at")?,
                    kind: r.try_get("kind")?,
                    lead_id: r.try_get("lead_id")?,
                    email: r.try_get("email")?,
                    first_name: r.try_get("first_name")?,
                    last_name: r.try_get("last_name")?,
                    company: r.try_get("company")?,
                    enrollment_id: r.try_get("enrollment_id")?,
                    sequence_id: r.try_get("sequence_id")?,
                    step_id: r.try_get("step_id")?,
                    mailbox: r.try_get("mailbox")?,
                    touch_id: r.try_get("touch_id")?,
                    message_id: r.try_get("message_id")?,
                    subject: r.try_get("subject")?,
                    data: serde_json::from_str(&data).unwrap_or(serde_json::Value::String(data)),
                })
            })
            .collect()
    }

    /// Queues `deliveries` (one per endpoint and event: an existing one is kept as it is) and
    /// moves the endpoints' read positions forward, in one transaction.
    pub async fn enqueue_webhooks(
        &self,
        deliveries: &[NewDelivery],
        cursors: &[(&str, i64)],
        now: i64,
    ) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        let mut added = 0;
        for d in deliveries {
            added += sqlx::query(
                "INSERT INTO webhook_deliveries (endpoint, event_id, kind, payload, state, attempts, next_attempt_at, created_at) \
                 VALUES ($1, $2, $3, $4, 'pending', 0, $5, $5) ON CONFLICT (endpoint, event_id) DO NOTHING",
            )
            .bind(&d.endpoint)
            .bind(d.event_id)
            .bind(&d.kind)
            .bind(&d.payload)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        for (endpoint, at) in cursors {
            super::settings::put(&mut tx, &cursor_name(endpoint), &at.to_string(), now).await?;
        }
        tx.commit().await?;
        Ok(added)
    }

    /// Leases up to `limit` due pending deliveries to `instance` until `now + lease`, soonest
    /// first. A lease that ran out (a crashed or stopped daemon) is taken over.
    pub async fn lease_webhook_deliveries(
        &self,
        instance: &str,
        now: i64,
        lease: i64,
        limit: i64,
    ) -> Result<Vec<Delivery>, StoreError> {
        let sql = lease_pending_sql(
            self.backend,
            "webhook_deliveries",
            "id, endpoint, event_id, payload, attempts",
        );
        let rows = sqlx::query(built(sql))
            .bind(instance)
            .bind(now + lease)
            .bind(now)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        let mut out = rows
            .iter()
            .map(|r| {
                Ok(Delivery {
                    id: r.try_get("id")?,
                    endpoint: r.try_get("endpoint")?,
                    event_id: r.try_get("event_id")?,
                    payload: r.try_get("payload")?,
                    attempts: r.try_get("attempts")?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        out.sort_by_key(|d| d.id);
        Ok(out)
    }

    /// Records one attempt of a delivery `instance` holds; false when the lease was lost (the
    /// attempt is then not counted: whoever holds it now records its own).
    pub async fn record_webhook_attempt(
        &self,
        id: i64,
        instance: &str,
        attempt: &Attempt,
        now: i64,
    ) -> Result<bool, StoreError> {
        let (state, status, error, next, delivered_at) = match attempt {
            Attempt::Delivered { status } => {
                ("delivered", Some(i64::from(*status)), None, now, Some(now))
            }
            Attempt::Retry { status, error, at } => (
                "pending",
                status.map(i64::from),
                Some(error.as_str()),
                *at,
                None,
            ),
            Attempt::Failed { status, error } => (
                "failed",
                status.map(i64::from),
                Some(error.as_str()),
                now,
                None,
            ),
        };
        let done = sqlx::query(
            "UPDATE webhook_deliveries SET state = $1, attempts = attempts + 1, last_status = $2, \
               last_error = $3, next_attempt_at = $4, delivered_at = $5, last_attempt_at = $6, \
               lease_owner = NULL, lease_until = NULL \
             WHERE id = $7 AND state = 'pending' AND lease_owner = $8",
        )
        .bind(state)
        .bind(status)
        .bind(error)
        .bind(next)
        .bind(delivered_at)
        .bind(now)
        .bind(id)
        .bind(instance)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(done == 1)
    }

    /// Gives back the leases `instance` holds without counting an attempt (a stop that
    /// abandoned in-flight posts): they are due again at once, with the same `webhook-id`.
    pub async fn release_webhook_leases(&self, instance: &str) -> Result<u64, StoreError> {
        Ok(sqlx::query(
            "UPDATE webhook_deliveries SET lease_owner = NULL, lease_until = NULL \
             WHERE state = 'pending' AND lease_owner = $1",
        )
        .bind(instance)
        .execute(&self.pool)
        .await?
        .rows_affected())
    }

    /// When the next pending delivery is due, if any.
    pub async fn next_webhook_due(&self) -> Result<Option<i64>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT MIN(next_attempt_at) FROM webhook_deliveries WHERE state = 'pending'",
        )
        .fetch_one(&self.pool)
        .await?)
    }

    /// Each endpoint's queue, by endpoint name.
    pub async fn webhook_queues(&self) -> Result<Vec<EndpointQueue>, StoreError> {
        let rows = sqlx::query(
            "SELECT endpoint, \
               SUM(CASE WHEN state = 'pending' THEN 1 ELSE 0 END) AS pending, \
               SUM(CASE WHEN state = 'pending' AND attempts > 0 THEN 1 ELSE 0 END) AS retrying, \
               SUM(CASE WHEN state = 'failed' THEN 1 ELSE 0 END) AS failed, \
               SUM(CASE WHEN state = 'delivered' THEN 1 ELSE 0 END) AS delivered, \
               MAX(last_attempt_at) AS last_attempt_at, MAX(delivered_at) AS last_delivered_at \
             FROM webhook_deliveries GROUP BY endpoint ORDER BY endpoint",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let endpoint: String = r.try_get("endpoint")?;
            let last: Option<(Option<String>, Option<i64>, String)> = sqlx::query_as(
                "SELECT last_error, last_status, state FROM webhook_deliveries \
                 WHERE endpoint = $1 AND last_attempt_at IS NOT NULL \
                 ORDER BY last_attempt_at DESC, id DESC LIMIT 1",
            )
            .bind(&endpoint)
            .fetch_optional(&self.pool)
            .await?;
            let (last_error, last_status) = match last {
                Some((error, status, state)) if state != "delivered" => (error, status),
                Some((_, status, _)) => (None, status),
                None => (None, None),
            };
            out.push(EndpointQueue {
                endpoint,
                pending: r.try_get::<Option<i64>, _>("pending")?.unwrap_or(0),
                retrying: r.try_get::<Option<i64>, _>("retrying")?.unwrap_or(0),
                failed: r.try_get::<Option<i64>, _>("failed")?.unwrap_or(0),
                delivered: r.try_get::<Option<i64>, _>("delivered")?.unwrap_or(0),
                last_error,
                last_status,
                last_attempt_at: r.try_get("last_attempt_at")?,
                last_delivered_at: r.try_get("last_delivered_at")?,
            });
        }
        Ok(out)
    }
}

/// The statement that leases due rows of an outbox table (`webhook_deliveries`,
/// `notifications`: `state`, `next_attempt_at`, `lease_owner`, `lease_until`) to `$1` until
/// `$2`, those due at `$3`, at most `$4`, soonest first, returning `returning`. A lease that
/// ran out (a crashed or stopped daemon) is taken over; on PostgreSQL, rows another daemon is
/// leasing at the same moment are skipped.
pub(super) fn lease_pending_sql(backend: Backend, table: &str, returning: &str) -> String {
    let lock = match backend {
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    format!(
        "UPDATE {table} SET lease_owner = $1, lease_until = $2 WHERE id IN (\
           SELECT id FROM {table} WHERE state = 'pending' AND next_attempt_at <= $3 \
           AND (lease_until IS NULL OR lease_until < $3) ORDER BY next_attempt_at, id LIMIT $4{lock}) \
         RETURNING {returning}"
    )
}

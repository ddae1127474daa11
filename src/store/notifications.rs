//! The reps' notifications (`notifications`): the notice of a human reply, queued in the
//! transaction that records the reply, and the daily digest, queued when it fires together
//! with the rep's "last digest" setting. The notifier leases due rows (`FOR UPDATE SKIP
//! LOCKED` on PostgreSQL), fixes their text once, hands their webhook to the outgoing-webhook
//! queue and records the email's outcome with updates guarded by the lease.

use sqlx::{AnyConnection, Row};

use super::{Store, StoreError, built};

/// A leased notification.
#[derive(Debug, Clone)]
pub struct Notification {
    /// Row id.
    pub id: i64,
    /// `reply` or `digest`.
    pub kind: String,
    /// The rep's mailbox name, once known.
    pub rep: Option<String>,
    /// The mailbox a reply arrived in.
    pub mailbox: Option<String>,
    /// The text, once fixed: subject, email body, webhook text, Message-ID.
    pub subject: Option<String>,
    /// The email's body.
    pub body: Option<String>,
    /// The webhook's text.
    pub chat: Option<String>,
    /// The email's Message-ID (the same on every attempt).
    pub message_id: Option<String>,
    /// When the webhook was handed over.
    pub webhook_at: Option<i64>,
    /// When the email was taken by the mail server.
    pub emailed_at: Option<i64>,
    /// Attempts made before this one.
    pub attempts: i64,
}

/// A notification that did not reach its rep, for `status`: failed for good, or retrying.
#[derive(Debug, Clone)]
pub struct NotificationProblem {
    pub id: i64,
    /// `reply` or `digest`.
    pub kind: String,
    /// The rep's mailbox name, once known.
    pub rep: Option<String>,
    /// The lead whose reply it is about.
    pub email: Option<String>,
    /// `failed` or `pending` (retrying).
    pub state: String,
    pub attempts: i64,
    /// When it failed, or when it is tried next.
    pub at: i64,
    pub error: Option<String>,
}

/// What a reply's notice says, read from the event, the lead, its touch and the inbound row.
#[derive(Debug, Clone)]
pub struct ReplyNotice {
    /// The inbound row (`drumbeat reply handled ID`).
    pub inbound_id: Option<i64>,
    /// The lead's address.
    pub email: String,
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// Company.
    pub company: Option<String>,
    /// The lead's owner as stored (a mailbox name).
    pub owner: Option<String>,
    /// The mailbox the reply arrived in.
    pub mailbox: String,
    /// The sequence it answers.
    pub sequence_id: Option<String>,
    /// The step it answers (the touch it references, else the enrollment's last email).
    pub step_id: Option<String>,
    /// What the inbox watcher recorded: kind (`reply`, `later`), subject, first lines, dates.
    pub evidence: serde_json::Value,
    /// When it arrived.
    pub received_at: i64,
}

/// How one attempt at a notification ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotifyOutcome {
    /// Every channel got it.
    Sent {
        /// An email went out (it is not a webhook-only rep).
        emailed: bool,
    },
    /// The email failed; try again at `at`.
    Retry {
        /// Why (never a secret or the message).
        error: String,
        /// When.
        at: i64,
    },
    /// The email failed for good.
    Failed {
        /// Why.
        error: String,
    },
    /// Nothing to send it to (the rep has no `[mailbox.notify]` now, the lead was forgotten).
    Skipped {
        /// Why.
        reason: String,
    },
}

const COLUMNS: &str =
    "id, kind, rep, mailbox, subject, body, chat, message_id, webhook_at, emailed_at, attempts";

/// Queues the notice of a human reply, inside the transaction that records it (`event` is
/// the `replied` event, the inbound row is found by its mailbox and message key).
pub(super) async fn queue_reply(
    tx: &mut AnyConnection,
    event: i64,
    lead: i64,
    mailbox: &str,
    message_key: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO notifications (kind, event_id, inbound_id, lead_id, mailbox, state, attempts, next_attempt_at, created_at) \
         SELECT 'reply', $1, (SELECT id FROM inbound WHERE mailbox = $2 AND message_key = $3), $4, $2, 'pending', 0, $5, $5",
    )
    .bind(event)
    .bind(mailbox)
    .bind(message_key)
    .bind(lead)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

fn notification(r: &sqlx::any::AnyRow) -> Result<Notification, StoreError> {
    Ok(Notification {
        id: r.try_get("id")?,
        kind: r.try_get("kind")?,
        rep: r.try_get("rep")?,
        mailbox: r.try_get("mailbox")?,
        subject: r.try_get("subject")?,
        body: r.try_get("body")?,
        chat: r.try_get("chat")?,
        message_id: r.try_get("message_id")?,
        webhook_at: r.try_get("webhook_at")?,
        emailed_at: r.try_get("emailed_at")?,
        attempts: r.try_get("attempts")?,
    })
}

impl Store {
    /// Leases up to `limit` due notifications to `instance` until `now + lease`, oldest due
    /// first. A lease that ran out (a crashed daemon) is taken over.
    pub async fn lease_notifications(
        &self,
        instance: &str,
        now: i64,
        lease: i64,
        limit: i64,
    ) -> Result<Vec<Notification>, StoreError> {
        let sql = super::webhooks::lease_pending_sql(self.backend, "notifications", COLUMNS);
        let rows = sqlx::query(built(sql))
            .bind(instance)
            .bind(now + lease)
            .bind(now)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        let mut out = rows
            .iter()
            .map(notification)
            .collect::<Result<Vec<_>, _>>()?;
        out.sort_by_key(|n| n.id);
        Ok(out)
    }

    /// What the notice of reply notification `id` says; None when its lead is gone.
    pub async fn reply_notice(&self, id: i64) -> Result<Option<ReplyNotice>, StoreError> {
        let row = sqlx::query(
            "SELECT n.inbound_id, n.mailbox, n.created_at, l.email, l.first_name, l.last_name, l.company, l.owner, \
               ev.sequence_id, ev.data, i.received_at, \
               COALESCE(t.step_id, (SELECT s.step_id FROM touches s WHERE s.enrollment_id = ev.enrollment_id \
                 AND s.kind = 'email' AND s.state = 'sent' ORDER BY s.sent_at DESC, s.id DESC LIMIT 1)) AS step_id \
             FROM notifications n JOIN leads l ON l.id = n.lead_id \
             LEFT JOIN events ev ON ev.id = n.event_id LEFT JOIN touches t ON t.id = ev.touch_id \
             LEFT JOIN inbound i ON i.id = n.inbound_id WHERE n.id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            let data: Option<String> = r.try_get("data")?;
            let received: Option<i64> = r.try_get("received_at")?;
            Ok(ReplyNotice {
                inbound_id: r.try_get("inbound_id")?,
                email: r.try_get("email")?,
                first_name: r.try_get("first_name")?,
                last_name: r.try_get("last_name")?,
                company: r.try_get("company")?,
                owner: r.try_get("owner")?,
                mailbox: r
                    .try_get::<Option<String>, _>("mailbox")?
                    .unwrap_or_default(),
                sequence_id: r.try_get("sequence_id")?,
                step_id: r.try_get("step_id")?,
                evidence: data
                    .and_then(|d| serde_json::from_str(&d).ok())
                    .unwrap_or_default(),
                received_at: match received {
                    Some(t) => t,
                    None => r.try_get("created_at")?,
                },
            })
        })
        .transpose()
    }

    /// Fixes a notification's rep and text (`[subject, email body, webhook text]`) and the
    /// email's Message-ID, once, before its first attempt, if `instance` still holds it.
    pub async fn fix_notification(
        &self,
        id: i64,
        instance: &str,
        rep: &str,
        [subject, body, chat]: [&str; 3],
        message_id: &str,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE notifications SET rep = $1, subject = $2, body = $3, chat = $4, message_id = $5 \
             WHERE id = $6 AND state = 'pending' AND lease_owner = $7",
        )
        .bind(rep)
        .bind(subject)
        .bind(body)
        .bind(chat)
        .bind(message_id)
        .bind(id)
        .bind(instance)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Hands a notification's webhook to the outgoing-webhook queue: one delivery to
    /// `endpoint` keyed by the notification (event id `-id`, so it is made once), and the
    /// notification marks it, in one transaction.
    pub async fn queue_notification_webhook(
        &self,
        id: i64,
        instance: &str,
        endpoint: &str,
        kind: &str,
        payload: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let marked = sqlx::query(
            "UPDATE notifications SET webhook_at = $1 WHERE id = $2 AND state = 'pending' AND lease_owner = $3 AND webhook_at IS NULL",
        )
        .bind(now)
        .bind(id)
        .bind(instance)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if marked == 1 {
            sqlx::query(
                "INSERT INTO webhook_deliveries (endpoint, event_id, kind, payload, state, attempts, next_attempt_at, created_at) \
                 VALUES ($1, $2, $3, $4, 'pending', 0, $5, $5) ON CONFLICT (endpoint, event_id) DO NOTHING",
            )
            .bind(endpoint)
            .bind(-id)
            .bind(kind)
            .bind(payload)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(marked == 1)
    }

    /// Records how an attempt ended, if `instance` still holds the notification. Once it is
    /// done (sent, failed, skipped) its text is cleared: the store keeps no copy of a reply's
    /// words in a message that already went out.
    pub async fn record_notification(
        &self,
        id: i64,
        instance: &str,
        outcome: &NotifyOutcome,
        now: i64,
    ) -> Result<bool, StoreError> {
        let (state, error, next, emailed) = match outcome {
            NotifyOutcome::Sent { emailed } => ("sent", None, now, emailed.then_some(now)),
            NotifyOutcome::Retry { error, at } => ("pending", Some(error.as_str()), *at, None),
            NotifyOutcome::Failed { error } => ("failed", Some(error.as_str()), now, None),
            NotifyOutcome::Skipped { reason } => ("skipped", Some(reason.as_str()), now, None),
        };
        let pending = state == "pending";
        let n = sqlx::query(
            "UPDATE notifications SET state = $1, last_error = $2, next_attempt_at = $3, \
               attempts = attempts + 1, emailed_at = COALESCE(emailed_at, $4), \
               done_at = CASE WHEN $5 = 1 THEN NULL ELSE $6 END, \
               subject = CASE WHEN $5 = 1 THEN subject ELSE NULL END, \
               body = CASE WHEN $5 = 1 THEN body ELSE NULL END, \
               chat = CASE WHEN $5 = 1 THEN chat ELSE NULL END, \
               lease_owner = NULL, lease_until = NULL \
             WHERE id = $7 AND state = 'pending' AND lease_owner = $8",
        )
        .bind(state)
        .bind(error)
        .bind(next)
        .bind(emailed)
        .bind(i64::from(pending))
        .bind(now)
        .bind(id)
        .bind(instance)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Notifications that failed for good since `since`, and those waiting to be tried again
    /// after a failed attempt, newest first (at most 50).
    pub async fn notification_problems(
        &self,
        since: i64,
    ) -> Result<Vec<NotificationProblem>, StoreError> {
        let rows = sqlx::query(
            "SELECT n.id, n.kind, n.rep, l.email, n.state, n.attempts, \
               COALESCE(n.done_at, n.next_attempt_at) AS at, n.last_error \
             FROM notifications n LEFT JOIN leads l ON l.id = n.lead_id AND l.forgotten_at IS NULL \
             WHERE (n.state = 'failed' AND n.done_at >= $1) OR (n.state = 'pending' AND n.attempts > 0) \
             ORDER BY at DESC, n.id DESC LIMIT 50",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(NotificationProblem {
                    id: r.try_get("id")?,
                    kind: r.try_get("kind")?,
                    rep: r.try_get("rep")?,
                    email: r.try_get("email")?,
                    state: r.try_get("state")?,
                    attempts: r.try_get("attempts")?,
                    at: r.try_get("at")?,
                    error: r.try_get("last_error")?,
                })
            })
            .collect()
    }

    /// Gives back the notifications `instance` holds (a stop): due again at once.
    pub async fn release_notification_leases(&self, instance: &str) -> Result<u64, StoreError> {
        Ok(sqlx::query(
            "UPDATE notifications SET lease_owner = NULL, lease_until = NULL WHERE state = 'pending' AND lease_owner = $1",
        )
        .bind(instance)
        .execute(&self.pool)
        .await?
        .rows_affected())
    }

    /// Queues rep `rep`'s digest (`[subject, email body, webhook text]`) for the scheduled
    /// instant `occurrence` and records it as the rep's last digest (setting
    /// `notify.digest.REP`), in one transaction. False when that occurrence was queued
    /// already (another daemon, a restart).
    pub async fn queue_digest(
        &self,
        rep: &str,
        occurrence: i64,
        [subject, body, chat]: [&str; 3],
        message_id: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let added = sqlx::query(
            "INSERT INTO notifications (kind, rep, occurrence, subject, body, chat, message_id, state, attempts, next_attempt_at, created_at) \
             VALUES ('digest', $1, $2, $3, $4, $5, $6, 'pending', 0, $7, $7) ON CONFLICT (kind, rep, occurrence) DO NOTHING",
        )
        .bind(rep)
        .bind(occurrence)
        .bind(subject)
        .bind(body)
        .bind(chat)
        .bind(message_id)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        super::settings::put(&mut tx, &digest_setting(rep), &occurrence.to_string(), now).await?;
        tx.commit().await?;
        Ok(added == 1)
    }

    /// The scheduled instant of rep `rep`'s last digest, if one fired.
    pub async fn last_digest(&self, rep: &str) -> Result<Option<i64>, StoreError> {
        Ok(self
            .setting(&digest_setting(rep))
            .await?
            .and_then(|v| v.trim().parse().ok()))
    }
}

/// Queues a notification of `kind` whose words are fixed already (a mailbox's pause) for rep
/// `rep`, once per `occurrence`, inside the caller's transaction.
pub(super) async fn queue_fixed(
    tx: &mut AnyConnection,
    kind: &str,
    rep: &str,
    occurrence: i64,
    notice: &super::HealthNotice,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO notifications (kind, rep, occurrence, subject, body, chat, message_id, state, attempts, next_attempt_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', 0, $8, $8) ON CONFLICT (kind, rep, occurrence) DO NOTHING",
    )
    .bind(kind)
    .bind(rep)
    .bind(occurrence)
    .bind(&notice.subject)
    .bind(&notice.body)
    .bind(&notice.chat)
    .bind(&notice.message_id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The settings row that holds a rep's last digest.
fn digest_setting(rep: &str) -> String {
    format!("notify.digest.{rep}")
}

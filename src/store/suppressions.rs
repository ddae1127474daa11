//! The suppression list: addresses and domains that must never be emailed again, and the
//! right to be forgotten.

use std::collections::HashSet;

use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::events::{self, NewEvent};
use super::{Backend, LeadId, Store, StoreError, built, in_list};
use crate::domain::EventKind;
use crate::lead::Email;

/// One entry of the suppression list.
#[derive(Debug, Clone, Serialize)]
pub struct SuppressionRow {
    /// An address, `@domain`, or `sha256:HEX` of a forgotten address.
    pub value: String,
    /// unsubscribed, bounced, complained, manual, forgotten.
    pub reason: String,
    /// Free text.
    pub note: Option<String>,
    /// When (unix seconds).
    pub created_at: i64,
}

/// The entry kept for a forgotten address: its SHA-256, so the person is recognised (and never
/// emailed) without their address being stored.
pub fn forgotten_value(email: &Email) -> String {
    // An import hashes every address it reads, so this spells the hex by hand rather than
    // formatting each byte into a new String.
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(email.as_str().as_bytes());
    let mut value = String::with_capacity(7 + 64);
    value.push_str("sha256:");
    for b in digest.iter() {
        value.push(char::from(HEX[usize::from(b >> 4)]));
        value.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    value
}

/// The suppression values that would match an address: itself, its domain, its hash.
pub(super) fn values_for(email: &Email) -> [String; 3] {
    let [address, domain] = plain_values_for(email);
    [address, domain, forgotten_value(email)]
}

/// The suppression values that would match an address other than its hash: itself, its
/// domain.
pub(super) fn plain_values_for(email: &Email) -> [String; 2] {
    [email.as_str().to_string(), format!("@{}", email.domain())]
}

/// Whether the list holds any forgotten address (a `sha256:` value). SQLite compares bytes,
/// so its probe is exactly the index range of those values; PostgreSQL's collation may not
/// order them together, so it asks LIKE.
pub(super) async fn any_forgotten<'e, E>(executor: E, backend: Backend) -> Result<bool, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let probe = match backend {
        Backend::Sqlite => {
            "SELECT 1 AS one FROM suppressions WHERE value >= 'sha256:' AND value < 'sha256;' LIMIT 1"
        }
        Backend::Postgres => {
            "SELECT 1 AS one FROM suppressions WHERE value LIKE 'sha256:%' LIMIT 1"
        }
    };
    Ok(sqlx::query(probe).fetch_optional(executor).await?.is_some())
}

/// Which enrollment states a suppression stops.
const OPEN_STATES: &str = "('active', 'paused', 'failed')";

impl Store {
    /// Puts an address or `@domain` on the list and stops open enrollments it covers. Returns
    /// false when it was already there.
    pub async fn suppress(
        &self,
        value: &str,
        reason: &str,
        note: Option<&str>,
        now: i64,
    ) -> Result<bool, StoreError> {
        // Addresses are stored lowercased (see `Email`); so are suppressions.
        let value = value.trim().to_lowercase();
        let value = value.as_str();
        let mut tx = self.begin_write().await?;
        let added = sqlx::query(
            "INSERT INTO suppressions (value, reason, note, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (value) DO NOTHING",
        )
        .bind(value)
        .bind(reason)
        .bind(note)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        // Leads it covers: the address, or every address at the domain.
        let (cond, arg) = match value.strip_prefix('@') {
            Some(domain) => (
                "l.email LIKE $1",
                format!(
                    "%@{}",
                    domain
                        .replace('\\', "\\\\")
                        .replace('%', "\\%")
                        .replace('_', "\\_")
                ),
            ),
            None => ("l.email = $1", value.to_string()),
        };
        let like_escape = if value.starts_with('@') {
            " ESCAPE '\\'"
        } else {
            ""
        };
        let sql = format!(
            "SELECT e.id, e.lead_id, e.sequence_id FROM enrollments e JOIN leads l ON l.id = e.lead_id \
             WHERE {cond}{like_escape} AND e.state IN {OPEN_STATES}"
        );
        let rows = sqlx::query(built(sql))
            .bind(&arg)
            .fetch_all(&mut *tx)
            .await?;
        for r in &rows {
            let id: i64 = r.try_get("id")?;
            let lead: i64 = r.try_get("lead_id")?;
            let seq: String = r.try_get("sequence_id")?;
            sqlx::query(built(format!(
                "UPDATE enrollments SET state = 'stopped', next_due_at = NULL, outcome = 'suppressed', reason = $1, \
                 finished_at = $2, updated_at = $2 WHERE id = $3 AND state IN {OPEN_STATES}"
            )))
            .bind(format!("suppressed ({reason})"))
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            let mut ev = NewEvent::about(EventKind::Stopped, Some(LeadId(lead)));
            ev.enrollment = Some(super::EnrollmentId(id));
            ev.sequence = Some(&seq);
            ev.data = serde_json::json!({ "reason": "suppressed", "suppression": reason });
            events::insert(&mut tx, &ev, now).await?;
        }
        if added {
            let mut ev = NewEvent::about(EventKind::Suppressed, None);
            ev.data = serde_json::json!({ "reason": reason, "domain": value.starts_with('@') });
            events::insert(&mut tx, &ev, now).await?;
        }
        tx.commit().await?;
        Ok(added)
    }

    /// Takes an address or `@domain` off the list. Forgotten people stay on it.
    pub async fn unsuppress(&self, value: &str, now: i64) -> Result<bool, StoreError> {
        let value = value.trim().to_lowercase();
        let value = value.as_str();
        let mut tx = self.begin_write().await?;
        let removed =
            sqlx::query("DELETE FROM suppressions WHERE value = $1 AND reason <> 'forgotten'")
                .bind(value)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                > 0;
        if removed {
            let mut ev = NewEvent::about(EventKind::Unsuppressed, None);
            ev.data = serde_json::json!({ "domain": value.starts_with('@') });
            events::insert(&mut tx, &ev, now).await?;
        }
        tx.commit().await?;
        Ok(removed)
    }

    /// Why this address must not be emailed, when it must not.
    pub async fn suppression_for(
        &self,
        email: &Email,
    ) -> Result<Option<SuppressionRow>, StoreError> {
        let v = values_for(email);
        let row = sqlx::query("SELECT value, reason, note, created_at FROM suppressions WHERE value IN ($1, $2, $3) LIMIT 1")
            .bind(&v[0])
            .bind(&v[1])
            .bind(&v[2])
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| suppression_row(&r)).transpose()
    }

    /// Of these addresses, those that must not be emailed.
    pub async fn suppressed_among(&self, emails: &[&Email]) -> Result<HashSet<Email>, StoreError> {
        let mut out = HashSet::new();
        for chunk in emails.chunks(300) {
            let values: Vec<[String; 3]> = chunk.iter().map(|e| values_for(e)).collect();
            let sql = format!(
                "SELECT value FROM suppressions WHERE value IN ({})",
                in_list(self.backend, values.len() * 3)
            );
            let mut q = sqlx::query(built(sql));
            for v in &values {
                q = q.bind(&v[0]).bind(&v[1]).bind(&v[2]);
            }
            let hits: HashSet<String> = q
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|r| r.try_get::<String, _>("value"))
                .collect::<Result<_, _>>()?;
            if hits.is_empty() {
                continue;
            }
            for (e, v) in chunk.iter().zip(&values) {
                if v.iter().any(|x| hits.contains(x)) {
                    out.insert((*e).clone());
                }
            }
        }
        Ok(out)
    }

    /// Of these addresses, those of people who asked to be forgotten.
    pub async fn forgotten_among(&self, emails: &[&Email]) -> Result<HashSet<Email>, StoreError> {
        let mut out = HashSet::new();
        // Most stores hold no forgotten person: one look at the index then spares hashing every
        // address of an import.
        if emails.is_empty() || !any_forgotten(&self.pool, self.backend).await? {
            return Ok(out);
        }
        for chunk in emails.chunks(500) {
            let hashes: Vec<String> = chunk.iter().map(|e| forgotten_value(e)).collect();
            let sql = format!(
                "SELECT value FROM suppressions WHERE value IN ({})",
                in_list(self.backend, hashes.len())
            );
            let mut q = sqlx::query(built(sql));
            for h in &hashes {
                q = q.bind(h);
            }
            let hits: HashSet<String> = q
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|r| r.try_get::<String, _>("value"))
                .collect::<Result<_, _>>()?;
            for (e, h) in chunk.iter().zip(&hashes) {
                if hits.contains(h) {
                    out.insert((*e).clone());
                }
            }
        }
        Ok(out)
    }

    /// The whole list, newest first.
    pub async fn suppressions(&self) -> Result<Vec<SuppressionRow>, StoreError> {
        let rows = sqlx::query("SELECT value, reason, note, created_at FROM suppressions ORDER BY created_at DESC, id DESC")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(suppression_row).collect()
    }

    /// Erases a person. Deleted: their enrollments, touches, tasks, inbound mail, notifications
    /// and outgoing webhook payloads. Their lead row stays, anonymous: every personal field is
    /// erased (the address becomes `forgotten:ID`) and `forgotten_at` set, so that their events
    /// keep one anonymous lead and past reports keep their numbers. Events keep only the words
    /// reports read ([`REPORT_KEYS`], per kind), and their enrollment and touch ids are negated: they
    /// still tie a reply to the email it answers, yet point at no row, and no later row can take
    /// them (SQLite gives a deleted row's id to the next one). Plain suppression entries are
    /// replaced by the address's hash, so they are never emailed again. Returns whether a lead
    /// was stored.
    pub async fn forget(&self, email: &Email, now: i64) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let lead: Option<i64> =
            sqlx::query("SELECT id FROM leads WHERE email = $1 AND forgotten_at IS NULL")
                .bind(email.as_str())
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| r.try_get("id"))
                .transpose()?;
        if let Some(id) = lead {
            let events = sqlx::query("SELECT id, kind, data FROM events WHERE lead_id = $1")
                .bind(id)
                .fetch_all(&mut *tx)
                .await?;
            for e in &events {
                let event: i64 = e.try_get("id")?;
                let kind: String = e.try_get("kind")?;
                let data: String = e.try_get("data")?;
                sqlx::query(
                    "UPDATE events SET enrollment_id = -ABS(enrollment_id), touch_id = -ABS(touch_id), \
                     data = $1 WHERE id = $2",
                )
                .bind(report_words(&kind, &data))
                .bind(event)
                .execute(&mut *tx)
                .await?;
            }
            // Payloads name the person; a pending one is not sent after they asked to be
            // forgotten. Their events' deliveries, and their reply notices' (a notification's
            // webhook is queued with event_id = -its id).
            sqlx::query(
                "DELETE FROM webhook_deliveries WHERE event_id IN (SELECT id FROM events WHERE lead_id = $1) \
                   OR (endpoint LIKE 'notify:%' AND event_id IN (SELECT -id FROM notifications WHERE lead_id = $1))",
            )
            .bind(id)
            .execute(&mut *tx)
            .await?;
            for table in [
                "notifications",
                "inbound",
                "drafts",
                "tasks",
                "touches",
                "enrollments",
            ] {
                sqlx::query(built(format!("DELETE FROM {table} WHERE lead_id = $1")))
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query(
                "UPDATE leads SET email = $1, first_name = NULL, last_name = NULL, company = NULL, \
                   title = NULL, timezone = NULL, phone = NULL, account_id = NULL, custom = '{}', \
                   fingerprint = 0, updated_at = $2, forgotten_at = $2 WHERE id = $3",
            )
            .bind(format!("forgotten:{id}"))
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("DELETE FROM suppressions WHERE value = $1")
            .bind(email.as_str())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO suppressions (value, reason, note, created_at) VALUES ($1, 'forgotten', NULL, $2) \
             ON CONFLICT (value) DO NOTHING",
        )
        .bind(forgotten_value(email))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(lead.is_some())
    }
}

/// The words of an event's data that reports read, per kind of event, which say nothing about
/// the person: where the lead came from, the A/B variant, who stopped the sequence, the
/// reply's sort, the rep's outcome word.
pub const REPORT_KEYS: [(&str, &str); 5] = [
    ("received", "source"),
    ("sent", "variant"),
    ("stopped", "by"),
    ("replied", "kind"),
    ("reply-handled", "outcome"),
];

/// An event's `data` (a JSON object) with only the [`REPORT_KEYS`] of its `kind`; `{}` for
/// anything else.
fn report_words(kind: &str, data: &str) -> String {
    let kept: serde_json::Map<String, serde_json::Value> =
        match serde_json::from_str::<serde_json::Value>(data) {
            Ok(serde_json::Value::Object(m)) => m
                .into_iter()
                .filter(|(k, _)| REPORT_KEYS.contains(&(kind, k.as_str())))
                .collect(),
            _ => serde_json::Map::new(),
        };
    serde_json::Value::Object(kept).to_string()
}

fn suppression_row(r: &sqlx::any::AnyRow) -> Result<SuppressionRow, StoreError> {
    Ok(SuppressionRow {
        value: r.try_get("value")?,
        reason: r.try_get("reason")?,
        note: r.try_get("note")?,
        created_at: r.try_get("created_at")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forgotten_value_is_the_lowercase_sha256_hex_of_the_address() {
        let email = Email::parse("Jane@Acme.com").expect("a valid address");
        assert_eq!(
            forgotten_value(&email),
            "sha256:7bb9e30283184c3b4bbbf2262a600be7165d7e6f50e424a611aa64394e7ecdb5"
        );
    }
}

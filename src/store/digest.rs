//! What a rep's daily digest reads: replies nobody handled yet, enrollments due before a
//! given instant, and a day's counts of events per mailbox and lead owner. Which rep each row
//! belongs to is decided by the caller (`notify::digest`), which knows the mailboxes.

use sqlx::Row;

use super::{Store, StoreError};

/// A human reply not handled yet.
#[derive(Debug, Clone)]
pub struct WaitingReply {
    /// The inbound row (`drumbeat reply handled ID`).
    pub id: i64,
    /// The mailbox it arrived in.
    pub mailbox: String,
    /// `reply` or `later`.
    pub kind: String,
    /// Subject, first lines…
    pub evidence: serde_json::Value,
    /// When it arrived.
    pub received_at: i64,
    /// The lead.
    pub email: String,
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// Company.
    pub company: Option<String>,
    /// Owner as stored.
    pub owner: Option<String>,
    /// The sequence it answers.
    pub sequence_id: Option<String>,
}

/// An active enrollment whose next step is due.
#[derive(Debug, Clone)]
pub struct DueStep {
    /// The enrollment.
    pub enrollment: i64,
    /// Its sequence.
    pub sequence_id: String,
    /// The step that goes next.
    pub step_id: Option<String>,
    /// When it is due.
    pub due_at: i64,
    /// The mailbox its thread started from, if any.
    pub mailbox: Option<String>,
    /// The lead.
    pub email: String,
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// Company.
    pub company: Option<String>,
    /// Owner as stored.
    pub owner: Option<String>,
    /// The lead's own time zone (IANA name), if known.
    pub timezone: Option<String>,
}

/// How many events of one kind a period had for one mailbox (or, for events that name no
/// mailbox, such as a booked meeting, one lead owner).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventCount {
    /// Event kind.
    pub kind: String,
    /// The event's mailbox.
    pub mailbox: Option<String>,
    /// The lead's owner (read when the event names no mailbox).
    pub owner: Option<String>,
    /// How many.
    pub count: i64,
}

/// At most this many rows per list: a digest is read by a person.
const LIMIT: i64 = 2000;

impl Store {
    /// Human replies (and "later" replies without a date) nobody marked handled, oldest first.
    pub async fn waiting_replies(&self) -> Result<Vec<WaitingReply>, StoreError> {
        let rows = sqlx::query(
            "SELECT i.id, i.mailbox, i.kind, i.evidence, i.received_at, l.email, l.first_name, l.last_name, \
               l.company, l.owner, e.sequence_id \
             FROM inbound i JOIN leads l ON l.id = i.lead_id LEFT JOIN enrollments e ON e.id = i.enrollment_id \
             WHERE i.handled_at IS NULL ORDER BY i.received_at, i.id LIMIT $1",
        )
        .bind(LIMIT)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let evidence: String = r.try_get("evidence")?;
                Ok(WaitingReply {
                    id: r.try_get("id")?,
                    mailbox: r.try_get("mailbox")?,
                    kind: r.try_get("kind")?,
                    evidence: serde_json::from_str(&evidence).unwrap_or_default(),
                    received_at: r.try_get("received_at")?,
                    email: r.try_get("email")?,
                    first_name: r.try_get("first_name")?,
                    last_name: r.try_get("last_name")?,
                    company: r.try_get("company")?,
                    owner: r.try_get("owner")?,
                    sequence_id: r.try_get("sequence_id")?,
                })
            })
            .collect()
    }

    /// Active enrollments whose next step is due before `before`, soonest first.
    pub async fn steps_due_before(&self, before: i64) -> Result<Vec<DueStep>, StoreError> {
        let rows = sqlx::query(
            "SELECT e.id, e.sequence_id, e.next_step_id, e.next_due_at, e.mailbox, l.email, l.first_name, \
               l.last_name, l.company, l.owner, l.timezone \
             FROM enrollments e JOIN leads l ON l.id = e.lead_id \
             WHERE e.state = 'active' AND e.next_due_at < $1 ORDER BY e.next_due_at, e.id LIMIT $2",
        )
        .bind(before)
        .bind(LIMIT * 10)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(DueStep {
                    enrollment: r.try_get("id")?,
                    sequence_id: r.try_get("sequence_id")?,
                    step_id: r.try_get("next_step_id")?,
                    due_at: r.try_get("next_due_at")?,
                    mailbox: r.try_get("mailbox")?,
                    email: r.try_get("email")?,
                    first_name: r.try_get("first_name")?,
                    last_name: r.try_get("last_name")?,
                    company: r.try_get("company")?,
                    owner: r.try_get("owner")?,
                    timezone: r.try_get("timezone")?,
                })
            })
            .collect()
    }

    /// Events of `kinds` recorded in `[from, to)`, counted per kind, mailbox and lead owner.
    pub async fn event_counts(
        &self,
        kinds: &[&str],
        from: i64,
        to: i64,
    ) -> Result<Vec<EventCount>, StoreError> {
        let mut out = Vec::new();
        for kind in kinds {
            let rows = sqlx::query(
                "SELECT e.mailbox, l.owner, COUNT(*) AS n FROM events e LEFT JOIN leads l ON l.id = e.lead_id \
                 WHERE e.kind = $1 AND e.at >= $2 AND e.at < $3 GROUP BY e.mailbox, l.owner",
            )
            .bind(*kind)
            .bind(from)
            .bind(to)
            .fetch_all(&self.pool)
            .await?;
            for r in &rows {
                out.push(EventCount {
                    kind: (*kind).to_string(),
                    mailbox: r.try_get("mailbox")?,
                    owner: r.try_get("owner")?,
                    count: r.try_get("n")?,
                });
            }
        }
        Ok(out)
    }
}

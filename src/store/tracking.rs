//! What the HTTP side records about an email it sent: a one-click unsubscribe, clicks and
//! opens. Each is found by the email's Message-ID (what the link's token carries).

use serde_json::json;
use sqlx::Row;

use super::enrollments::EnrollmentId;
use super::events::{self, EventKind, NewEvent};
use super::inbox::suppress;
use super::{LeadId, Store, StoreError};

/// A sent email, as a link in it finds it.
#[derive(Debug, Clone)]
pub struct TrackedTouch {
    /// Touch row.
    pub touch: i64,
    /// Its lead.
    pub lead: i64,
    /// Its enrollment.
    pub enrollment: i64,
    /// Sequence.
    pub sequence: String,
    /// Step.
    pub step: String,
    /// The mailbox that sent it.
    pub mailbox: Option<String>,
    /// When the server took it.
    pub sent_at: Option<i64>,
}

impl TrackedTouch {
    fn event(&self, kind: EventKind) -> NewEvent<'_> {
        let mut ev = NewEvent::about(kind, Some(LeadId(self.lead)));
        ev.enrollment = Some(EnrollmentId(self.enrollment));
        ev.touch = Some(self.touch);
        ev.sequence = Some(&self.sequence);
        ev.step = Some(&self.step);
        ev.mailbox = self.mailbox.as_deref();
        ev
    }
}

impl Store {
    /// The email with this Message-ID (`<id@domain>`).
    pub async fn touch_by_message_id(
        &self,
        message_id: &str,
    ) -> Result<Option<TrackedTouch>, StoreError> {
        let row = sqlx::query(
            "SELECT id, lead_id, enrollment_id, sequence_id, step_id, mailbox, sent_at FROM touches WHERE message_id = $1",
        )
        .bind(message_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(TrackedTouch {
                touch: r.try_get("id")?,
                lead: r.try_get("lead_id")?,
                enrollment: r.try_get("enrollment_id")?,
                sequence: r.try_get("sequence_id")?,
                step: r.try_get("step_id")?,
                mailbox: r.try_get("mailbox")?,
                sent_at: r.try_get("sent_at")?,
            })
        })
        .transpose()
    }

    /// The lead asked to be removed through the email's unsubscribe link: the address is
    /// suppressed and every open enrollment of the lead ends, in one transaction. Returns
    /// false when the address was suppressed already (nothing changes, no second event).
    pub async fn unsubscribe_touch(
        &self,
        t: &TrackedTouch,
        how: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let already: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM suppressions WHERE value = (SELECT email FROM leads WHERE id = $1)",
        )
        .bind(t.lead)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE enrollments SET state = 'unsubscribed', outcome = 'unsubscribed', reason = 'the lead unsubscribed', \
             updated_at = $1, finished_at = $1, next_due_at = NULL, lease_owner = NULL, lease_until = NULL \
             WHERE lead_id = $2 AND state IN ('active', 'paused')",
        )
        .bind(now)
        .bind(t.lead)
        .execute(&mut *tx)
        .await?;
        suppress(&mut tx, t.lead, "unsubscribed", how, now).await?;
        if already == 0 {
            let mut ev = t.event(EventKind::Unsubscribed);
            ev.data = json!({ "via": how });
            events::insert(&mut tx, &ev, now).await?;
        }
        tx.commit().await?;
        Ok(already == 0)
    }

    /// A click on link `link` (to `url`) of the email. `human` is false for a security
    /// scanner's fetch, with `why`.
    pub async fn record_click(
        &self,
        t: &TrackedTouch,
        link: u16,
        url: &str,
        human: bool,
        why: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut ev = t.event(EventKind::Clicked);
        ev.data = json!({ "link": link, "url": url, "human": human, "scanner": why });
        let mut conn = self.pool.acquire().await?;
        events::insert(&mut conn, &ev, now).await
    }

    /// How many clicks the email got since `since` (for telling a scanner that clicks every
    /// link at once from a person).
    pub async fn clicks_since(&self, touch: i64, since: i64) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM events WHERE touch_id = $1 AND kind = 'clicked' AND at >= $2",
        )
        .bind(touch)
        .bind(since)
        .fetch_one(&self.pool)
        .await?)
    }

    /// An open of the email (its pixel fetched); `proxy` when a mail provider's image proxy
    /// or privacy prefetch fetched it, not a person.
    pub async fn record_open(
        &self,
        t: &TrackedTouch,
        proxy: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut ev = t.event(EventKind::Opened);
        ev.data = json!({ "human": proxy.is_none(), "proxy": proxy });
        let mut conn = self.pool.acquire().await?;
        events::insert(&mut conn, &ev, now).await
    }
}

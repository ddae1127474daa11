//! Holds: planned pauses of a mailbox (a rep's vacation) or of a whole sequence, between two
//! instants. The scheduler moves the steps a hold covers to its end (see `daemon::tick`), and
//! records once per lead and hold that it waits, for the lead's timeline.

use serde::Serialize;
use sqlx::Row;

use super::events::{self, NewEvent};
use super::{EnrollmentId, EventKind, LeadId, Store, StoreError};

/// What a hold pauses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HoldScope {
    /// Every lead whose emails and tasks come from one mailbox (a rep's vacation).
    Mailbox,
    /// Every lead of one sequence.
    Sequence,
}

impl HoldScope {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            HoldScope::Mailbox => "mailbox",
            HoldScope::Sequence => "sequence",
        }
    }
}

/// A hold as stored.
#[derive(Debug, Clone, Serialize)]
pub struct Hold {
    /// Row id.
    pub id: i64,
    /// What it pauses.
    pub scope: HoldScope,
    /// The mailbox's name or the sequence's id.
    pub name: String,
    /// When it starts (unix seconds).
    pub starts_at: i64,
    /// When it ends; None: until resumed.
    pub until_at: Option<i64>,
    /// Why (shown in status and the timeline).
    pub reason: String,
    /// When it was made.
    pub created_at: i64,
}

impl Hold {
    /// Whether the hold is on at `now`.
    pub fn is_on(&self, now: i64) -> bool {
        self.starts_at <= now && self.until_at.is_none_or(|u| now < u)
    }
}

/// A due step moved by a hold: given back due at `due`, and the lead's timeline told once.
#[derive(Debug, Clone)]
pub struct HeldStep<'a> {
    /// The enrollment, leased by this daemon.
    pub enrollment: EnrollmentId,
    /// Its lead.
    pub lead: LeadId,
    /// Its sequence.
    pub sequence: &'a str,
    /// The step that waits.
    pub step: &'a str,
    /// When it is due again.
    pub due: i64,
    /// The hold that moved it.
    pub hold: &'a Hold,
}

impl Store {
    /// Records a hold; returns its id.
    pub async fn add_hold(
        &self,
        scope: HoldScope,
        name: &str,
        (starts_at, until_at): (i64, Option<i64>),
        reason: &str,
        now: i64,
    ) -> Result<i64, StoreError> {
        let mut tx = self.begin_write().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO holds (scope, name, starts_at, until_at, reason, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(scope.as_str())
        .bind(name)
        .bind(starts_at)
        .bind(until_at)
        .bind(reason)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The holds not over at `now` (on, or planned), soonest first.
    pub async fn holds(&self, now: i64) -> Result<Vec<Hold>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, scope, name, starts_at, until_at, reason, created_at FROM holds \
             WHERE resumed_at IS NULL AND (until_at IS NULL OR until_at > $1) \
             ORDER BY starts_at, id",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let scope: String = r.try_get("scope")?;
                Ok(Hold {
                    id: r.try_get("id")?,
                    scope: if scope == "sequence" {
                        HoldScope::Sequence
                    } else {
                        HoldScope::Mailbox
                    },
                    name: r.try_get("name")?,
                    starts_at: r.try_get("starts_at")?,
                    until_at: r.try_get("until_at")?,
                    reason: r.try_get("reason")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    /// Ends (or cancels, when planned) every hold of `scope` and `name` not over at `now`, and
    /// makes the steps they moved due now. Returns how many holds ended.
    pub async fn resume_holds(
        &self,
        scope: HoldScope,
        name: &str,
        now: i64,
    ) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        let since: Option<i64> = sqlx::query_scalar(
            "SELECT MIN(created_at) FROM holds WHERE scope = $1 AND name = $2 \
             AND resumed_at IS NULL AND (until_at IS NULL OR until_at > $3)",
        )
        .bind(scope.as_str())
        .bind(name)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let Some(since) = since else {
            return Ok(0);
        };
        let ended = sqlx::query(
            "UPDATE holds SET resumed_at = $1 WHERE scope = $2 AND name = $3 \
             AND resumed_at IS NULL AND (until_at IS NULL OR until_at > $1)",
        )
        .bind(now)
        .bind(scope.as_str())
        .bind(name)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        // A mailbox's hold names the mailbox in its events; a sequence's names none.
        sqlx::query(
            "UPDATE enrollments SET next_due_at = $1, updated_at = $1 \
             WHERE state = 'active' AND next_due_at > $1 AND id IN \
             (SELECT enrollment_id FROM events WHERE kind = 'held' AND at >= $2 \
              AND ((mailbox = $3 AND $4 = 'mailbox') \
                OR (sequence_id = $3 AND mailbox IS NULL AND $4 = 'sequence')))",
        )
        .bind(now)
        .bind(since)
        .bind(name)
        .bind(scope.as_str())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(ended)
    }

    /// Gives back leased enrollments whose step a hold covers, due at its end, and records a
    /// `held` event for each lead the hold had not held yet.
    pub async fn hold_steps(
        &self,
        instance: &str,
        items: &[HeldStep<'_>],
        now: i64,
    ) -> Result<(), StoreError> {
        if items.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        for h in items {
            let n = sqlx::query(include_str!("sql/due/defer.sql"))
                .bind(h.step)
                .bind(h.due)
                .bind(now)
                .bind(h.enrollment.0)
                .bind(instance)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            let told: Option<i64> = sqlx::query_scalar(
                "SELECT id FROM events WHERE lead_id = $1 AND enrollment_id = $2 \
                 AND kind = 'held' AND at >= $3 LIMIT 1",
            )
            .bind(h.lead.0)
            .bind(h.enrollment.0)
            .bind(h.hold.created_at)
            .fetch_optional(&mut *tx)
            .await?;
            if n == 0 || told.is_some() {
                continue;
            }
            let mut e = NewEvent::about(EventKind::Held, Some(h.lead));
            e.enrollment = Some(h.enrollment);
            e.sequence = Some(h.sequence);
            e.step = Some(h.step);
            e.mailbox = (h.hold.scope == HoldScope::Mailbox).then_some(h.hold.name.as_str());
            e.data = serde_json::json!({
                "hold": h.hold.id,
                "scope": h.hold.scope,
                "name": h.hold.name,
                "until": h.hold.until_at,
                "reason": h.hold.reason,
            });
            events::insert(&mut tx, &e, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

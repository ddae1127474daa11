//! How a claimed step ends when it is not `sent` (see `sent` for that): a retry later with the
//! same Message-ID, a failure for good, an uncertain hand-over that waits for a person, a
//! person's "not sent", a step that cannot be rendered; and moving an enrollment past a done
//! step.

use sqlx::AnyConnection;

use super::due::Leased;
use super::events::{self, NewEvent};
use super::touches::{TouchInfo, event_for, touch_info};
use super::{LeadId, Store, StoreError};
use crate::domain::{EventKind, Next};
use crate::enrollment::EnrollmentState;

impl Store {
    /// The server said "try later" or could not be reached before the message was handed
    /// over: the touch waits for `retry_at` with the same Message-ID.
    pub async fn record_retry(
        &self,
        touch: i64,
        error: &str,
        retry_at: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let Some(t) = touch_info(&mut tx, touch).await? else {
            return Ok(());
        };
        sqlx::query(include_str!("sql/outcomes/touch_retry.sql"))
            .bind(error)
            .bind(retry_at)
            .bind(touch)
            .execute(&mut *tx)
            .await?;
        sqlx::query(include_str!("sql/outcomes/enrollment_due.sql"))
            .bind(retry_at)
            .bind(now)
            .bind(t.enrollment)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The step failed for good (a 5xx, a render error, retries exhausted): the touch is
    /// `failed` and the enrollment becomes `to` (failed, paused, or bounced), with an event.
    /// With `suppress`, the address goes on the suppression list (a hard bounce).
    pub async fn record_failed(
        &self,
        touch: i64,
        error: &str,
        to: EnrollmentState,
        suppress: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let Some(t) = touch_info(&mut tx, touch).await? else {
            return Ok(());
        };
        sqlx::query(include_str!("sql/outcomes/touch_failed.sql"))
            .bind(error)
            .bind(touch)
            .execute(&mut *tx)
            .await?;
        let kind = match to {
            EnrollmentState::Bounced => EventKind::Bounced,
            EnrollmentState::Paused => EventKind::Paused,
            _ => EventKind::Failed,
        };
        let mut ev = event_for(&t, kind);
        ev.data = serde_json::json!({ "error": error, "message_id": t.message_id });
        events::insert(&mut tx, &ev, now).await?;
        sqlx::query(include_str!("sql/outcomes/enrollment_failed.sql"))
            .bind(now)
            .bind(to.as_str())
            .bind(error)
            .bind(t.enrollment)
            .bind(to.is_final().then_some(now))
            .execute(&mut *tx)
            .await?;
        if let Some(value) = suppress {
            suppress_bounced(&mut tx, &t, value, error, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The connection broke after the message was handed over: the server may or may not have
    /// it. The touch becomes `uncertain` and waits for a person (`drumbeat resolve`).
    pub async fn record_uncertain(&self, touch: i64, error: &str) -> Result<(), StoreError> {
        sqlx::query(include_str!("sql/outcomes/touch_uncertain.sql"))
            .bind(error)
            .bind(touch)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// A person says an uncertain touch did not reach the server: it is sent again at the
    /// next tick, with the same Message-ID. Returns false when the touch was not uncertain.
    pub async fn resolve_not_sent(&self, touch: i64, now: i64) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let Some(t) = touch_info(&mut tx, touch).await? else {
            return Ok(false);
        };
        let n = sqlx::query(include_str!("sql/outcomes/touch_not_sent.sql"))
            .bind(now)
            .bind(touch)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 1 {
            sqlx::query(include_str!("sql/outcomes/enrollment_due.sql"))
                .bind(now)
                .bind(now)
                .bind(t.enrollment)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(n == 1)
    }

    /// Step `step` of the enrollment `leased` by `instance` could not be rendered: nothing is
    /// sent, the touch is `failed` with the reason (no Message-ID, so a fixed template and
    /// `drumbeat resume` retry it), and the enrollment pauses so the rep sees it under "needs
    /// attention". Nothing changes when the enrollment is no longer active and ours.
    pub async fn fail_render(
        &self,
        instance: &str,
        leased: &Leased,
        step: &str,
        error: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let held = sqlx::query(include_str!("sql/outcomes/pause_unrenderable.sql"))
            .bind(format!("step {step:?} cannot be rendered: {error}"))
            .bind(now)
            .bind(step)
            .bind(leased.enrollment.0)
            .bind(instance)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if held != 1 {
            return Ok(());
        }
        sqlx::query(include_str!("sql/outcomes/touch_unrenderable.sql"))
            .bind(leased.enrollment.0)
            .bind(leased.lead.0)
            .bind(&leased.sequence_id)
            .bind(step)
            .bind(error)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let mut ev = NewEvent::about(EventKind::Failed, Some(leased.lead));
        ev.enrollment = Some(leased.enrollment);
        ev.sequence = Some(&leased.sequence_id);
        ev.step = Some(step);
        ev.data = serde_json::json!({ "error": error, "render": true });
        events::insert(&mut tx, &ev, now).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// A hard bounce of touch `t`'s email: `value` goes on the suppression list, with an event,
/// and the lead's other open enrollments end as bounced.
async fn suppress_bounced(
    tx: &mut AnyConnection,
    t: &TouchInfo,
    value: &str,
    error: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(include_str!("sql/outcomes/suppress_bounced.sql"))
        .bind(value)
        .bind(error)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    let mut ev = NewEvent::about(EventKind::Suppressed, Some(LeadId(t.lead)));
    ev.data = serde_json::json!({ "value": value, "reason": "bounced" });
    events::insert(&mut *tx, &ev, now).await?;
    sqlx::query(include_str!("sql/outcomes/bounce_others.sql"))
        .bind(error)
        .bind(now)
        .bind(t.lead)
        .bind(t.enrollment)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Moves the enrollment past a done step (still active or paused; a stopped one stays put),
/// inside the caller's transaction; a finish is logged.
pub(super) async fn advance(
    tx: &mut AnyConnection,
    t: &TouchInfo,
    next: &Next,
    now: i64,
) -> Result<(), StoreError> {
    match next {
        Next::Step { id, due_at } => {
            sqlx::query(include_str!("sql/outcomes/advance_step.sql"))
                .bind(id)
                .bind(*due_at)
                .bind(now)
                .bind(t.enrollment)
                .execute(&mut *tx)
                .await?;
        }
        Next::Finished => {
            let n = sqlx::query(include_str!("sql/outcomes/finish.sql"))
                .bind(now)
                .bind(t.enrollment)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n == 1 {
                events::insert(tx, &event_for(t, EventKind::Finished), now).await?;
            }
        }
    }
    Ok(())
}

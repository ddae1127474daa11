//! Step conditions, as the store sees them: what a lead did with the emails (opens and clicks
//! by step, read for the conditions that test them), and a step skipped because its condition
//! does not hold.

use std::collections::HashMap;

use sqlx::Row;

use super::due::Leased;
use super::enrollments::EnrollmentId;
use super::events::{self, NewEvent};
use super::statements::{Stmt, Val};
use super::{Store, StoreError};
use crate::domain::{EventKind, Next, TouchKind};
use crate::sequence::condition::Engagement;

impl Store {
    /// The opens and clicks of each enrollment's emails by a person, by step (a link scanner's
    /// click and a privacy proxy's open are left out). An enrollment with none is left out.
    pub async fn engagement(
        &self,
        enrollments: &[EnrollmentId],
    ) -> Result<HashMap<EnrollmentId, Engagement>, StoreError> {
        let mut out: HashMap<EnrollmentId, Engagement> = HashMap::new();
        for chunk in enrollments.chunks(500) {
            let ids = Val::List(chunk.iter().map(|e| Val::from(e.0)).collect());
            let mut q = Stmt::new(self.backend);
            q.sql_args(include_str!("sql/skips/engagement.sql"), &[ids]);
            for r in q.fetch_all(&self.pool).await? {
                // A scanner's click or a proxy's open is nobody's interest.
                let data: String = r.try_get("data")?;
                let human = serde_json::from_str::<serde_json::Value>(&data)
                    .ok()
                    .and_then(|v| v.get("human")?.as_bool())
                    .unwrap_or(true);
                if !human {
                    continue;
                }
                let e = out
                    .entry(EnrollmentId(r.try_get("enrollment_id")?))
                    .or_default();
                let step: String = r.try_get("step_id")?;
                match r.try_get::<String, _>("kind")?.as_str() {
                    "clicked" => e.clicked.insert(step),
                    _ => e.opened.insert(step),
                };
            }
        }
        Ok(out)
    }

    /// Step `step` of the enrollment `leased` by `instance` is skipped (its condition does not
    /// hold, `why`): a `skipped` touch records it, and the enrollment moves to `next` (or
    /// finishes, with an event). Nothing changes when it is no longer active and ours.
    pub async fn skip_step(
        &self,
        instance: &str,
        leased: &Leased,
        (step, kind): (&str, TouchKind),
        why: &str,
        next: &Next,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let (step_id, due, finished) = match next {
            Next::Step { id, due_at } => (Some(id.as_str()), *due_at, false),
            Next::Finished => (None, now, true),
        };
        let moved = sqlx::query(include_str!("sql/skips/advance_leased.sql"))
            .bind(step_id)
            .bind(due)
            .bind(now)
            .bind(leased.enrollment.0)
            .bind(instance)
            .bind(if finished { "finished" } else { "active" })
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if moved != 1 {
            return Ok(false);
        }
        sqlx::query(include_str!("sql/skips/skip_touch.sql"))
            .bind(leased.enrollment.0)
            .bind(leased.lead.0)
            .bind(&leased.sequence_id)
            .bind(step)
            .bind(kind.as_str())
            .bind(why)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        if finished {
            let mut ev = NewEvent::about(EventKind::Finished, Some(leased.lead));
            ev.enrollment = Some(leased.enrollment);
            ev.sequence = Some(&leased.sequence_id);
            ev.step = Some(step);
            ev.data = serde_json::json!({ "reason": why });
            events::insert(&mut tx, &ev, now).await?;
        }
        tx.commit().await?;
        Ok(true)
    }
}

//! What goes into a rep's digest, read from the store and the catalog.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::{DayCounts, Digest, ReplyItem, SendItem, TaskItem, rep_zone, rfc3339};
use crate::catalog::{Catalog, StepKind};
use crate::config::{Config, Mailbox, parse_tz};
use crate::notify::{person, rep_for};
use crate::schedule::SendWindow;
use crate::schedule::pacing::{day_start, next_day_start};
use crate::send::{Deal, choose_mailbox};
use crate::store::{DueStep, Store, StoreError, TaskFilter};

/// Gathers `rep`'s digest at `now`.
pub async fn gather(
    config: &Config,
    catalog: &Catalog,
    store: &Store,
    rep: &Mailbox,
    now: DateTime<Utc>,
) -> Result<Digest, StoreError> {
    let tz = rep_zone(config, rep);
    let g = Gathering {
        config,
        catalog,
        store,
        rep,
        now,
        tz,
        today: day_start(tz, now),
        tomorrow: next_day_start(tz, now),
    };
    let replies = g.replies().await?;
    let tasks = g.tasks().await?;
    let sends = g.sends().await?;
    let yesterday = g.yesterday().await?;
    Ok(Digest {
        rep: rep.name.clone(),
        timezone: tz.name().to_string(),
        date: now.with_timezone(&tz).date_naive().to_string(),
        generated_at: rfc3339(now.timestamp()),
        replies,
        tasks,
        sends,
        yesterday,
    })
}

/// One rep's digest being gathered: the rep's day runs from `today` to `tomorrow` (unix
/// seconds) in `tz`.
struct Gathering<'a> {
    config: &'a Config,
    catalog: &'a Catalog,
    store: &'a Store,
    rep: &'a Mailbox,
    now: DateTime<Utc>,
    tz: Tz,
    today: i64,
    tomorrow: i64,
}

impl Gathering<'_> {
    /// Whether `m` is the rep's mailbox.
    fn is_rep(&self, m: Option<&Mailbox>) -> bool {
        m.is_some_and(|m| m.name == self.rep.name)
    }

    /// Whether a lead with this owner (as stored) is the rep's.
    fn owns(&self, owner: Option<&str>) -> bool {
        self.is_rep(rep_for(self.config, owner, None))
    }

    /// The rep's human replies not handled yet.
    async fn replies(&self) -> Result<Vec<ReplyItem>, StoreError> {
        Ok(self
            .store
            .waiting_replies()
            .await?
            .into_iter()
            .filter(|r| self.is_rep(rep_for(self.config, r.owner.as_deref(), Some(&r.mailbox))))
            .map(|r| {
                let text = |k: &str| {
                    r.evidence
                        .get(k)
                        .and_then(|v| v.as_str())
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                };
                ReplyItem {
                    id: r.id,
                    lead: person(&r.email, r.first_name.as_deref(), r.last_name.as_deref()),
                    email: r.email,
                    company: r.company,
                    sequence: r.sequence_id,
                    kind: r.kind,
                    subject: text("subject"),
                    snippet: text("snippet"),
                    received_at: rfc3339(r.received_at),
                    at: r.received_at,
                }
            })
            .collect())
    }

    /// The rep's open tasks due before tomorrow.
    async fn tasks(&self) -> Result<Vec<TaskItem>, StoreError> {
        Ok(self
            .store
            .tasks(&TaskFilter {
                owner: None,
                due_before: Some(self.tomorrow),
                all: false,
            })
            .await?
            .into_iter()
            .filter(|t| self.owns(t.owner.as_deref()))
            .map(|t| TaskItem {
                id: t.id,
                kind: t.kind,
                lead: person(&t.email, t.first_name.as_deref(), t.last_name.as_deref()),
                email: t.email,
                company: t.company,
                phone: t.phone,
                note: t.note,
                sequence: t.sequence_id,
                due_at: rfc3339(t.due_at),
                overdue: t.due_at < self.today,
                at: t.due_at,
            })
            .collect())
    }

    /// The steps that leave today for the rep's leads or from the rep's mailbox, soonest
    /// first.
    async fn sends(&self) -> Result<Vec<SendItem>, StoreError> {
        let mut sends: Vec<SendItem> = self
            .store
            .steps_due_before(self.tomorrow)
            .await?
            .into_iter()
            .filter_map(|s| self.send(s))
            .collect();
        sends.sort_by_key(|s| (s.at, s.enrollment));
        Ok(sends)
    }

    /// The step as the digest lists it, when it leaves today and is the rep's.
    fn send(&self, s: DueStep) -> Option<SendItem> {
        let config = self.config;
        let seq = self.catalog.sequence(&s.sequence_id);
        // Only what leaves today: a step due today whose window opens tomorrow waits for it.
        // Its sequence gone from the catalog, the scheduler pauses it: nothing leaves.
        let q = seq?;
        let lead_tz = s.timezone.as_deref().and_then(|t| parse_tz(t).ok());
        let zone = q.window.zone_for(lead_tz, config.timezone);
        let window = q
            .window
            .for_lead(crate::schedule::Country::of_lead(None, zone));
        let leaves = leaves_at(&window, zone, s.due_at, self.now).filter(|t| *t < self.tomorrow)?;
        let from = choose_mailbox(
            config,
            q,
            Deal::Enrollment(s.enrollment),
            s.owner.as_deref(),
            s.mailbox.as_deref(),
        );
        if !(self.owns(s.owner.as_deref()) || self.is_rep(from)) {
            return None;
        }
        let step_kind = s
            .step_id
            .as_deref()
            .and_then(|id| q.step(id))
            .map(|st| match &st.kind {
                StepKind::Email(_) => "email".to_string(),
                StepKind::Task(t) => t.kind.as_str().to_string(),
            });
        Some(SendItem {
            enrollment: s.enrollment,
            lead: person(&s.email, s.first_name.as_deref(), s.last_name.as_deref()),
            email: s.email,
            company: s.company,
            sequence: s.sequence_id,
            step: s.step_id,
            step_kind,
            mailbox: from.map(|m| m.name.clone()),
            due_at: rfc3339(s.due_at),
            leaves_at: rfc3339(leaves),
            at: leaves,
        })
    }

    /// Yesterday's numbers for the rep's mailbox (and, for events that name no mailbox, the
    /// rep's leads).
    async fn yesterday(&self) -> Result<DayCounts, StoreError> {
        let (tz, today) = (self.tz, self.today);
        let yesterday =
            DateTime::from_timestamp(today - 1, 0).map_or(today - 86_400, |t| day_start(tz, t));
        let mut counts = DayCounts {
            date: DateTime::from_timestamp(yesterday, 0)
                .map(|t| t.with_timezone(&tz).date_naive().to_string())
                .unwrap_or_default(),
            ..DayCounts::default()
        };
        let kinds = [
            "sent",
            "replied",
            "bounced",
            "unsubscribed",
            "meeting-booked",
        ];
        for c in self.store.event_counts(&kinds, yesterday, today).await? {
            let mine = match &c.mailbox {
                Some(m) => *m == self.rep.name,
                None => self.owns(c.owner.as_deref()),
            };
            if !mine {
                continue;
            }
            let slot = match c.kind.as_str() {
                "sent" => &mut counts.sent,
                "replied" => &mut counts.replies,
                "bounced" => &mut counts.bounces,
                "unsubscribed" => &mut counts.unsubscribes,
                _ => &mut counts.meetings,
            };
            *slot += c.count;
        }
        Ok(counts)
    }
}

/// When a step due at `due` leaves, seen at `now`: at once if it is due and the window is
/// open, else at the window's next opening in `tz` (the lead's zone). None when the window
/// never opens (the scheduler pauses such an enrollment).
fn leaves_at(window: &SendWindow, tz: Tz, due: i64, now: DateTime<Utc>) -> Option<i64> {
    let from = DateTime::from_timestamp(due.max(now.timestamp()), 0)?;
    window.next_opening(tz, from).map(|t| t.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_leaves_when_due_or_at_the_windows_next_opening() {
        let w = SendWindow::business_hours();
        let ny: Tz = "America/New_York".parse().expect("zone");
        let la: Tz = "America/Los_Angeles".parse().expect("zone");
        let t = |s: &str| DateTime::parse_from_rfc3339(s).expect("time").to_utc();
        // Wednesday 2 December 2026, 10:00 in New York.
        let now = t("2026-12-02T15:00:00Z");
        // Due an hour ago, window open: now.
        let due = t("2026-12-02T14:00:00Z").timestamp();
        assert_eq!(leaves_at(&w, ny, due, now), Some(now.timestamp()));
        // Due at 18:00 New York time: the next morning at 09:00.
        let due = t("2026-12-02T23:00:00Z").timestamp();
        assert_eq!(
            leaves_at(&w, ny, due, now),
            Some(t("2026-12-03T14:00:00Z").timestamp())
        );
        // The same instant in Los Angeles is 15:00, inside its window.
        assert_eq!(leaves_at(&w, la, due, now), Some(due));
        // Due Saturday: Monday 09:00.
        let due = t("2026-12-05T15:00:00Z").timestamp();
        assert_eq!(
            leaves_at(&w, ny, due, now),
            Some(t("2026-12-07T14:00:00Z").timestamp())
        );
        // A window that never opens: never.
        let never = SendWindow {
            days: crate::schedule::Weekdays::NONE,
            ..SendWindow::business_hours()
        };
        assert_eq!(leaves_at(&never, ny, due, now), None);
    }
}

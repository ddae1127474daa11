//! A task's due time as the rep and the lead each see it: tasks come due in the rep's working
//! hours (the owner mailbox's zone), and the rep calls the lead in the lead's.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::config::{Config, parse_tz};
use crate::schedule::pacing::day_start;
use crate::store::TaskRow;

/// When a task is due, in the rep's zone and in the lead's.
#[derive(Debug, Clone, Serialize)]
pub struct TaskTimes {
    /// The due time in the rep's zone (RFC 3339 with its offset).
    pub due_rep: Option<String>,
    /// The rep's zone: the owner mailbox's `timezone`, else config.toml's.
    pub rep_timezone: String,
    /// The due time in the lead's zone.
    pub due_lead: Option<String>,
    /// The lead's zone (config.toml's when the lead has none).
    pub lead_timezone: String,
    /// Open and due before today began in the rep's zone.
    pub overdue: bool,
    #[serde(skip)]
    shown: String,
}

impl TaskTimes {
    /// The times of `task` at `now`.
    pub fn of(config: &Config, task: &TaskRow, now: DateTime<Utc>) -> TaskTimes {
        let rep: Tz = task
            .owner
            .as_deref()
            .and_then(|o| config.mailbox(o))
            .map_or(config.timezone, |m| m.timezone);
        let lead: Tz = task
            .timezone
            .as_deref()
            .and_then(|t| parse_tz(t).ok())
            .unwrap_or(config.timezone);
        let due = DateTime::<Utc>::from_timestamp(task.due_at, 0);
        let shown = due.map_or_else(String::new, |d| in_two_zones(d, rep, lead));
        TaskTimes {
            due_rep: due.map(|d| d.with_timezone(&rep).to_rfc3339()),
            rep_timezone: rep.name().to_string(),
            due_lead: due.map(|d| d.with_timezone(&lead).to_rfc3339()),
            lead_timezone: lead.name().to_string(),
            overdue: task.state == "open" && task.due_at < day_start(rep, now),
            shown,
        }
    }

    /// `Mon 2026-03-16 09:00 EDT (rep, America/New_York) / 22:00 JST (lead, Asia/Tokyo)`.
    pub fn shown(&self) -> &str {
        &self.shown
    }
}

/// `Mon 2026-03-16 09:00 EDT (rep, America/New_York) / 22:00 JST (lead, Asia/Tokyo)`: a time
/// as the rep and the lead each see it (the lead's date only where it differs).
pub fn in_two_zones(at: DateTime<Utc>, rep: Tz, lead: Tz) -> String {
    let (r, l) = (at.with_timezone(&rep), at.with_timezone(&lead));
    let lead_part = if r.date_naive() == l.date_naive() {
        l.format("%H:%M %Z")
    } else {
        l.format("%a %H:%M %Z")
    };
    format!(
        "{} (rep, {}) / {lead_part} (lead, {})",
        r.format("%a %Y-%m-%d %H:%M %Z"),
        rep.name(),
        lead.name()
    )
}

//! The daily digest: for one rep, at one instant, in the rep's time zone — the replies waiting
//! for an answer, the tasks due today and overdue, what the sequences send today for the rep's
//! leads or from the rep's mailbox, and yesterday's numbers. `drumbeat digest` prints the same
//! thing the daemon sends.

mod gather;
mod render;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::config::{Config, Mailbox};

pub use gather::gather;
pub use render::render;

/// One rep's digest.
#[derive(Debug, Clone, Serialize)]
pub struct Digest {
    /// The rep (a mailbox name).
    pub rep: String,
    /// The rep's time zone.
    pub timezone: String,
    /// Today, in that zone (`2026-12-02`).
    pub date: String,
    /// When it was made (RFC 3339, UTC).
    pub generated_at: String,
    /// Human replies not handled yet, oldest first.
    pub replies: Vec<ReplyItem>,
    /// Open tasks due today or before, oldest first.
    pub tasks: Vec<TaskItem>,
    /// Steps due before the end of today, soonest first.
    pub sends: Vec<SendItem>,
    /// Yesterday's numbers.
    pub yesterday: DayCounts,
}

/// A reply waiting for the rep.
#[derive(Debug, Clone, Serialize)]
pub struct ReplyItem {
    /// What `drumbeat reply handled` takes.
    pub id: i64,
    /// The lead's address.
    pub email: String,
    /// "Name <address>".
    pub lead: String,
    /// Company.
    pub company: Option<String>,
    /// The sequence it answers.
    pub sequence: Option<String>,
    /// `reply` or `later`.
    pub kind: String,
    /// Its subject.
    pub subject: Option<String>,
    /// Its first lines.
    pub snippet: Option<String>,
    /// When it arrived (RFC 3339).
    pub received_at: String,
    #[serde(skip)]
    at: i64,
}

/// A task due.
#[derive(Debug, Clone, Serialize)]
pub struct TaskItem {
    /// What `drumbeat task done` takes.
    pub id: i64,
    /// call, linkedin, custom.
    pub kind: String,
    /// The lead's address.
    pub email: String,
    /// "Name <address>".
    pub lead: String,
    /// Company.
    pub company: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// The note.
    pub note: Option<String>,
    /// Its sequence.
    pub sequence: Option<String>,
    /// When it came due (RFC 3339).
    pub due_at: String,
    /// Due before today.
    pub overdue: bool,
    #[serde(skip)]
    at: i64,
}

/// A step the sequences run today.
#[derive(Debug, Clone, Serialize)]
pub struct SendItem {
    /// The enrollment.
    pub enrollment: i64,
    /// The lead's address.
    pub email: String,
    /// "Name <address>".
    pub lead: String,
    /// Company.
    pub company: Option<String>,
    /// Sequence.
    pub sequence: String,
    /// Step.
    pub step: Option<String>,
    /// `email`, or the task kind (`call`…); None when the sequence is not loaded.
    pub step_kind: Option<String>,
    /// The mailbox it leaves from.
    pub mailbox: Option<String>,
    /// When it is due (RFC 3339).
    pub due_at: String,
    /// When it leaves (RFC 3339): when it is due, or the send window's next opening in the
    /// lead's zone (before jitter, caps and gaps, which can move it a little later).
    pub leaves_at: String,
    #[serde(skip)]
    at: i64,
}

/// A day's numbers for the rep's mailbox.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct DayCounts {
    /// The day (`2026-12-01`).
    pub date: String,
    /// Emails sent.
    pub sent: i64,
    /// Human replies.
    pub replies: i64,
    /// Bounces.
    pub bounces: i64,
    /// Unsubscribes.
    pub unsubscribes: i64,
    /// Meetings booked.
    pub meetings: i64,
}

/// The zone a rep's digest and notices use: `[mailbox.notify] timezone`, else config.toml's.
pub fn rep_zone(config: &Config, rep: &Mailbox) -> Tz {
    rep.notify.as_ref().map_or(config.timezone, |n| n.timezone)
}

fn rfc3339(at: i64) -> String {
    DateTime::<Utc>::from_timestamp(at, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

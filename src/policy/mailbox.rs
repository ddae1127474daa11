//! Whether a sending mailbox must pause: its provider signed it out, or its recent bounces,
//! complaints and refusals say its reputation is at risk.

use crate::config::Health;

/// A mailbox signed out of its provider (the OAuth2 refresh token refused, `why`): it pauses
/// until a person runs `drumbeat auth` and resumes it; the pause says so.
pub fn signed_out(why: &str) -> String {
    format!("signed out: {why}")
}

/// A sending mailbox's recent record (see `Store::mailbox_figures`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct HealthFigures {
    /// Sends counted for the hard-bounce rate (at most `bounce_window`).
    pub bounce_sends: i64,
    /// Hard bounces since the first of them.
    pub hard_bounces: i64,
    /// Sends counted for the complaint rate (at most `complaint_window`).
    pub complaint_sends: i64,
    /// Complaints since the first of them.
    pub complaints: i64,
    /// Refusals of the sender in the last 24 hours.
    pub blocks_today: i64,
}

/// Why a mailbox must pause, with its figures, or `None` while it is healthy. A rate is taken
/// over the full window even before the mailbox has sent that many (4 hard bounces in its
/// first 20 sends pause it; 1 does not).
pub fn mailbox_health(f: HealthFigures, limits: &Health) -> Option<String> {
    let over = |n: i64, sends: i64, window: i64, rate: f64| {
        n > 0 && n as f64 / sends.max(window) as f64 > rate
    };
    if over(
        f.hard_bounces,
        f.bounce_sends,
        limits.bounce_window,
        limits.hard_bounce_rate,
    ) {
        return Some(format!(
            "hard bounces: {} in the last {} sends (limit {:.1}% of {})",
            f.hard_bounces,
            f.bounce_sends,
            limits.hard_bounce_rate * 100.0,
            limits.bounce_window
        ));
    }
    if over(
        f.complaints,
        f.complaint_sends,
        limits.complaint_window,
        limits.complaint_rate,
    ) {
        return Some(format!(
            "spam complaints: {} in the last {} sends (limit {:.1}% of {})",
            f.complaints,
            f.complaint_sends,
            limits.complaint_rate * 100.0,
            limits.complaint_window
        ));
    }
    (f.blocks_today >= limits.blocks_per_day).then(|| {
        format!(
            "refused as a sender {} times in the last 24 hours (limit {}): block list, \
             authentication or reputation; run `drumbeat doctor`",
            f.blocks_today, limits.blocks_per_day
        )
    })
}

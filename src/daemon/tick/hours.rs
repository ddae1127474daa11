//! Whose hours a due step keeps: an email the sequence's window in the lead's time zone (with
//! the lead's holidays), a task the rep's working hours in the rep's zone (the mailbox's), so
//! a call to a lead in Tokyo comes due in the rep's morning, not in the rep's night.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::decide::Decision;
use crate::catalog::{Sequence, StepKind};
use crate::config::{Config, Mailbox};
use crate::context::{lead_window, rep_window};
use crate::plan::{jitter_seed, spread};
use crate::sequence::Step;
use crate::store::StoredLead;

/// The zone the step is decided in, and, when its hours are closed at `now`, the decision to
/// wait for their next opening (spread by jitter).
pub(super) fn check(
    config: &Config,
    seq: &Sequence,
    step: &Step,
    lead: &StoredLead,
    mailbox: &Mailbox,
    now: DateTime<Utc>,
) -> (Tz, Option<Decision>) {
    let (lead_hours, lead_tz) = lead_window(seq, lead, config.timezone);
    let (window, tz) = match step.kind {
        StepKind::Task(_) => rep_window(mailbox),
        StepKind::Email(_) => (lead_hours, lead_tz),
    };
    if window.is_open(tz, now) {
        return (lead_tz, None);
    }
    let seed = jitter_seed(lead.record.email.as_str(), &seq.id, &step.id);
    let decision = match spread(&window, tz, now, seed, config.sending.jitter) {
        Some(open) => Decision::Defer(Some(step.id.clone()), open.timestamp()),
        None => Decision::Pause("the send window never opens".into()),
    };
    (lead_tz, Some(decision))
}

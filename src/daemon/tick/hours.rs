//! Whose hours a due step keeps: an email the sequence's window in the lead's time zone (with
//! the lead's holidays), a task the rep's working hours in the rep's zone (the mailbox's), so
//! a call to a lead in Tokyo comes due in the rep's morning, not in the rep's night.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::Round;
use super::decide::{Decision, DeferWhy};
use crate::catalog::{Sequence, StepKind};
use crate::config::{Config, Mailbox};
use crate::context::{lead_window, rep_window};
use crate::plan::{jitter_seed, spread};
use crate::sequence::Step;
use crate::store::StoredLead;

/// The lead's zone when the step may go now; else the decision to wait: for its hours' next
/// opening (emails the lead's window, tasks the rep's working hours), or for the end of a
/// planned pause that covers it.
pub(super) fn gate(
    round: &Round,
    config: &Config,
    (seq, step): (&Sequence, &Step),
    lead: &StoredLead,
    mailbox: &Mailbox,
) -> Result<Tz, Decision> {
    let (tz, closed) = check(config, seq, step, lead, mailbox, round.now);
    if let Some(closed) = closed {
        return Err(closed);
    }
    match super::holds::held(round, seq, &step.id, mailbox) {
        Some(held) => Err(held),
        None => Ok(tz),
    }
}

/// The zone the step is decided in, and, when its hours are closed at `now`, the decision to
/// wait for their next opening (spread by jitter).
fn check(
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
        Some(open) => Decision::Defer(Some(step.id.clone()), open.timestamp(), DeferWhy::Window),
        None => Decision::Pause("the send window never opens".into()),
    };
    (lead_tz, Some(decision))
}

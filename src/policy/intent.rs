//! What the intent of a reply does to the lead (see [`crate::intent`] for how it is read).

use super::{Decision, Effect, REFERRAL_TASK, Stop, StopRules};
use crate::domain::{EventKind, InboundKind};
use crate::enrollment::EnrollmentState;
use crate::intent::Intent;

/// A person's reply whose intent is clear: it stops the lead as any reply does, with the intent
/// as the outcome. Interest and a meeting request stop as a reply does (the whole account when
/// the sequence says so) and reach the rep at once; "not interested" and "wrong person" stop
/// this lead only; a referral stops this lead and gives the rep a task to approve enrolling the
/// people it names (never an automatic send).
pub(super) fn reply(intent: Intent, rules: StopRules) -> Decision {
    let (outcome, reason, account) = match intent {
        Intent::Interested => ("interested", "the lead is interested", rules.stop_account),
        Intent::MeetingRequest => (
            "meeting-request",
            "the lead asked for a meeting",
            rules.stop_account,
        ),
        Intent::NotInterested => ("not-interested", "the lead is not interested", false),
        Intent::WrongPerson => ("wrong-person", "the lead is not the right person", false),
        Intent::Referral => ("referral", "the lead referred someone else", false),
        Intent::Unclear => ("replied", "the lead replied", rules.stop_account),
    };
    Decision {
        notify_rep: intent != Intent::NotInterested,
        rep_task: (intent == Intent::Referral).then_some(REFERRAL_TASK),
        ..Decision::record(
            EventKind::Replied,
            Effect::Stop(Stop {
                account,
                ..super::stop(EnrollmentState::Replied, outcome, reason)
            }),
        )
    }
}

/// An automatic reply that names a replacement (a referral: the rep's task) or says the person
/// has left. Someone who has left stops, and the rep hears of it; someone away who names a
/// stand-in waits as any out-of-office does.
pub(super) fn auto_reply(
    intent: Intent,
    left: bool,
    until: Option<i64>,
    rules: StopRules,
    now: i64,
) -> Decision {
    let away = super::inbound(InboundKind::AutoReply, until, rules, now);
    let effect = if left {
        Effect::Stop(super::stop(
            EnrollmentState::Stopped,
            "left-company",
            "the lead has left the company",
        ))
    } else {
        away.effect
    };
    Decision {
        notify_rep: left,
        rep_task: (intent == Intent::Referral).then_some(REFERRAL_TASK),
        effect,
        ..away
    }
}

/// [`super::effect_name`] refined by a message's intent, for `classify --json`: a reply that
/// stops only its lead says `stop-lead`, a referral adds `-and-rep-task`.
pub fn intent_effect_name(
    kind: InboundKind,
    reason: Option<crate::bounce::Reason>,
    intent: Option<Intent>,
    left: bool,
) -> &'static str {
    match (kind, intent, left) {
        (InboundKind::Reply, Some(Intent::NotInterested | Intent::WrongPerson), _)
        | (InboundKind::AutoReply, Some(Intent::WrongPerson), true) => "stop-lead",
        (InboundKind::Reply, Some(Intent::Referral), _)
        | (InboundKind::AutoReply, Some(Intent::Referral), true) => "stop-lead-and-rep-task",
        (InboundKind::AutoReply, Some(Intent::Referral), false) => "pause-and-rep-task",
        _ => super::effect_name(kind, reason),
    }
}

#[cfg(test)]
mod tests;

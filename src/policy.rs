//! What a signal does to a lead, decided in one place (DESIGN.md invariant 9): a pure function
//! from a signal (a classified message in the mailbox, an email provider's event, an
//! unsubscribe link followed, a meeting booked) and the
//! sequence's stop rules to an [`Effect`]. The store applies the effect in the transaction
//! that records the signal; it does not decide it. Whether a follow-up may go out while its
//! mailbox's inbox cannot be read is decided here too ([`inbox_gate`]), and so is who may join a
//! sequence ([`admit`]).

mod admission;
mod crm;
mod inbox_gate;
mod intent;
mod mailbox;

pub use admission::{EnrollFacts, EnrollRules, Refusal, admit};
pub use crm::crm_stop_stage;
pub use inbox_gate::{Gate, InboxRead, InboxWait, inbox_gate};
pub use intent::intent_effect_name;
pub use mailbox::{HealthFigures, mailbox_health, signed_out};

use crate::bounce::{Reason, Side};
use crate::domain::{EventKind, InboundKind, ProviderKind};
use crate::enrollment::EnrollmentState;
use crate::intent::Intent;
use crate::sequence::{OnAutoReply, OnReply, Sequence};

/// A lead-side soft bounce this many times for one lead (from the inbox or any provider)
/// stops the lead as bounced; the address is not suppressed (it may work again).
pub const SOFT_BOUNCE_LIMIT: i64 = 3;

/// How long the first lead-side soft bounce holds its enrollment; each further one doubles it
/// (a day, then two), so the limit is reached only over several days.
pub const SOFT_BOUNCE_PAUSE: i64 = 86_400;

/// The wait after the `n`th soft bounce (1-based): a day, two days, four…
pub fn soft_bounce_wait(n: i64) -> i64 {
    SOFT_BOUNCE_PAUSE << n.clamp(1, 6).saturating_sub(1)
}

/// A sequence's stop rules (its `stop:` block).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StopRules {
    /// A reply stops every open enrollment of the lead's account, not only the lead's.
    pub stop_account: bool,
    /// An auto-reply with a return date pauses the enrollment until then.
    pub pause_on_auto_reply: bool,
}

impl StopRules {
    /// A sequence's rules; [`StopRules::DEFAULT`] when the sequence is gone from the catalog.
    pub fn of(sequence: Option<&Sequence>) -> StopRules {
        match sequence {
            Some(s) => StopRules {
                stop_account: s.stop.on_reply == OnReply::StopAccount,
                pause_on_auto_reply: s.stop.on_auto_reply == OnAutoReply::Pause,
            },
            None => StopRules::DEFAULT,
        }
    }

    /// The rules of a lead whose sequence is gone from the catalog.
    pub const DEFAULT: StopRules = StopRules {
        stop_account: false,
        pause_on_auto_reply: true,
    };
}

/// Something drumbeat heard about a message it sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// A message in the mailbox, classified; `until` is an auto-reply's return date or a
    /// "later" reply's snooze date (unix seconds, computed in the lead's zone).
    Inbound {
        /// What the message is.
        kind: InboundKind,
        /// A bounce's reason (sisimai's taxonomy), when the report says.
        reason: Option<Reason>,
        /// When the lead is back, or asked to be written to again.
        until: Option<i64>,
        /// What a person's reply means (or an automatic reply that names a replacement or says
        /// the person has left), when the text decides.
        intent: Option<Intent>,
        /// The writer says they have left the company.
        left: bool,
    },
    /// An email provider's webhook event.
    Provider(ProviderKind),
    /// The lead followed an email's unsubscribe link (or a mail client's one-click
    /// List-Unsubscribe).
    UnsubscribeLink,
    /// A meeting was booked with the lead (a scheduling tool's webhook, the API).
    MeetingBooked,
    /// The CRM (HubSpot, Pipedrive) says the lead's deal moved on: its lifecycle stage or a
    /// deal's stage is one config.toml names under `stop_stages`.
    CrmStage,
}

/// What is known of the lead when the signal arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    /// The signal is about one of our leads (not only an address).
    pub lead: bool,
    /// Lead-side soft bounces recorded for the lead so far, this one included.
    pub soft_bounces: i64,
}

/// What a signal counts against the sending mailbox's health.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strike {
    /// The address was gone: the list was not clean.
    HardBounce,
    /// The recipient marked a message as spam.
    Complaint,
    /// The receiver refused the sender (block list, authentication, reputation, rate).
    Block,
}

impl Strike {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Strike::HardBounce => "hard-bounce",
            Strike::Complaint => "complaint",
            Strike::Block => "block",
        }
    }
}

/// Why an address goes on the suppression list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SuppressReason {
    /// The lead asked to be removed.
    Unsubscribed,
    /// The address does not work.
    Bounced,
    /// The lead marked a message as spam.
    Complained,
}

impl SuppressReason {
    /// The stored reason.
    pub fn as_str(self) -> &'static str {
        match self {
            SuppressReason::Unsubscribed => "unsubscribed",
            SuppressReason::Bounced => "bounced",
            SuppressReason::Complained => "complained",
        }
    }
}

/// Every open enrollment of the lead ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stop {
    /// The state they end in.
    pub state: EnrollmentState,
    /// The stored outcome.
    pub outcome: &'static str,
    /// Why, for `status` and `lead show`.
    pub reason: &'static str,
    /// Also the open enrollments of the other leads at the same account (a reply, when the
    /// sequence says `on_reply: stop-account`).
    pub account: bool,
    /// The lead's address goes on the suppression list.
    pub suppress: Option<SuppressReason>,
}

/// What the store does about a signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Record it; nothing changes.
    Nothing,
    /// The lead's open enrollments end (see [`Stop`]).
    Stop(Stop),
    /// The enrollment the signal is about waits until `until` (or until resumed by hand).
    Pause {
        /// When it goes on.
        until: Option<i64>,
        /// Why.
        reason: &'static str,
    },
    /// No lead of ours has the address, yet it must never be emailed.
    SuppressAddress(SuppressReason),
}

/// The kind of the rep's task to answer a challenge-response request.
pub const CHALLENGE_TASK: &str = "challenge";

/// The kind of the rep's task to approve enrolling someone a reply referred them to.
pub const REFERRAL_TASK: &str = "referral";

/// The decision on one signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// The event recorded (none for a provider's "deferred": the provider is still trying).
    pub event: Option<EventKind>,
    /// What changes.
    pub effect: Effect,
    /// A person answered: the rep hears of it.
    pub notify_rep: bool,
    /// For a bounce: whether it counts as hard (the address is gone).
    pub hard_bounce: Option<bool>,
    /// What it counts against the sending mailbox.
    pub strike: Option<Strike>,
    /// A task for the rep (its kind), for what only a person can do.
    pub rep_task: Option<&'static str>,
}

impl Decision {
    fn record(event: EventKind, effect: Effect) -> Decision {
        Decision {
            event: Some(event),
            effect,
            notify_rep: false,
            hard_bounce: None,
            strike: None,
            rep_task: None,
        }
    }
}

/// Whether a message of this kind may change anything only when it is tied to an email we
/// sent (our Message-ID in its references, or in a bounce report's copy of our headers). A
/// bounce or an unsubscribe request that only names an address could come from anyone (a
/// forged delivery report, a spoofed From:): it waits for the rep.
/// A contact export says a person opted out of email (a `Do Not Email`, `unsubscribed` or
/// `subscribed_to_emails=false` column): the address goes on the suppression list as
/// unsubscribed, so importing them never makes them reachable.
pub fn exported_opt_out() -> SuppressReason {
    SuppressReason::Unsubscribed
}

pub fn needs_our_email(kind: InboundKind) -> bool {
    matches!(
        kind,
        InboundKind::BounceHard
            | InboundKind::BounceSoft
            | InboundKind::Unsubscribe
            | InboundKind::Complaint
    )
}

/// Whether the rep should read a message of this kind (it stays in `replies` until handled):
/// a person's reply, a "later" reply without a date drumbeat could read, and a
/// challenge-response request (only a person can answer it: the rep's task).
pub fn rep_reads(kind: InboundKind, until: Option<i64>) -> bool {
    match kind {
        InboundKind::Reply | InboundKind::Challenge => true,
        InboundKind::Later => until.is_none(),
        _ => false,
    }
}

/// What `signal` does, under `rules`, given what is `seen` of the lead, at `now`.
pub fn decide(signal: Signal, rules: StopRules, seen: Seen, now: i64) -> Decision {
    match signal {
        Signal::Inbound {
            kind: kind @ (InboundKind::BounceHard | InboundKind::BounceSoft),
            reason,
            ..
        } => bounce(bounce_side(kind, reason), seen, now),
        Signal::Inbound {
            kind: InboundKind::Reply,
            intent: Some(intent),
            ..
        } if intent != Intent::Unclear => intent::reply(intent, rules),
        Signal::Inbound {
            kind: InboundKind::AutoReply,
            intent: Some(intent @ (Intent::Referral | Intent::WrongPerson)),
            left,
            until,
            ..
        } => intent::auto_reply(intent, left, until, rules, now),
        Signal::Inbound { kind, until, .. } => inbound(kind, until, rules, now),
        Signal::Provider(kind) => provider(kind, seen),
        Signal::UnsubscribeLink => Decision::record(
            EventKind::Unsubscribed,
            Effect::Stop(Stop {
                suppress: Some(SuppressReason::Unsubscribed),
                ..stop(
                    EnrollmentState::Unsubscribed,
                    "unsubscribed",
                    "the lead unsubscribed",
                )
            }),
        ),
        Signal::MeetingBooked => Decision::record(
            EventKind::MeetingBooked,
            Effect::Stop(stop(
                EnrollmentState::Stopped,
                "meeting-booked",
                "a meeting was booked",
            )),
        ),
        Signal::CrmStage => Decision::record(
            EventKind::Stopped,
            Effect::Stop(stop(
                EnrollmentState::Stopped,
                "crm-stage",
                "the CRM says the deal moved on",
            )),
        ),
    }
}

fn stop(state: EnrollmentState, outcome: &'static str, reason: &'static str) -> Stop {
    Stop {
        state,
        outcome,
        reason,
        account: false,
        suppress: None,
    }
}

const BOUNCED: Stop = Stop {
    state: EnrollmentState::Bounced,
    outcome: "bounced",
    reason: "the address bounced",
    account: false,
    suppress: Some(SuppressReason::Bounced),
};

/// The lead stops after soft bounce after soft bounce; the address may work again, so it
/// is not suppressed.
const SOFT_BOUNCED: Stop = Stop {
    reason: "the address kept bouncing (soft)",
    suppress: None,
    ..BOUNCED
};

/// The complaint stop, from the inbox (ARF) or a provider.
const COMPLAINED: Stop = Stop {
    state: EnrollmentState::Unsubscribed,
    outcome: "unsubscribed",
    reason: "the lead marked a message as spam",
    account: false,
    suppress: Some(SuppressReason::Complained),
};

/// The side of a bounce: its reason's, else what the classifier called it.
fn bounce_side(kind: InboundKind, reason: Option<Reason>) -> Side {
    match reason.map(Reason::side) {
        Some(side @ (Side::Hard | Side::LeadSoft | Side::Sender)) => side,
        _ if kind == InboundKind::BounceHard => Side::Hard,
        _ => Side::LeadSoft,
    }
}

/// A bounce, by its side: hard stops and suppresses; lead-side soft waits a day, then two,
/// and the third stops the lead (address kept); sender-side leaves the lead where it is and
/// counts against the mailbox.
pub fn bounce(side: Side, seen: Seen, now: i64) -> Decision {
    let (effect, hard, strike) = match side {
        Side::Hard => (Effect::Stop(BOUNCED), true, Some(Strike::HardBounce)),
        Side::LeadSoft if seen.soft_bounces >= SOFT_BOUNCE_LIMIT => {
            (Effect::Stop(SOFT_BOUNCED), false, None)
        }
        Side::LeadSoft => (
            Effect::Pause {
                until: Some(now + soft_bounce_wait(seen.soft_bounces)),
                reason: "soft bounce: trying again later",
            },
            false,
            None,
        ),
        Side::Sender | Side::NotABounce => (Effect::Nothing, false, Some(Strike::Block)),
    };
    Decision {
        hard_bounce: Some(hard),
        strike,
        ..Decision::record(EventKind::Bounced, effect)
    }
}

/// What a refusal while sending does to the lead's step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AtSend {
    /// The address is gone: the lead stops as bounced, the address is suppressed.
    Bounced,
    /// The lead's mailbox has a passing problem: the step is tried again after `after`
    /// seconds.
    RetryLead {
        /// Seconds to wait.
        after: i64,
    },
    /// Soft bounce after soft bounce: the lead stops as bounced, the address is kept.
    GaveUp,
    /// The receiver refused the sender: the lead keeps its place, the step goes out later
    /// (after `after` seconds), and the refusal counts against the mailbox.
    RetrySender {
        /// Seconds to wait.
        after: i64,
    },
}

/// How long a step refused for the sender's sake waits: the mailbox's trouble is looked at
/// (and the mailbox paused past its threshold) before the lead is tried again.
pub const SENDER_REFUSAL_WAIT: i64 = 6 * 3_600;

/// A server's refusal of a lead's step while sending (`soft_so_far`: the lead's lead-side
/// soft bounces before this one).
pub fn at_send(reason: Reason, soft_so_far: i64) -> AtSend {
    match reason.side() {
        Side::Hard => AtSend::Bounced,
        Side::LeadSoft if soft_so_far + 1 >= SOFT_BOUNCE_LIMIT => AtSend::GaveUp,
        Side::LeadSoft => AtSend::RetryLead {
            after: soft_bounce_wait(soft_so_far + 1),
        },
        Side::Sender | Side::NotABounce => AtSend::RetrySender {
            after: SENDER_REFUSAL_WAIT,
        },
    }
}

/// The effect of a classified message, named for `classify --json` (under a sequence's
/// default stop rules).
pub fn effect_name(kind: InboundKind, reason: Option<Reason>) -> &'static str {
    match kind {
        InboundKind::BounceHard | InboundKind::BounceSoft => match bounce_side(kind, reason) {
            Side::Hard => "suppress",
            Side::LeadSoft => "retry-lead-later",
            _ => "count-against-mailbox",
        },
        InboundKind::Complaint => "suppress-and-count-against-mailbox",
        InboundKind::Unsubscribe => "suppress",
        InboundKind::Reply => "stop",
        InboundKind::Later | InboundKind::AutoReply => "pause",
        InboundKind::Challenge => "rep-task",
        InboundKind::Delivered => "nothing",
    }
}

fn inbound(kind: InboundKind, until: Option<i64>, rules: StopRules, now: i64) -> Decision {
    match kind {
        InboundKind::Reply => Decision {
            notify_rep: true,
            ..Decision::record(
                EventKind::Replied,
                Effect::Stop(Stop {
                    account: rules.stop_account,
                    ..stop(EnrollmentState::Replied, "replied", "the lead replied")
                }),
            )
        },
        InboundKind::Later => Decision {
            notify_rep: true,
            ..Decision::record(
                EventKind::Replied,
                Effect::Pause {
                    until,
                    reason: "the lead asked to be contacted later",
                },
            )
        },
        InboundKind::AutoReply => Decision::record(
            EventKind::AutoReplied,
            match until {
                Some(until) if rules.pause_on_auto_reply && until > now => Effect::Pause {
                    until: Some(until),
                    reason: "out of office",
                },
                _ => Effect::Nothing,
            },
        ),
        InboundKind::Unsubscribe => Decision::record(
            EventKind::Unsubscribed,
            Effect::Stop(Stop {
                suppress: Some(SuppressReason::Unsubscribed),
                ..stop(
                    EnrollmentState::Unsubscribed,
                    "unsubscribed",
                    "the lead asked to be removed",
                )
            }),
        ),
        InboundKind::Complaint => Decision {
            strike: Some(Strike::Complaint),
            ..Decision::record(EventKind::Complained, Effect::Stop(COMPLAINED))
        },
        InboundKind::Delivered => Decision::record(EventKind::Delivered, Effect::Nothing),
        // Only a person can answer a challenge: the rep's task; the sequence goes on.
        InboundKind::Challenge => Decision {
            notify_rep: true,
            rep_task: Some(CHALLENGE_TASK),
            ..Decision::record(EventKind::AutoReplied, Effect::Nothing)
        },
        // Handled by `bounce`.
        InboundKind::BounceHard | InboundKind::BounceSoft => {
            Decision::record(EventKind::Bounced, Effect::Nothing)
        }
    }
}

fn provider(kind: ProviderKind, seen: Seen) -> Decision {
    let event = match kind {
        ProviderKind::Delivered => EventKind::Delivered,
        ProviderKind::Opened => EventKind::Opened,
        ProviderKind::Clicked => EventKind::Clicked,
        ProviderKind::Complained => EventKind::Complained,
        ProviderKind::BounceHard | ProviderKind::BounceSoft => EventKind::Bounced,
        // Kept in provider_events only: the provider is still trying.
        ProviderKind::Deferred => {
            return Decision {
                event: None,
                effect: Effect::Nothing,
                notify_rep: false,
                hard_bounce: None,
                strike: None,
                rep_task: None,
            };
        }
    };
    let hard = match kind {
        ProviderKind::BounceHard => Some(true),
        ProviderKind::BounceSoft => Some(false),
        _ => None,
    };
    // As in the inbox: the third soft bounce of a lead (from the inbox or any provider) stops
    // it, the address kept. An address that is no lead of ours has no count.
    let gave_up = seen.lead && seen.soft_bounces >= SOFT_BOUNCE_LIMIT;
    let effect = match (kind, seen.lead) {
        (ProviderKind::Complained, true) => Effect::Stop(COMPLAINED),
        (ProviderKind::Complained, false) => Effect::SuppressAddress(SuppressReason::Complained),
        (ProviderKind::BounceHard, true) => Effect::Stop(BOUNCED),
        (ProviderKind::BounceHard, false) => Effect::SuppressAddress(SuppressReason::Bounced),
        (ProviderKind::BounceSoft, _) if gave_up => Effect::Stop(SOFT_BOUNCED),
        _ => Effect::Nothing,
    };
    let strike = match kind {
        ProviderKind::BounceHard => Some(Strike::HardBounce),
        ProviderKind::Complained => Some(Strike::Complaint),
        _ => None,
    };
    Decision {
        hard_bounce: hard,
        strike,
        ..Decision::record(event, effect)
    }
}

#[cfg(test)]
mod tests;

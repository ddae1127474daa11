//! What a signal does to a lead, decided in one place (DESIGN.md invariant 9): a pure function
//! from a signal (a classified message in the mailbox, an email provider's event, an
//! unsubscribe link followed, a meeting booked) and the
//! sequence's stop rules to an [`Effect`]. The store applies the effect in the transaction
//! that records the signal; it does not decide it. Whether a follow-up may go out while its
//! mailbox's inbox cannot be read is decided here too ([`inbox_gate`]).

mod inbox_gate;

pub use inbox_gate::{Gate, InboxRead, InboxWait, inbox_gate};

use crate::domain::{EventKind, InboundKind, ProviderKind};
use crate::enrollment::EnrollmentState;
use crate::sequence::{OnAutoReply, OnReply, Sequence};

/// A soft bounce this many times for one lead (from the inbox or any provider) counts as hard.
pub const SOFT_BOUNCE_LIMIT: i64 = 3;

/// How long a soft bounce found in the mailbox holds its enrollment before the sequence goes on.
pub const SOFT_BOUNCE_PAUSE: i64 = 86_400;

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
        /// When the lead is back, or asked to be written to again.
        until: Option<i64>,
    },
    /// An email provider's webhook event.
    Provider(ProviderKind),
    /// The lead followed an email's unsubscribe link (or a mail client's one-click
    /// List-Unsubscribe).
    UnsubscribeLink,
    /// A meeting was booked with the lead (a scheduling tool's webhook, the API).
    MeetingBooked,
}

/// What is known of the lead when the signal arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    /// The signal is about one of our leads (not only an address).
    pub lead: bool,
    /// Soft bounces recorded for the lead so far, this one included.
    pub soft_bounces: i64,
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

/// The decision on one signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// The event recorded (none for a provider's "deferred": the provider is still trying).
    pub event: Option<EventKind>,
    /// What changes.
    pub effect: Effect,
    /// A person answered: the rep hears of it.
    pub notify_rep: bool,
    /// For a bounce: whether it counts as hard (the limit of soft bounces reached).
    pub hard_bounce: Option<bool>,
}

impl Decision {
    fn record(event: EventKind, effect: Effect) -> Decision {
        Decision {
            event: Some(event),
            effect,
            notify_rep: false,
            hard_bounce: None,
        }
    }
}

/// Whether a message of this kind may change anything only when it is tied to an email we
/// sent (our Message-ID in its references, or in a bounce report's copy of our headers). A
/// bounce or an unsubscribe request that only names an address could come from anyone (a
/// forged delivery report, a spoofed From:): it waits for the rep.
pub fn needs_our_email(kind: InboundKind) -> bool {
    matches!(
        kind,
        InboundKind::BounceHard | InboundKind::BounceSoft | InboundKind::Unsubscribe
    )
}

/// Whether the rep should read a message of this kind (it stays in `replies` until handled):
/// a person's reply, and a "later" reply without a date drumbeat could read.
pub fn rep_reads(kind: InboundKind, until: Option<i64>) -> bool {
    match kind {
        InboundKind::Reply => true,
        InboundKind::Later => until.is_none(),
        _ => false,
    }
}

/// What `signal` does, under `rules`, given what is `seen` of the lead, at `now`.
pub fn decide(signal: Signal, rules: StopRules, seen: Seen, now: i64) -> Decision {
    match signal {
        Signal::Inbound { kind, until } => inbound(kind, until, rules, seen, now),
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

fn inbound(
    kind: InboundKind,
    until: Option<i64>,
    rules: StopRules,
    seen: Seen,
    now: i64,
) -> Decision {
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
        InboundKind::BounceHard | InboundKind::BounceSoft => {
            let hard = kind == InboundKind::BounceHard || seen.soft_bounces >= SOFT_BOUNCE_LIMIT;
            Decision {
                hard_bounce: Some(hard),
                ..Decision::record(
                    EventKind::Bounced,
                    if hard {
                        Effect::Stop(BOUNCED)
                    } else {
                        // Try later: the sequence carries on after a day.
                        Effect::Pause {
                            until: Some(now + SOFT_BOUNCE_PAUSE),
                            reason: "soft bounce: trying again later",
                        }
                    },
                )
            }
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
            };
        }
    };
    // As in the inbox: the third soft bounce of a lead (from the inbox or any provider) counts
    // as hard. An address that is no lead of ours has no count.
    let hard = match kind {
        ProviderKind::BounceHard => Some(true),
        ProviderKind::BounceSoft => Some(seen.lead && seen.soft_bounces >= SOFT_BOUNCE_LIMIT),
        _ => None,
    };
    let effect = match (kind, hard, seen.lead) {
        (ProviderKind::Complained, _, true) => Effect::Stop(Stop {
            suppress: Some(SuppressReason::Complained),
            ..stop(
                EnrollmentState::Unsubscribed,
                "unsubscribed",
                "the lead marked a message as spam",
            )
        }),
        (ProviderKind::Complained, _, false) => Effect::SuppressAddress(SuppressReason::Complained),
        (_, Some(true), true) => Effect::Stop(BOUNCED),
        (_, Some(true), false) => Effect::SuppressAddress(SuppressReason::Bounced),
        _ => Effect::Nothing,
    };
    Decision {
        hard_bounce: hard,
        ..Decision::record(event, effect)
    }
}

#[cfg(test)]
mod tests;

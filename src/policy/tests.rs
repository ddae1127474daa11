//! The policy as a table: one row per signal and situation, read like the docs.

use super::*;

const NOW: i64 = 1_800_000_000;
const LATER: i64 = NOW + 7 * 86_400;

const RULES: StopRules = StopRules {
    stop_account: false,
    pause_on_auto_reply: true,
};
const ACCOUNT: StopRules = StopRules {
    stop_account: true,
    pause_on_auto_reply: true,
};
const NO_PAUSE: StopRules = StopRules {
    stop_account: false,
    pause_on_auto_reply: false,
};

fn lead(soft_bounces: i64) -> Seen {
    Seen {
        lead: true,
        soft_bounces,
    }
}

const NOBODY: Seen = Seen {
    lead: false,
    soft_bounces: 0,
};

fn inbound(kind: InboundKind, until: Option<i64>) -> Signal {
    Signal::Inbound {
        kind,
        reason: None,
        until,
        intent: None,
        left: false,
    }
}

fn bounced(reason: Reason) -> Signal {
    Signal::Inbound {
        kind: if reason.is_hard() {
            InboundKind::BounceHard
        } else {
            InboundKind::BounceSoft
        },
        reason: Some(reason),
        until: None,
        intent: None,
        left: false,
    }
}

type Row = (
    Signal,
    StopRules,
    Seen,
    Option<EventKind>,
    &'static str,
    bool,
    Option<bool>,
);

/// Checks each row: the event, the effect as shown, the notice, the hard flag.
fn check(table: Vec<Row>) {
    use EnrollmentState as S;
    for (signal, rules, seen, event, effect, notify, hard) in table {
        let d = decide(signal, rules, seen, NOW);
        let shown = match d.effect {
            Effect::Nothing => "nothing".to_string(),
            Effect::Stop(s) => format!(
                "stop {}{}{}",
                s.state.as_str(),
                if s.account { " +account" } else { "" },
                s.suppress
                    .map(|r| format!(" suppress:{}", r.as_str()))
                    .unwrap_or_default()
            ),
            Effect::Pause { until: Some(_), .. } => "pause until".into(),
            Effect::Pause { until: None, .. } => "pause".into(),
            Effect::SuppressAddress(r) => format!("suppress:{}", r.as_str()),
        };
        let row = format!("{signal:?} {rules:?} {seen:?}");
        assert_eq!(d.event, event, "{row}");
        assert_eq!(shown, effect, "{row}");
        assert_eq!(d.notify_rep, notify, "{row}");
        assert_eq!(d.hard_bounce, hard, "{row}");
        if let Effect::Stop(s) = d.effect {
            assert!(s.state.is_final() && S::Active.can_become(s.state), "{row}");
        }
    }
}

/// (signal, rules, seen) → (event, effect kind, notify, hard)
#[test]
fn every_signal_has_the_effect_the_docs_promise() {
    use InboundKind as I;
    use ProviderKind as P;
    #[rustfmt::skip]
    let table: Vec<Row> = vec![
        // A person answered: the lead stops, the rep hears of it.
        (inbound(I::Reply, None), RULES, lead(0), Some(EventKind::Replied), "stop replied", true, None),
        (inbound(I::Reply, None), ACCOUNT, lead(0), Some(EventKind::Replied), "stop replied +account", true, None),
        // "Write me in March": paused until then, and the rep hears of it.
        (inbound(I::Later, Some(LATER)), RULES, lead(0), Some(EventKind::Replied), "pause until", true, None),
        (inbound(I::Later, None), RULES, lead(0), Some(EventKind::Replied), "pause", true, None),
        // Out of office: paused until the return date, when the sequence says so.
        (inbound(I::AutoReply, Some(LATER)), RULES, lead(0), Some(EventKind::AutoReplied), "pause until", false, None),
        (inbound(I::AutoReply, Some(LATER)), NO_PAUSE, lead(0), Some(EventKind::AutoReplied), "nothing", false, None),
        (inbound(I::AutoReply, None), RULES, lead(0), Some(EventKind::AutoReplied), "nothing", false, None),
        (inbound(I::AutoReply, Some(NOW - 1)), RULES, lead(0), Some(EventKind::AutoReplied), "nothing", false, None),
        // "Remove me": stopped and suppressed.
        (inbound(I::Unsubscribe, None), RULES, lead(0), Some(EventKind::Unsubscribed), "stop unsubscribed suppress:unsubscribed", false, None),
        // Bounces: hard suppresses; the lead's soft troubles pause a day, then two, and the
        // third stops the lead without suppressing the address; refusals of the sender leave
        // the lead alone.
        (inbound(I::BounceHard, None), RULES, lead(0), Some(EventKind::Bounced), "stop bounced suppress:bounced", false, Some(true)),
        (bounced(Reason::UserUnknown), RULES, lead(0), Some(EventKind::Bounced), "stop bounced suppress:bounced", false, Some(true)),
        (bounced(Reason::HostUnknown), RULES, lead(0), Some(EventKind::Bounced), "stop bounced suppress:bounced", false, Some(true)),
        (inbound(I::BounceSoft, None), RULES, lead(1), Some(EventKind::Bounced), "pause until", false, Some(false)),
        (bounced(Reason::MailboxFull), RULES, lead(2), Some(EventKind::Bounced), "pause until", false, Some(false)),
        (bounced(Reason::MailboxFull), RULES, lead(3), Some(EventKind::Bounced), "stop bounced", false, Some(false)),
        (inbound(I::BounceSoft, None), RULES, lead(3), Some(EventKind::Bounced), "stop bounced", false, Some(false)),
        (bounced(Reason::Blocked), RULES, lead(0), Some(EventKind::Bounced), "nothing", false, Some(false)),
        (bounced(Reason::SpamDetected), RULES, lead(5), Some(EventKind::Bounced), "nothing", false, Some(false)),
        (bounced(Reason::AuthFailure), RULES, lead(0), Some(EventKind::Bounced), "nothing", false, Some(false)),
        // Machine mail that is no bounce.
        (inbound(I::Delivered, None), RULES, lead(0), Some(EventKind::Delivered), "nothing", false, None),
        (inbound(I::Challenge, None), RULES, lead(0), Some(EventKind::AutoReplied), "nothing", true, None),
        (inbound(I::Complaint, None), RULES, lead(0), Some(EventKind::Complained), "stop unsubscribed suppress:complained", false, None),
        // Provider events.
        (Signal::Provider(P::Delivered), RULES, lead(0), Some(EventKind::Delivered), "nothing", false, None),
        (Signal::Provider(P::Opened), RULES, lead(0), Some(EventKind::Opened), "nothing", false, None),
        (Signal::Provider(P::Clicked), RULES, lead(0), Some(EventKind::Clicked), "nothing", false, None),
        (Signal::Provider(P::Deferred), RULES, lead(0), None, "nothing", false, None),
        (Signal::Provider(P::Complained), RULES, lead(0), Some(EventKind::Complained), "stop unsubscribed suppress:complained", false, None),
        (Signal::Provider(P::Complained), RULES, NOBODY, Some(EventKind::Complained), "suppress:complained", false, None),
        (Signal::Provider(P::BounceHard), RULES, lead(0), Some(EventKind::Bounced), "stop bounced suppress:bounced", false, Some(true)),
        (Signal::Provider(P::BounceHard), RULES, NOBODY, Some(EventKind::Bounced), "suppress:bounced", false, Some(true)),
        (Signal::Provider(P::BounceSoft), RULES, lead(1), Some(EventKind::Bounced), "nothing", false, Some(false)),
        (Signal::Provider(P::BounceSoft), RULES, lead(3), Some(EventKind::Bounced), "stop bounced", false, Some(false)),
        (Signal::Provider(P::BounceSoft), RULES, NOBODY, Some(EventKind::Bounced), "nothing", false, Some(false)),
        // The unsubscribe link, and a meeting booked.
        (Signal::UnsubscribeLink, RULES, lead(0), Some(EventKind::Unsubscribed), "stop unsubscribed suppress:unsubscribed", false, None),
        (Signal::MeetingBooked, ACCOUNT, lead(0), Some(EventKind::MeetingBooked), "stop stopped", false, None),
        // The CRM says the deal moved on.
        (Signal::CrmStage, ACCOUNT, lead(0), Some(EventKind::Stopped), "stop stopped", false, None),
    ];
    check(table);
}

#[test]
fn pauses_end_when_the_signal_says() {
    let later = decide(
        inbound(InboundKind::Later, Some(LATER)),
        RULES,
        lead(0),
        NOW,
    );
    assert_eq!(
        later.effect,
        Effect::Pause {
            until: Some(LATER),
            reason: "the lead asked to be contacted later"
        }
    );
    let soft = decide(inbound(InboundKind::BounceSoft, None), RULES, lead(1), NOW);
    assert_eq!(
        soft.effect,
        Effect::Pause {
            until: Some(NOW + SOFT_BOUNCE_PAUSE),
            reason: "soft bounce: trying again later"
        }
    );
    let second = decide(bounced(Reason::MailboxFull), RULES, lead(2), NOW);
    assert_eq!(
        second.effect,
        Effect::Pause {
            until: Some(NOW + 2 * SOFT_BOUNCE_PAUSE),
            reason: "soft bounce: trying again later"
        }
    );
}

#[test]
fn what_counts_against_the_mailbox() {
    let strike = |signal| decide(signal, RULES, lead(1), NOW).strike;
    assert_eq!(
        strike(bounced(Reason::UserUnknown)),
        Some(Strike::HardBounce)
    );
    assert_eq!(strike(bounced(Reason::Blocked)), Some(Strike::Block));
    assert_eq!(strike(bounced(Reason::RequirePtr)), Some(Strike::Block));
    assert_eq!(strike(bounced(Reason::MailboxFull)), None);
    assert_eq!(
        strike(inbound(InboundKind::Complaint, None)),
        Some(Strike::Complaint)
    );
    assert_eq!(
        strike(Signal::Provider(ProviderKind::Complained)),
        Some(Strike::Complaint)
    );
    assert_eq!(
        strike(Signal::Provider(ProviderKind::BounceHard)),
        Some(Strike::HardBounce)
    );
    assert_eq!(strike(inbound(InboundKind::Reply, None)), None);
}

#[test]
fn a_refusal_while_sending_by_its_side() {
    assert_eq!(at_send(Reason::UserUnknown, 0), AtSend::Bounced);
    assert_eq!(
        at_send(Reason::MailboxFull, 0),
        AtSend::RetryLead {
            after: SOFT_BOUNCE_PAUSE
        }
    );
    assert_eq!(at_send(Reason::MailboxFull, 2), AtSend::GaveUp);
    assert_eq!(
        at_send(Reason::Blocked, 9),
        AtSend::RetrySender {
            after: SENDER_REFUSAL_WAIT
        }
    );
}

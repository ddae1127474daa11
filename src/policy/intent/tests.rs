use crate::domain::{EventKind, InboundKind};
use crate::enrollment::EnrollmentState;
use crate::intent::Intent;
use crate::policy::{Decision, Effect, REFERRAL_TASK, Seen, Signal, Stop, StopRules, decide};

const ACCOUNT: StopRules = StopRules {
    stop_account: true,
    pause_on_auto_reply: true,
};
const SEEN: Seen = Seen {
    lead: true,
    soft_bounces: 0,
};
const NOW: i64 = 1_800_000_000;

fn reply(intent: Intent) -> Decision {
    let signal = Signal::Inbound {
        kind: InboundKind::Reply,
        reason: None,
        until: None,
        intent: Some(intent),
        left: false,
    };
    decide(signal, ACCOUNT, SEEN, NOW)
}

fn stopped(d: &Decision) -> Stop {
    match d.effect {
        Effect::Stop(s) => s,
        other => panic!("not a stop: {other:?}"),
    }
}

#[test]
fn each_intent_stops_the_lead_with_its_outcome_and_only_interest_reaches_the_account() {
    // (intent, outcome, whole account under on_reply: stop-account, rep told at once, task)
    let table = [
        (Intent::Interested, "interested", true, true, None),
        (Intent::MeetingRequest, "meeting-request", true, true, None),
        (Intent::NotInterested, "not-interested", false, false, None),
        (Intent::WrongPerson, "wrong-person", false, true, None),
        (
            Intent::Referral,
            "referral",
            false,
            true,
            Some(REFERRAL_TASK),
        ),
        (Intent::Unclear, "replied", true, true, None),
    ];
    for (intent, outcome, account, notify, task) in table {
        let d = reply(intent);
        let s = stopped(&d);
        assert_eq!(d.event, Some(EventKind::Replied), "{intent}");
        assert_eq!(s.state, EnrollmentState::Replied, "{intent}");
        assert_eq!(s.outcome, outcome, "{intent}");
        assert_eq!(s.account, account, "{intent}");
        assert_eq!(s.suppress, None, "{intent}: a reply never suppresses");
        assert_eq!(d.notify_rep, notify, "{intent}");
        assert_eq!(d.rep_task, task, "{intent}");
    }
}

#[test]
fn an_auto_reply_that_names_a_replacement_waits_or_stops_and_asks_the_rep() {
    let auto = |intent, left| Signal::Inbound {
        kind: InboundKind::AutoReply,
        reason: None,
        until: Some(NOW + 86_400),
        intent: Some(intent),
        left,
    };
    // Away, with a stand-in: paused as any out-of-office, plus the rep's task.
    let d = decide(auto(Intent::Referral, false), ACCOUNT, SEEN, NOW);
    assert!(matches!(d.effect, Effect::Pause { .. }), "{d:?}");
    assert_eq!(d.rep_task, Some(REFERRAL_TASK));
    assert_eq!(d.event, Some(EventKind::AutoReplied));
    // Gone, with a successor: stopped, the rep told, and the task.
    let d = decide(auto(Intent::Referral, true), ACCOUNT, SEEN, NOW);
    assert_eq!(stopped(&d).outcome, "left-company");
    assert!(!stopped(&d).account);
    assert!(d.notify_rep);
    assert_eq!(d.rep_task, Some(REFERRAL_TASK));
    // Gone, naming no one: stopped, the rep told, no task.
    let d = decide(auto(Intent::WrongPerson, true), ACCOUNT, SEEN, NOW);
    assert_eq!(stopped(&d).state, EnrollmentState::Stopped);
    assert_eq!(d.rep_task, None);
}

#[test]
fn classify_names_the_effect_of_an_intent() {
    use crate::policy::intent_effect_name as name;
    assert_eq!(
        name(InboundKind::Reply, None, Some(Intent::NotInterested), false),
        "stop-lead"
    );
    assert_eq!(
        name(InboundKind::Reply, None, Some(Intent::Interested), false),
        "stop"
    );
    assert_eq!(
        name(InboundKind::Reply, None, Some(Intent::Referral), false),
        "stop-lead-and-rep-task"
    );
    assert_eq!(
        name(InboundKind::AutoReply, None, Some(Intent::Referral), false),
        "pause-and-rep-task"
    );
    assert_eq!(
        name(
            InboundKind::AutoReply,
            None,
            Some(Intent::WrongPerson),
            true
        ),
        "stop-lead"
    );
    assert_eq!(name(InboundKind::AutoReply, None, None, false), "pause");
}

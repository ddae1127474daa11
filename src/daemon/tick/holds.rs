//! Planned pauses at decision time: a step whose mailbox's rep is away, or whose sequence is
//! paused, waits for the end of the pause (see `store::Hold`). Nothing is claimed, so nothing
//! is lost or sent twice: after the pause the step is decided again like any due step.

use super::Round;
use super::decide::Decision;
use crate::config::Mailbox;
use crate::sequence::Sequence;
use crate::store::{Hold, HoldScope};

/// How long a step waits under a pause with no end before it is looked at again (`resume`
/// also makes it due at once).
pub const HOLD_RECHECK: i64 = 900;

/// The hold covering a step of `seq` from `mailbox` at `now`, the one ending last.
pub fn covering<'h>(holds: &'h [Hold], seq: &str, mailbox: &str, now: i64) -> Option<&'h Hold> {
    holds
        .iter()
        .filter(|h| h.is_on(now))
        .filter(|h| match h.scope {
            HoldScope::Mailbox => h.name == mailbox,
            HoldScope::Sequence => h.name == seq,
        })
        .max_by_key(|h| h.until_at.unwrap_or(i64::MAX))
}

/// The decision for a step that a hold covers, if one does.
pub(super) fn held(
    round: &Round,
    seq: &Sequence,
    step: &str,
    mailbox: &Mailbox,
) -> Option<Decision> {
    let now = round.t();
    let hold = covering(&round.holds, &seq.id, &mailbox.name, now)?;
    Some(Decision::Held {
        step: step.to_string(),
        hold: hold.id,
        due: hold.until_at.unwrap_or(now + HOLD_RECHECK),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hold(id: i64, scope: HoldScope, name: &str, span: (i64, Option<i64>)) -> Hold {
        Hold {
            id,
            scope,
            name: name.into(),
            starts_at: span.0,
            until_at: span.1,
            reason: "away".into(),
            created_at: 0,
        }
    }

    #[test]
    fn a_hold_covers_its_mailbox_or_sequence_while_it_is_on() {
        let holds = [
            hold(1, HoldScope::Mailbox, "ana", (100, Some(200))),
            hold(2, HoldScope::Sequence, "cold", (150, Some(300))),
        ];
        assert!(covering(&holds, "cold", "ana", 99).is_none());
        assert_eq!(covering(&holds, "warm", "ana", 100).map(|h| h.id), Some(1));
        assert_eq!(covering(&holds, "cold", "ana", 160).map(|h| h.id), Some(2));
        assert!(covering(&holds, "warm", "ana", 200).is_none());
        assert!(covering(&holds, "warm", "ben", 160).is_none());
        let open = [hold(3, HoldScope::Mailbox, "ana", (0, None))];
        assert_eq!(covering(&open, "x", "ana", 10_000).map(|h| h.id), Some(3));
    }
}

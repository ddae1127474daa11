//! Never write blind (DESIGN.md invariant 7): a follow-up from a watched mailbox goes out only
//! when that mailbox's inbox was read after the lead's previous email, and recently. A reply
//! drumbeat could not see is treated as one it might have missed, so the step waits (it is
//! neither failed nor skipped, and uses no attempt) until a read succeeds.

use std::fmt;

use chrono::DateTime;

/// What the store knows of a watched mailbox's reads (its `inbox_reads` row).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InboxRead {
    /// The last complete read of every folder it watches (unix seconds); `None`: never read.
    pub read_at: Option<i64>,
    /// The first failed read since the last good one.
    pub failing_since: Option<i64>,
    /// Why the last read failed.
    pub failure: Option<String>,
}

/// Whether a step may go out now, as far as the inbox is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    /// Send: a first email, a mailbox nobody watches, or an inbox read recently enough.
    Send,
    /// Wait until the inbox is read.
    Wait(InboxWait),
}

/// Why a follow-up waits for its mailbox's inbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InboxWait {
    /// Reading it fails, since `since`, with `error`.
    Unreachable {
        /// The first failed read since the last good one (unix seconds).
        since: i64,
        /// What the last failure said.
        error: String,
    },
    /// It was never read.
    NeverRead,
    /// The last read (`read_at`) came before the lead's previous email (`touch_at`).
    NotSinceLastEmail {
        /// The last read.
        read_at: i64,
        /// The previous email to the lead.
        touch_at: i64,
    },
    /// The last read is older than the freshness allowed.
    Stale {
        /// The last read.
        read_at: i64,
        /// The freshness allowed, in seconds.
        fresh: i64,
    },
}

/// The one decision: may a step go out at `now`, given the previous email to the lead
/// (`previous`: when it was sent, and whether its mailbox is watched), what the store knows of
/// that mailbox's reads, and how old a read may be (`fresh`, seconds)?
pub fn inbox_gate(previous: Option<(i64, bool)>, read: &InboxRead, now: i64, fresh: i64) -> Gate {
    let Some((touch_at, true)) = previous else {
        // A first email, or the previous one left from a mailbox nobody watches.
        return Gate::Send;
    };
    let wait = match (read.read_at, read.failing_since) {
        (_, Some(since)) => InboxWait::Unreachable {
            since,
            error: read.failure.clone().unwrap_or_default(),
        },
        (None, None) => InboxWait::NeverRead,
        (Some(read_at), None) if read_at < touch_at => {
            InboxWait::NotSinceLastEmail { read_at, touch_at }
        }
        (Some(read_at), None) if now - read_at > fresh => InboxWait::Stale { read_at, fresh },
        (Some(_), None) => return Gate::Send,
    };
    Gate::Wait(wait)
}

/// A time for people: `2026-03-05 14:02 UTC`.
fn at(t: i64) -> String {
    DateTime::from_timestamp(t, 0).map_or_else(
        || t.to_string(),
        |d| d.format("%Y-%m-%d %H:%M UTC").to_string(),
    )
}

impl fmt::Display for InboxWait {
    /// `IMAP unreachable since 2026-03-05 14:02 UTC (Connection refused (os error 111))`, and the
    /// like; `status` prints it after "waiting for the inbox: ".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InboxWait::Unreachable { since, error } => {
                write!(f, "IMAP unreachable since {} ({error})", at(*since))
            }
            InboxWait::NeverRead => write!(f, "the inbox has not been read yet"),
            InboxWait::NotSinceLastEmail { read_at, touch_at } => write!(
                f,
                "last read {}, before the previous email ({})",
                at(*read_at),
                at(*touch_at)
            ),
            InboxWait::Stale { read_at, fresh } => write!(
                f,
                "last read {}, longer ago than inbox_fresh ({}s)",
                at(*read_at),
                fresh
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;
    const FRESH: i64 = 300;
    const SENT: i64 = NOW - 3 * 86_400;

    fn read(at: i64) -> InboxRead {
        InboxRead {
            read_at: Some(at),
            ..InboxRead::default()
        }
    }

    #[test]
    fn a_first_email_is_never_held() {
        let never = InboxRead::default();
        assert_eq!(inbox_gate(None, &never, NOW, FRESH), Gate::Send);
    }

    #[test]
    fn a_follow_up_from_an_unwatched_mailbox_is_not_held() {
        let never = InboxRead::default();
        assert_eq!(
            inbox_gate(Some((SENT, false)), &never, NOW, FRESH),
            Gate::Send
        );
    }

    #[test]
    fn a_follow_up_goes_after_a_recent_read_since_the_previous_email() {
        let r = read(NOW - 60);
        assert_eq!(inbox_gate(Some((SENT, true)), &r, NOW, FRESH), Gate::Send);
        // Exactly as old as allowed still counts.
        let r = read(NOW - FRESH);
        assert_eq!(inbox_gate(Some((SENT, true)), &r, NOW, FRESH), Gate::Send);
    }

    #[test]
    fn a_follow_up_waits_while_the_inbox_cannot_be_read() {
        let r = InboxRead {
            read_at: Some(NOW - 60),
            failing_since: Some(NOW - 30),
            failure: Some("Connection refused".into()),
        };
        let Gate::Wait(w) = inbox_gate(Some((SENT, true)), &r, NOW, FRESH) else {
            panic!("a failing inbox must hold the follow-up");
        };
        assert_eq!(
            w,
            InboxWait::Unreachable {
                since: NOW - 30,
                error: "Connection refused".into()
            }
        );
        assert_eq!(
            w.to_string(),
            "IMAP unreachable since 2027-01-15 07:59 UTC (Connection refused)"
        );
    }

    #[test]
    fn a_follow_up_waits_for_an_inbox_never_read() {
        let never = InboxRead::default();
        assert_eq!(
            inbox_gate(Some((SENT, true)), &never, NOW, FRESH),
            Gate::Wait(InboxWait::NeverRead)
        );
    }

    #[test]
    fn a_read_before_the_previous_email_does_not_count() {
        let r = read(NOW - 10);
        let touch_at = NOW - 5;
        assert_eq!(
            inbox_gate(Some((touch_at, true)), &r, NOW, FRESH),
            Gate::Wait(InboxWait::NotSinceLastEmail {
                read_at: NOW - 10,
                touch_at
            })
        );
    }

    #[test]
    fn an_old_read_does_not_count() {
        let r = read(NOW - FRESH - 1);
        assert_eq!(
            inbox_gate(Some((SENT, true)), &r, NOW, FRESH),
            Gate::Wait(InboxWait::Stale {
                read_at: NOW - FRESH - 1,
                fresh: FRESH
            })
        );
    }
}

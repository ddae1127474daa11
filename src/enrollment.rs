//! Lifecycle states of enrollments and touches, and the transitions allowed between them.
//! Every state change goes through [`EnrollmentState::can_become`], and the store's guarded
//! `UPDATE … WHERE state = …` makes it atomic.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// Where one lead stands in one sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EnrollmentState {
    /// Steps are going out as they come due.
    Active,
    /// Held by a person or an out-of-office reply; resumes by hand or at `paused_until`.
    Paused,
    /// Every step ran.
    Finished,
    /// The lead answered.
    Replied,
    /// An email to the lead bounced.
    Bounced,
    /// The lead unsubscribed or complained.
    Unsubscribed,
    /// Stopped by hand (or by a reply at the same account).
    Stopped,
    /// A step could not be done (e.g. its template failed for this lead) and needs a person.
    Failed,
}

impl EnrollmentState {
    /// Every state, in display order.
    pub const ALL: [EnrollmentState; 8] = [
        EnrollmentState::Active,
        EnrollmentState::Paused,
        EnrollmentState::Finished,
        EnrollmentState::Replied,
        EnrollmentState::Bounced,
        EnrollmentState::Unsubscribed,
        EnrollmentState::Stopped,
        EnrollmentState::Failed,
    ];

    /// The name stored and printed.
    pub fn as_str(self) -> &'static str {
        match self {
            EnrollmentState::Active => "active",
            EnrollmentState::Paused => "paused",
            EnrollmentState::Finished => "finished",
            EnrollmentState::Replied => "replied",
            EnrollmentState::Bounced => "bounced",
            EnrollmentState::Unsubscribed => "unsubscribed",
            EnrollmentState::Stopped => "stopped",
            EnrollmentState::Failed => "failed",
        }
    }

    /// True for states no step leaves from again.
    pub fn is_final(self) -> bool {
        !matches!(
            self,
            EnrollmentState::Active | EnrollmentState::Paused | EnrollmentState::Failed
        )
    }

    /// Whether a change from `self` to `to` is allowed. Final states stay final: a lead who
    /// replied or unsubscribed is never put back into a sequence by a state change (a person
    /// enrolls them again on purpose instead).
    pub fn can_become(self, to: EnrollmentState) -> bool {
        use EnrollmentState::*;
        matches!(
            (self, to),
            (
                Active,
                Paused | Finished | Replied | Bounced | Unsubscribed | Stopped | Failed
            ) | (Paused, Active | Replied | Bounced | Unsubscribed | Stopped)
                | (Failed, Active | Stopped | Replied | Bounced | Unsubscribed)
        )
    }
}

impl fmt::Display for EnrollmentState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EnrollmentState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EnrollmentState::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| format!("unknown enrollment state {s:?}"))
    }
}

/// One executed (or about to be executed) step for one enrollment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TouchState {
    /// Planned; waiting for its time (or for a retry).
    Scheduled,
    /// Claimed with its Message-ID; bytes may be on the way to SMTP.
    Sending,
    /// The server accepted it.
    Sent,
    /// It will not go (rejected, render failure…).
    Failed,
    /// A crash happened between claim and `sent`: never resent blindly; a person (or the Sent
    /// folder) decides.
    Uncertain,
    /// Not sent on purpose (stopped, suppressed, removed step).
    Skipped,
}

impl TouchState {
    /// Every state, in the order a touch usually goes through them.
    pub const ALL: [TouchState; 6] = [
        TouchState::Scheduled,
        TouchState::Sending,
        TouchState::Sent,
        TouchState::Failed,
        TouchState::Uncertain,
        TouchState::Skipped,
    ];

    /// The name stored and printed.
    pub fn as_str(self) -> &'static str {
        match self {
            TouchState::Scheduled => "scheduled",
            TouchState::Sending => "sending",
            TouchState::Sent => "sent",
            TouchState::Failed => "failed",
            TouchState::Uncertain => "uncertain",
            TouchState::Skipped => "skipped",
        }
    }
}

impl FromStr for TouchState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TouchState::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| format!("unknown touch state {s:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_states_never_reopen() {
        for from in EnrollmentState::ALL.into_iter().filter(|s| s.is_final()) {
            for to in EnrollmentState::ALL {
                assert!(!from.can_become(to), "{from} -> {to} must be refused");
            }
        }
    }

    #[test]
    fn pause_and_resume_round_trip() {
        assert!(EnrollmentState::Active.can_become(EnrollmentState::Paused));
        assert!(EnrollmentState::Paused.can_become(EnrollmentState::Active));
        assert!(!EnrollmentState::Paused.can_become(EnrollmentState::Finished));
    }

    #[test]
    fn names_round_trip() {
        for s in EnrollmentState::ALL {
            assert_eq!(s.as_str().parse::<EnrollmentState>().unwrap(), s);
        }
        for s in TouchState::ALL {
            assert_eq!(s.as_str().parse::<TouchState>().unwrap(), s);
        }
    }
}

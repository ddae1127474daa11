//! What the scheduler is doing and since when, as the lease keeper sees it. The keeper renews
//! this daemon's leases from beside the scheduler; a scheduler stuck in one step (an await that
//! never ends) must not keep its work leased forever: after [`SLOW`] the keeper says which step
//! is slow, after [`STALL`] it stops and the daemon exits with an error, so its leases run out,
//! the other daemons (or systemd's restart) take its mailboxes over, and the log says where it
//! hung.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A step slower than this is logged (with its phase), once.
pub const SLOW: Duration = Duration::from_secs(60);
/// A step that made no progress for this long has hung: the daemon stops. Longer than any one
/// wait a step allows itself (an SMTP server's answer to a message body: 5 minutes).
pub const STALL: Duration = Duration::from_secs(600);

/// The phase the scheduler is in, since when, and whether its slowness was logged.
pub struct Progress {
    inner: Mutex<Phase>,
}

struct Phase {
    name: &'static str,
    since: Instant,
    told: bool,
}

/// The scheduler asleep between steps (never slow: its sleep is bounded by itself).
pub const ASLEEP: &str = "asleep";

/// What [`Progress::look`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Look {
    /// Moving, or asleep.
    Fine,
    /// Slow in `phase` for this long (said once per phase).
    Slow(&'static str, Duration),
    /// Hung in `phase` for this long.
    Stalled(&'static str, Duration),
}

impl Default for Progress {
    fn default() -> Self {
        Progress {
            inner: Mutex::new(Phase {
                name: ASLEEP,
                since: Instant::now(),
                told: false,
            }),
        }
    }
}

impl Progress {
    /// The scheduler enters `phase` now (or made progress in it).
    pub fn at(&self, name: &'static str) {
        *self.lock() = Phase {
            name,
            since: Instant::now(),
            told: false,
        };
    }

    /// How the scheduler is doing at `now`.
    pub fn look(&self, now: Instant) -> Look {
        let mut p = self.lock();
        let spent = now.saturating_duration_since(p.since);
        if p.name == ASLEEP || spent < SLOW {
            Look::Fine
        } else if spent >= STALL {
            Look::Stalled(p.name, spent)
        } else if p.told {
            Look::Fine
        } else {
            p.told = true;
            Look::Slow(p.name, spent)
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Phase> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_is_slow_once_then_stalled_and_asleep_is_never_either() {
        let p = Progress::default();
        let t0 = Instant::now();
        assert_eq!(p.look(t0 + STALL * 2), Look::Fine, "asleep");
        p.at("sending");
        let t0 = Instant::now();
        assert_eq!(p.look(t0), Look::Fine);
        assert!(matches!(p.look(t0 + SLOW), Look::Slow("sending", _)));
        assert_eq!(p.look(t0 + SLOW), Look::Fine, "said once");
        assert!(matches!(
            p.look(t0 + STALL + Duration::from_secs(1)),
            Look::Stalled("sending", _)
        ));
        p.at("sending");
        assert_eq!(p.look(Instant::now()), Look::Fine, "progress starts again");
    }
}

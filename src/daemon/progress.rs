//! What the scheduler is doing and since when, as the lease keeper sees it. The keeper renews
//! this daemon's leases from beside the scheduler; a scheduler stuck in one step (an await that
//! never ends) must not keep its work leased forever: after [`SLOW`] the keeper says which step
//! is slow, after [`STALL`] it stops and the daemon exits with an error, so its leases run out,
//! the other daemons (or systemd's restart) take its mailboxes over, and the log says where it
//! hung. It also adds up the time spent in each phase, for the log line that says where a
//! step's time went (`-v`).

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
    /// Time spent in each phase left since the last [`Progress::take_spent`], in the order
    /// they were first entered.
    spent: Vec<(&'static str, Duration)>,
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
                spent: Vec::new(),
            }),
        }
    }
}

impl Progress {
    /// The scheduler enters `phase` now (or made progress in it).
    pub fn at(&self, name: &'static str) {
        self.at_instant(name, Instant::now());
    }

    /// [`Progress::at`] at `now`.
    fn at_instant(&self, name: &'static str, now: Instant) {
        let mut p = self.lock();
        p.leave(now);
        p.name = name;
        p.since = now;
        p.told = false;
    }

    /// The time spent in each phase (asleep aside) since the last call, in the order the
    /// phases were first entered; the current phase's time counts up to now.
    pub fn take_spent(&self) -> Vec<(&'static str, Duration)> {
        self.take_spent_at(Instant::now())
    }

    /// [`Progress::take_spent`] at `now`.
    fn take_spent_at(&self, now: Instant) -> Vec<(&'static str, Duration)> {
        let mut p = self.lock();
        p.leave(now);
        p.since = now;
        std::mem::take(&mut p.spent)
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

impl Phase {
    /// Adds the time from `since` to `now` to the current phase's total.
    fn leave(&mut self, now: Instant) {
        if self.name == ASLEEP {
            return;
        }
        let d = now.saturating_duration_since(self.since);
        match self.spent.iter_mut().find(|(n, _)| *n == self.name) {
            Some((_, total)) => *total += d,
            None => self.spent.push((self.name, d)),
        }
    }
}

/// `spent` as the log says it: `sending 412 ms, claiming emails 96 ms, …`, longest first,
/// phases under a millisecond left out.
pub fn describe(spent: &[(&'static str, Duration)]) -> String {
    let mut spent = spent.to_vec();
    spent.sort_by_key(|s| std::cmp::Reverse(s.1));
    spent
        .iter()
        .filter(|(_, d)| d.as_millis() > 0)
        .map(|(name, d)| format!("{name} {} ms", d.as_millis()))
        .collect::<Vec<_>>()
        .join(", ")
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

    #[test]
    fn the_time_of_each_phase_adds_up_across_visits_and_asleep_is_left_out() {
        let p = Progress::default();
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        p.at_instant("leasing", t0);
        p.at_instant("sending", t0 + ms(20));
        p.at_instant("leasing", t0 + ms(50));
        p.at_instant(ASLEEP, t0 + ms(70));
        let spent = p.take_spent_at(t0 + ms(90));
        assert_eq!(spent, [("leasing", ms(40)), ("sending", ms(30))]);
        assert!(p.take_spent().is_empty(), "taken");
        assert_eq!(
            describe(&[
                ("leasing", Duration::from_millis(40)),
                ("sending", Duration::from_millis(300)),
                ("sharing", Duration::from_micros(300))
            ]),
            "sending 300 ms, leasing 40 ms"
        );
    }
}

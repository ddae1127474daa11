//! Where "now" comes from: the system clock, a fixed instant, or a shifted one.

use chrono::{DateTime, Utc};

/// Where the daemon's "now" comes from.
#[derive(Debug, Clone, Copy)]
pub enum Clock {
    /// The system clock.
    System,
    /// A fixed instant (`run --once --now`, tests): every send happens at it.
    Fixed(DateTime<Utc>),
    /// The system clock moved by a constant amount (the long-running daemon under
    /// `DRUMBEAT_NOW`): time runs at its real pace from the given start, so a test or a rep
    /// trying a sequence's timing on a scratch store can run the daemon inside a simulated
    /// timeline.
    Shifted(chrono::TimeDelta),
}

impl Clock {
    /// A clock that reads `start` now and runs on at the real pace.
    pub fn starting_at(start: DateTime<Utc>) -> Clock {
        Clock::Shifted(start - Utc::now())
    }

    /// What it reads.
    pub fn now(self) -> DateTime<Utc> {
        match self {
            Clock::System => Utc::now(),
            Clock::Fixed(t) => t,
            Clock::Shifted(by) => Utc::now() + by,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clock_started_in_another_year_reads_that_year_and_runs_on() {
        let start = DateTime::parse_from_rfc3339("2031-06-02T09:00:00Z")
            .expect("a valid instant")
            .with_timezone(&Utc);
        let clock = Clock::starting_at(start);
        let first = clock.now();
        assert!((first - start).num_seconds().abs() <= 1, "{first}");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while clock.now() <= first {
            assert!(
                std::time::Instant::now() < deadline,
                "the clock stood still"
            );
            std::hint::spin_loop();
        }
        assert_eq!(Clock::Fixed(start).now(), start);
    }
}

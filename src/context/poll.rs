//! The pace of the daemon's background workers (outgoing webhooks, notifications): straight on
//! while there is work, a look again after the poll interval when idle, a doubling wait (1 s to
//! a minute) after an error.

use std::fmt::Display;
use std::time::Duration;

use tokio::sync::watch;

/// The longest wait after errors in a row.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// One worker's pace.
#[derive(Debug)]
pub struct Pacer {
    what: &'static str,
    poll: Duration,
    backoff: Duration,
}

impl Pacer {
    /// A worker named `what` (for logs) that looks for work every `poll` when idle.
    pub fn new(what: &'static str, poll: Duration) -> Pacer {
        Pacer {
            what,
            poll,
            backoff: Duration::from_secs(1),
        }
    }

    /// How long to wait after a step that did some work (`Ok(true)`), none (`Ok(false)`) or
    /// failed (logged).
    pub fn wait_after<E: Display>(&mut self, outcome: Result<bool, E>) -> Duration {
        match outcome {
            Ok(true) => Duration::ZERO,
            Ok(false) => {
                self.backoff = Duration::from_secs(1);
                self.poll
            }
            Err(e) => {
                let w = self.backoff;
                tracing::warn!("{}: {e}; trying again in {}s", self.what, w.as_secs());
                self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
                w
            }
        }
    }

    /// Waits `wait`, or less when `shutdown` changes.
    pub async fn pause(wait: Duration, shutdown: &mut watch::Receiver<bool>) {
        if !wait.is_zero() {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.changed() => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_goes_on_idle_polls_and_errors_back_off_up_to_a_minute() {
        let mut p = Pacer::new("test", Duration::from_secs(5));
        assert_eq!(p.wait_after::<String>(Ok(true)), Duration::ZERO);
        assert_eq!(p.wait_after::<String>(Ok(false)), Duration::from_secs(5));
        let waits: Vec<u64> = (0..8)
            .map(|_| p.wait_after(Err("down")).as_secs())
            .collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60]);
        // Work again resets nothing until an idle look: then errors start from 1 s again.
        assert_eq!(p.wait_after::<String>(Ok(false)), Duration::from_secs(5));
        assert_eq!(p.wait_after(Err("down")), Duration::from_secs(1));
    }
}

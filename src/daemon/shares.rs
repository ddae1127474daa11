//! Mailboxes shared among the live daemons on one store (DESIGN.md, Scale). Every daemon
//! computes the same share from the same list of live daemons ([`assign`]: each mailbox goes
//! to the daemon that ranks highest for it, as long as that daemon has room, so shares differ
//! by at most one and few mailboxes move when a daemon joins or leaves), takes the leases of
//! its own share, gives back those it holds that are meant for another, and takes a mailbox
//! meant for another only once its lease has been run out for a grace period (its daemon is
//! gone, or runs another config). The leases themselves live in `store::holders`.

use std::collections::BTreeMap;

use super::Daemon;
use crate::domain::spread;
use crate::store::{HOLDER_GRACE, HOLDER_LEASE, Held, StoreError};

/// How recently a daemon must have been seen to count as live. A daemon is seen every 5 s; one
/// not seen for this long is out of the split, so a dead daemon's mailboxes go to a live one
/// when their leases run out (`HOLDER_LEASE`), even when the one they were meant for died
/// meanwhile: at worst 15 + 10 s and a look. (Was 20 s with 20 s leases: a mailbox meant for a
/// daemon killed just after a frozen one waited 40 s.) A live daemon taken for dead for a
/// moment loses nothing: its leases hold until they run out.
pub const LIVE_SECONDS: i64 = 10;
/// How long a mailbox given back waits for its inbox watcher to log out before another daemon
/// may take it (a watcher in the middle of reading a big folder finishes that first).
const HANDOVER_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Which live daemon each mailbox is meant for: `mailboxes` in order, each to the highest-
/// ranked daemon (by a hash of mailbox and daemon, so the ranking is the same everywhere)
/// with room left. Room: `m / n` mailboxes each, and one more for `m % n` of them, so every
/// daemon has a share and shares differ by at most one. Empty when no daemon is live.
pub fn assign<'a>(mailboxes: &[&'a str], live: &[&'a str]) -> BTreeMap<&'a str, &'a str> {
    let mut meant = BTreeMap::new();
    let n = live.len();
    if n == 0 {
        return meant;
    }
    let (floor, extra) = (mailboxes.len() / n, mailboxes.len() % n);
    let mut count = vec![0usize; n];
    let mut above_floor = 0usize;
    let mut sorted: Vec<&str> = mailboxes.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    for m in sorted {
        let mut ranked: Vec<usize> = (0..n).collect();
        ranked.sort_by_key(|&i| std::cmp::Reverse((rank(m, live[i]), live[i])));
        let pick = ranked
            .into_iter()
            .find(|&i| count[i] < floor || (count[i] == floor && above_floor < extra));
        if let Some(i) = pick {
            if count[i] == floor {
                above_floor += 1;
            }
            count[i] += 1;
            meant.insert(m, live[i]);
        }
    }
    meant
}

/// How much `daemon` wants `mailbox` (rendezvous hashing).
fn rank(mailbox: &str, daemon: &str) -> u64 {
    let mut key = Vec::with_capacity(mailbox.len() + daemon.len() + 1);
    key.extend_from_slice(mailbox.as_bytes());
    key.push(0);
    key.extend_from_slice(daemon.as_bytes());
    spread(&key)
}

impl Daemon {
    /// Takes, renews and gives back this daemon's mailbox leases at `now` (every scheduler
    /// step, and every few seconds while one runs), and records what it holds. A `run --once`
    /// takes every mailbox no live daemon holds, and gives them all back when it ends.
    pub(super) async fn share_mailboxes(&self, now: i64) -> Result<(), StoreError> {
        let _one_at_a_time = self.sharing.lock().await;
        let store = self.store();
        let me = self.instance();
        let names: Vec<&str> = self
            .config()
            .mailboxes
            .iter()
            .map(|m| m.name.as_str())
            .collect();
        let until = now + HOLDER_LEASE;
        let before = self.held();
        let held = if self.once.load(std::sync::atomic::Ordering::Relaxed) {
            store.hold_mailboxes(me, &names, now, now, until).await?
        } else {
            let mut live = store.live_daemons(now - LIVE_SECONDS).await?;
            if !live.iter().any(|i| i == me) {
                live.push(me.to_string());
            }
            let live: Vec<&str> = live.iter().map(String::as_str).collect();
            let meant = assign(&names, &live);
            let (mine, others): (Vec<&str>, Vec<&str>) =
                names.iter().partition(|n| meant.get(*n) == Some(&me));
            let (leaving, orphans): (Vec<&str>, Vec<&str>) =
                others.into_iter().partition(|n| before.contains_key(*n));
            if !leaving.is_empty() {
                // Not used here any more before another daemon may take them: the scheduler
                // leaves them alone and their watchers log out first (one reader at a time).
                let mut kept = before.clone();
                kept.retain(|m, _| !leaving.contains(&m.as_str()));
                self.set_held(kept);
                if !self.readers_gone(&leaving, HANDOVER_WAIT).await {
                    tracing::warn!(
                        mailboxes = ?leaving,
                        "an inbox watcher did not stop within {}s; handing over anyway",
                        HANDOVER_WAIT.as_secs()
                    );
                }
            }
            // Ended just before now: free at once for the daemon each is meant for.
            store.give_back_mailboxes(me, &leaving, now - 1).await?;
            let mut held = store.hold_mailboxes(me, &mine, now, now, until).await?;
            held.extend(
                store
                    .hold_mailboxes(me, &orphans, now, now - HOLDER_GRACE, until)
                    .await?,
            );
            held
        };
        log_changes(&before, &held);
        self.set_held(held);
        Ok(())
    }

    /// Gives back every mailbox lease this instance holds, free for any daemon at once.
    pub(super) async fn give_back_mailboxes(&self) -> Result<(), StoreError> {
        let _one_at_a_time = self.sharing.lock().await;
        self.store()
            .give_back_all_mailboxes(self.instance(), 0)
            .await?;
        self.set_held(Held::new());
        Ok(())
    }
}

/// Logs each mailbox taken and each one left (the chaos script reads these lines).
fn log_changes(before: &Held, after: &Held) {
    for (m, epoch) in after {
        if before.get(m) != Some(epoch) {
            tracing::info!(mailbox = %m, epoch, "mailbox taken: this daemon sends from it and watches its inbox");
        }
    }
    for (m, epoch) in before {
        if !after.contains_key(m) {
            tracing::info!(mailbox = %m, epoch, "mailbox left: another daemon holds it now");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts<'a>(meant: &BTreeMap<&'a str, &'a str>, live: &[&'a str]) -> Vec<usize> {
        live.iter()
            .map(|d| meant.values().filter(|v| *v == d).count())
            .collect()
    }

    #[test]
    fn every_mailbox_goes_to_one_daemon_and_shares_differ_by_at_most_one() {
        let names: Vec<String> = (0..20).map(|i| format!("rep{i:02}")).collect();
        let mailboxes: Vec<&str> = names.iter().map(String::as_str).collect();
        for live in [
            vec!["a"],
            vec!["a", "b"],
            vec!["a", "b", "c"],
            vec!["a", "b", "c", "d"],
            vec!["a", "b", "c", "d", "e", "f", "g"],
        ] {
            let meant = assign(&mailboxes, &live);
            assert_eq!(meant.len(), 20, "{live:?}");
            let c = counts(&meant, &live);
            let (lo, hi) = (c.iter().min().unwrap(), c.iter().max().unwrap());
            assert!(hi - lo <= 1, "{live:?}: {c:?}");
        }
    }

    #[test]
    fn a_daemon_joining_moves_few_mailboxes_and_the_order_of_the_list_does_not_matter() {
        let names: Vec<String> = (0..20).map(|i| format!("rep{i:02}")).collect();
        let mailboxes: Vec<&str> = names.iter().map(String::as_str).collect();
        let three = assign(&mailboxes, &["a", "b", "c"]);
        let four = assign(&mailboxes, &["a", "b", "c", "d"]);
        let moved = mailboxes.iter().filter(|m| three[*m] != four[*m]).count();
        // d takes its 5; a few more move for the ceilings to fit.
        assert!((5..=10).contains(&moved), "{moved} moved");
        let mut reversed = mailboxes.clone();
        reversed.reverse();
        assert_eq!(assign(&reversed, &["c", "a", "b"]), three);
    }

    #[test]
    fn fewer_mailboxes_than_daemons_leaves_some_idle_and_none_live_assigns_nothing() {
        let meant = assign(&["x", "y"], &["a", "b", "c"]);
        assert_eq!(meant.len(), 2);
        assert_eq!(counts(&meant, &["a", "b", "c"]).iter().max(), Some(&1));
        assert!(assign(&["x"], &[]).is_empty());
    }
}

//! Group commit for clicks and opens, off the answer's path. A handler queues its hit and
//! answers (the redirect, the pixel) at once; one writer task commits the hits that queued
//! while the last transaction committed, together, in the next one. The reader's redirect never
//! waits for the disk: a commit that stalls behind a checkpoint's fsync (several milliseconds
//! on ext4, a few times a second under load) would otherwise hold every click queued behind it
//! and set the p99.
//!
//! What that costs: a hit is in the store a few milliseconds after its answer, not before. A
//! clean stop (SIGTERM) writes every queued hit before the daemon exits ([`Recorder::start`]'s
//! task ends only when the queue is empty); a crash (SIGKILL, power loss) loses the hits still
//! queued, at most `QUEUE` of them, the last milliseconds' clicks. Nothing else hangs on a click
//! (it stops no sequence), and the reader gets where they were going either way. When the
//! queue is full, handlers wait for room, so a slow store slows answers down instead of
//! dropping hits. The writer keeps its connection, and the store's checkpoints run beside it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::store::{Hit, Store};

/// Hits waiting at most; beyond it, handlers wait for room (backpressure).
const QUEUE: usize = 4096;
/// Hits per transaction at most.
const BATCH: usize = 512;
/// The least time from one commit's start to the next's. Nobody waits for a commit, so commits
/// can be fewer and larger: each rewrites the same few pages (the end of `events` and of its
/// indexes) whether it holds 10 hits or 100. Measured on 2 cores under wrk (benches/http.sh):
/// back to back, p99 4.7-5.1 ms; every 2 ms, 3.6-4.7 ms at a higher rate; every 10 ms (with
/// 2,048-hit batches), 5.7-6.3 ms, as each commit's longer burst of CPU delays the answers.
const COMMIT_EVERY: Duration = Duration::from_millis(2);
/// The least time between two checkpoints of the store while hits come in.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);
/// Tries to commit one batch before its hits are given up (logged).
const ATTEMPTS: u32 = 3;

/// Hands hits to the writer task.
#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::Sender<Hit>,
    /// Hits given up: their batch failed `ATTEMPTS` times, or the writer had stopped.
    lost: Arc<AtomicU64>,
}

impl Recorder {
    /// Starts the writer task on `store`. The task ends once every `Recorder` is dropped and
    /// every queued hit is committed (or given up): await it before the process exits.
    pub fn start(store: Store) -> (Recorder, JoinHandle<()>) {
        let (tx, mut rx) = mpsc::channel::<Hit>(QUEUE);
        let lost = Arc::new(AtomicU64::new(0));
        let lost_in_writer = lost.clone();
        // Checkpoints beside the writer, after it commits, at most every CHECKPOINT_EVERY; the
        // channel ends with the writer.
        let (written_tx, mut written) = mpsc::channel::<()>(1);
        let checkpointer = store.clone();
        tokio::spawn(async move {
            while written.recv().await.is_some() {
                if let Err(e) = checkpointer.checkpoint().await {
                    tracing::warn!("cannot checkpoint the store: {e}");
                }
                tokio::time::sleep(CHECKPOINT_EVERY).await;
            }
        });
        let writer = tokio::spawn(async move {
            let mut writer = store.hit_writer();
            let mut hits = Vec::with_capacity(BATCH);
            while rx.recv_many(&mut hits, BATCH).await > 0 {
                let started = tokio::time::Instant::now();
                mark_bursts(&mut hits);
                for attempt in 1..=ATTEMPTS {
                    match writer.record(&hits).await {
                        Ok(()) => {
                            let _ = written_tx.try_send(());
                            break;
                        }
                        Err(e) if attempt < ATTEMPTS => {
                            tracing::warn!(
                                hits = hits.len(),
                                attempt,
                                "cannot record clicks and opens, trying again: {e}"
                            );
                            // A pause before the next try, so that a busy store can recover.
                            tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt)))
                                .await;
                        }
                        Err(e) => {
                            tracing::error!(
                                hits = hits.len(),
                                "cannot record clicks and opens, giving them up: {e}"
                            );
                            lost_in_writer.fetch_add(hits.len() as u64, Ordering::Relaxed);
                        }
                    }
                }
                hits.clear();
                tokio::time::sleep_until(started + COMMIT_EVERY).await;
            }
        });
        (Recorder { tx, lost }, writer)
    }

    /// Queues `hit` for the next commit; waits only while the queue is full.
    pub async fn record(&self, hit: Hit) {
        if self.tx.send(hit).await.is_err() {
            tracing::error!("the click and open writer has stopped; a hit is lost");
            self.lost.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Hits queued, not yet committed (nor being committed).
    pub fn queued(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }

    /// Hits given up since the start: their commit failed again and again.
    pub fn lost(&self) -> u64 {
        self.lost.load(Ordering::Relaxed)
    }
}

/// Two clicks of one email in the same second are not a person's: a person does not click two
/// links at once (the store only sees clicks committed before this batch). A batch can span
/// longer than that when the store was slow, so the second counts, not the batch.
fn mark_bursts(hits: &mut [Hit]) {
    let mut seen = std::collections::HashSet::new();
    for h in hits.iter_mut().filter(|h| h.link.is_some()) {
        if !seen.insert((h.message_id.clone(), h.at)) && h.why.is_none() {
            h.why = Some("several links clicked at once");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn click(message_id: &str, link: u16, at: i64) -> Hit {
        Hit {
            message_id: message_id.into(),
            link: Some(link),
            url: Some("https://example.com/".into()),
            why: None,
            at,
        }
    }

    #[test]
    fn only_links_of_one_email_clicked_in_the_same_second_are_a_burst() {
        let mut hits = vec![
            click("<a@x>", 0, 100),
            click("<a@x>", 1, 100),
            click("<b@x>", 0, 100),
            // A second later, in the same batch (the store was slow): a person may do that.
            click("<a@x>", 2, 101),
        ];
        mark_bursts(&mut hits);
        let why: Vec<_> = hits.iter().map(|h| h.why).collect();
        assert_eq!(
            why,
            [None, Some("several links clicked at once"), None, None]
        );
    }
}

//! Group commit for clicks and opens. Every hit is durable before its answer (a redirect, a
//! pixel) goes out, yet hits do not queue one transaction each behind the store's one writer:
//! the hits that arrive while a transaction commits go together in the next one. The writer
//! keeps its connection, and the store's checkpoints run beside it, so that no batch waits for
//! a checkpoint's copy and fsync.

use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::store::{Hit, Store};

/// Hits waiting at most; beyond it, handlers wait for room (backpressure).
const QUEUE: usize = 4096;
/// Hits per transaction at most.
const BATCH: usize = 512;
/// The least time between two checkpoints of the store while hits come in.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

/// Hands hits to the writer task.
#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::Sender<(Hit, oneshot::Sender<bool>)>,
}

impl Recorder {
    /// Starts the writer task on `store`. It ends when every `Recorder` is dropped.
    pub fn start(store: Store) -> Recorder {
        let (tx, mut rx) = mpsc::channel::<(Hit, oneshot::Sender<bool>)>(QUEUE);
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
        tokio::spawn(async move {
            let mut writer = store.hit_writer();
            while let Some(first) = rx.recv().await {
                let mut batch = vec![first];
                while batch.len() < BATCH {
                    match rx.try_recv() {
                        Ok(more) => batch.push(more),
                        Err(_) => break,
                    }
                }
                let mut hits: Vec<Hit> = batch.iter().map(|(h, _)| h.clone()).collect();
                mark_bursts(&mut hits);
                let ok = match writer.record(&hits).await {
                    Ok(()) => true,
                    Err(e) => {
                        tracing::error!(hits = hits.len(), "cannot record clicks and opens: {e}");
                        false
                    }
                };
                if ok {
                    let _ = written_tx.try_send(());
                }
                for (_, done) in batch {
                    let _ = done.send(ok);
                }
            }
        });
        Recorder { tx }
    }

    /// Records `hit`; true once it is committed.
    pub async fn record(&self, hit: Hit) -> bool {
        let (done, committed) = oneshot::channel();
        if self.tx.send((hit, done)).await.is_err() {
            return false;
        }
        committed.await.unwrap_or(false)
    }
}

/// Two clicks of one email in the same instant are not a person's: a person does not click two
/// links within a millisecond (the store only sees clicks committed before this batch).
fn mark_bursts(hits: &mut [Hit]) {
    let mut seen = std::collections::HashSet::new();
    for h in hits.iter_mut().filter(|h| h.link.is_some()) {
        if !seen.insert(h.message_id.clone()) && h.why.is_none() {
            h.why = Some("several links clicked at once");
        }
    }
}

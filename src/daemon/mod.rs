//! The daemon: `drumbeat run`. One scheduler loop that sleeps until the next due time (or a
//! wake-up), runs [`Daemon::tick`], and records a heartbeat; the catalog is swapped on reload
//! (a broken edit keeps the previous one); shutdown stops claiming and lets in-flight SMTP
//! transactions finish. Signals and sd-notify live in the CLI (`cli/run.rs`): this module takes
//! a shutdown channel and a reload channel, so tests drive it directly.

mod progress;
mod shares;
mod tick;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::{mpsc, watch};

use crate::catalog::Catalog;
use crate::config::Config;
use crate::context::Context;
use crate::dns::LeadDomains;
use crate::store::{LEASE_RENEW_SECONDS, LEASE_SECONDS, Recovered, Store, StoreError};

pub use crate::context::{MAX_SLEEP, lead_window, lead_zone, next_after_done};
pub use crate::domain::Clock;
pub use shares::{LIVE_SECONDS, assign};
pub use tick::{BATCH, INBOX_RETRY, QUEUE_PER_CONNECTION, TickReport};

/// A running sender: the scheduler loop over a shared [`Context`].
pub struct Daemon {
    context: Arc<Context>,
    /// The check of a lead's domain before its first email (None: `[dns] lead_domains =
    /// false`, or every mailbox writes to an outbox folder, where nothing can bounce).
    lead_domains: Option<Arc<LeadDomains>>,
    /// A `run --once` (see [`Daemon::start`]): it takes only the mailboxes no daemon holds.
    once: std::sync::atomic::AtomicBool,
    /// One sharing of the mailboxes at a time (the scheduler and the lease keeper both share).
    sharing: tokio::sync::Mutex<()>,
    /// When the mailboxes were last shared, by the daemon's clock.
    shared_at: std::sync::atomic::AtomicI64,
    /// What the scheduler is doing, for the lease keeper's watchdog.
    progress: progress::Progress,
}

/// Why the scheduler loop ended in failure.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A scheduler step made no progress for [`progress::STALL`]: the daemon stops renewing its
    /// leases, so that other daemons (or a restart) take its work over.
    #[error(
        "the scheduler hung while {phase} for {secs} s: this daemon stops, so that its leases run out and its work is taken over (restart it; the log above says where it hung)"
    )]
    Stalled {
        /// What the scheduler was doing.
        phase: &'static str,
        /// For how long, in seconds.
        secs: u64,
    },
}

impl std::ops::Deref for Daemon {
    type Target = Context;

    fn deref(&self) -> &Context {
        &self.context
    }
}

impl Daemon {
    /// A daemon for `config` with a loaded catalog. Fails when a mailbox's DKIM key cannot be
    /// loaded (sending unsigned mail that was meant to be signed would hurt deliverability).
    pub fn new(
        config: Config,
        catalog: Catalog,
        store: Store,
        instance: String,
        clock: Clock,
    ) -> Result<Daemon, String> {
        let lead_domains = match LeadDomains::for_config(&config) {
            Ok(check) => check.map(Arc::new),
            Err(e) => {
                tracing::warn!("leads' domains are not checked before their first email: {e}");
                None
            }
        };
        Ok(Daemon {
            context: Arc::new(Context::new(config, catalog, store, instance, clock)?),
            lead_domains,
            once: std::sync::atomic::AtomicBool::new(false),
            sharing: tokio::sync::Mutex::new(()),
            shared_at: std::sync::atomic::AtomicI64::new(i64::MIN),
            progress: progress::Progress::default(),
        })
    }

    /// What the other tasks share with the scheduler.
    pub fn context(&self) -> &Arc<Context> {
        &self.context
    }

    /// Start-up: touches this instance (or a daemon whose lease ran out) left `sending` become
    /// `uncertain`, and the instance is registered. Returns how many became uncertain.
    /// `once`: this is a `run --once`, registered as such (not as a daemon).
    pub async fn start(&self, once: bool) -> Result<Recovered, StoreError> {
        let now = self.now().timestamp();
        self.once.store(once, std::sync::atomic::Ordering::Relaxed);
        // Whatever this instance held before it restarted is taken again under new epochs.
        self.give_back_mailboxes().await?;
        let r = self.store().recover(self.instance(), now).await?;
        log_recovered(r, "this instance, before it restarted");
        self.store()
            .daemon_started(self.instance(), i64::from(std::process::id()), now, once)
            .await?;
        Ok(r)
    }

    /// Renews the leases this instance holds, every [`LEASE_RENEW_SECONDS`], for as long as it
    /// is polled (beside the scheduler loop, in the same task): a lease that is not renewed
    /// means its holder died, and other daemons take its work over. Returns only when the
    /// scheduler hung (see `progress`): then nothing is renewed any more.
    async fn keep_leases(&self) -> RunError {
        let mut every = tokio::time::interval(Duration::from_secs(LEASE_RENEW_SECONDS));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            match self.progress.look(std::time::Instant::now()) {
                progress::Look::Fine => {}
                progress::Look::Slow(phase, spent) => tracing::warn!(
                    phase,
                    seconds = spent.as_secs(),
                    "the scheduler is slow: one step has taken {} s so far while {phase}",
                    spent.as_secs()
                ),
                progress::Look::Stalled(phase, spent) => {
                    let e = RunError::Stalled {
                        phase,
                        secs: spent.as_secs(),
                    };
                    tracing::error!("{e}");
                    return e;
                }
            }
            let now = self.now().timestamp();
            if let Err(e) = self
                .store()
                .renew_leases(self.instance(), now + LEASE_SECONDS)
                .await
            {
                tracing::warn!("cannot renew this daemon's leases: {e}");
            }
            if let Err(e) = self.heartbeat().await {
                tracing::warn!("cannot record this daemon's heartbeat: {e}");
            }
            if let Err(e) = self.share(now, true).await {
                tracing::warn!("cannot renew this daemon's mailbox leases: {e}");
            }
        }
    }

    /// The scheduler enters `phase` (or made progress in it): see `progress`.
    fn step_at(&self, phase: &'static str) {
        self.progress.at(phase);
    }

    /// Shares the mailboxes at `now` (see `shares`) unless that was done within the last
    /// second by the daemon's clock (`always`: whatever the last time).
    async fn share(&self, now: i64, always: bool) -> Result<(), StoreError> {
        use std::sync::atomic::Ordering;
        let last = self.shared_at.load(Ordering::Relaxed);
        if !always && last != i64::MIN && (now - last).abs() < 1 {
            return Ok(());
        }
        self.share_mailboxes(now).await?;
        self.shared_at.store(now, Ordering::Relaxed);
        Ok(())
    }

    /// The due enrollments this daemon may lease: those of the mailboxes it holds (see
    /// [`crate::store::DueScope`]), with the names borrowed from `held`.
    fn scope<'a>(
        &'a self,
        held: &'a [&'a str],
        configured: &'a [&'a str],
    ) -> crate::store::DueScope<'a> {
        crate::store::DueScope::Mailboxes { held, configured }
    }

    /// Takes over the work of daemons that stopped renewing their leases (see
    /// [`Store::recover_abandoned`]).
    async fn take_over_abandoned(&self, now: i64) -> Result<(), StoreError> {
        let r = self.store().recover_abandoned(self.instance(), now).await?;
        log_recovered(r, "another daemon that stopped");
        Ok(())
    }

    /// Reads every watched mailbox once (replies recorded now stop sends claimed after).
    /// A mailbox that cannot be read is logged, recorded (`status` shows it) and returned: its
    /// follow-ups wait for a read (see `policy::inbox_gate`); first emails still go.
    pub async fn check_inboxes(&self) -> Vec<UnreadInbox> {
        let mut unread = Vec::new();
        for m in self.config().mailboxes.iter().filter(|m| m.imap.is_some()) {
            match crate::inbox::watch::check_once(&self.context, m).await {
                Ok(r) => tracing::info!(
                    mailbox = %m.name,
                    read = r.read,
                    recorded = r.recorded,
                    unmatched = r.unmatched,
                    duplicates = r.duplicates,
                    malformed = r.malformed,
                    "inbox checked"
                ),
                Err(e) => {
                    tracing::warn!(mailbox = %m.name, "inbox not read: {e}; its follow-ups wait until it is read");
                    let error = e.to_string();
                    let _ = self
                        .store()
                        .set_watcher_state(
                            &m.name,
                            self.instance(),
                            "disconnected",
                            Some(&error),
                            Utc::now().timestamp(),
                        )
                        .await;
                    let _ = self
                        .store()
                        .inbox_read_failed(&m.name, &error, self.now().timestamp())
                        .await;
                    unread.push(UnreadInbox {
                        mailbox: m.name.clone(),
                        error,
                    });
                }
            }
        }
        unread
    }

    /// Does everything that is due now, then returns what was done (`run --once`): reads the
    /// watched inboxes first, so a reply that arrived stops its lead before anything is claimed,
    /// and returns the inboxes it could not read with what was done.
    pub async fn run_once(&self) -> Result<(TickReport, Vec<UnreadInbox>), RunError> {
        let work = async {
            self.step_at("sharing the mailboxes");
            self.share(self.now().timestamp(), true).await?;
            self.step_at("reading the inboxes");
            let unread = self.check_inboxes().await;
            let mut total = TickReport::default();
            loop {
                let now = self.now();
                self.take_over_abandoned(now.timestamp()).await?;
                self.store().resume_due_pauses(now.timestamp()).await?;
                let r = self.tick(now).await?;
                let more = r.due >= BATCH as u64;
                add(&mut total, &r);
                if !more {
                    break;
                }
            }
            self.step_at("recording the heartbeat");
            self.heartbeat().await?;
            let spent = self.progress.take_spent();
            let took: Duration = spent.iter().map(|(_, d)| *d).sum();
            tracing::info!(
                due = total.due,
                sent = total.sent,
                time = %progress::describe(&spent),
                "run --once took {} ms",
                took.as_millis()
            );
            // The mailboxes stay held for what `run --once` does next (their Sent folders);
            // `stop` gives them back.
            Ok::<_, StoreError>((total, unread))
        };
        tokio::select! {
            r = work => Ok(r?),
            e = self.keep_leases() => Err(e),
        }
    }

    /// The long-running loop, until `shutdown` becomes true. A message on `reload` reloads
    /// the catalog; one on `wake` ends a sleep early (a new enrollment).
    pub async fn run(
        &self,
        shutdown: watch::Receiver<bool>,
        reload: mpsc::Receiver<()>,
        wake: mpsc::Receiver<()>,
        on_tick: impl FnMut(&TickReport, Option<i64>),
    ) -> Result<(), RunError> {
        tokio::select! {
            r = self.schedule(shutdown, reload, wake, on_tick) => Ok(r?),
            e = self.keep_leases() => Err(e),
        }
    }

    async fn schedule(
        &self,
        mut shutdown: watch::Receiver<bool>,
        mut reload: mpsc::Receiver<()>,
        mut wake: mpsc::Receiver<()>,
        mut on_tick: impl FnMut(&TickReport, Option<i64>),
    ) -> Result<(), StoreError> {
        let mut failures = 0u32;
        loop {
            if *shutdown.borrow() {
                break;
            }
            let now = self.now();
            let step = self.step(now, failures > 0).await;
            self.step_at("looking for the next due time");
            let wait = match step {
                Ok(r) => {
                    failures = 0;
                    let next = self.next_due(now.timestamp()).await;
                    let spent = self.progress.take_spent();
                    on_tick(&r, next);
                    if r.due > 0 {
                        tracing::info!(
                            due = r.due,
                            sent = r.sent,
                            deferred = r.deferred,
                            retried = r.retried,
                            failed = r.failed,
                            uncertain = r.uncertain,
                            tasks = r.tasks,
                            time = %progress::describe(&spent),
                            "tick"
                        );
                    }
                    if r.due >= BATCH as u64 {
                        Duration::ZERO
                    } else {
                        // To the millisecond: due times are whole seconds, and a wake-up
                        // rounded to the second after a tick's work loses most of a second
                        // per gap (one email a second per mailbox went at 0.65/s).
                        let until = next.map_or(MAX_SLEEP, |n| {
                            let ms = n.saturating_mul(1000) - self.now().timestamp_millis();
                            Duration::from_millis(u64::try_from(ms).unwrap_or(0))
                        });
                        until.min(MAX_SLEEP)
                    }
                }
                Err(e) => {
                    failures += 1;
                    let backoff = Duration::from_secs(u64::from(failures.min(6)) * 5);
                    tracing::error!(
                        "scheduler step failed (retrying in {}s): {e}",
                        backoff.as_secs()
                    );
                    backoff
                }
            };
            if wait.is_zero() {
                continue;
            }
            self.step_at(progress::ASLEEP);
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.changed() => {}
                Some(()) = reload.recv() => { let _ = self.reload(); }
                Some(()) = wake.recv() => {}
            }
        }
        Ok(())
    }

    /// One scheduler step at `now`; `after_failure`: the previous one failed.
    async fn step(
        &self,
        now: chrono::DateTime<Utc>,
        after_failure: bool,
    ) -> Result<TickReport, StoreError> {
        if after_failure {
            // The failed step may have leased enrollments and claimed touches it never
            // settled (the store went away under it): they are settled as a restart would,
            // or the lease keeper would renew them for ever and they would never go.
            self.step_at("recovering the failed step's work");
            let r = self
                .store()
                .recover(self.instance(), now.timestamp())
                .await?;
            log_recovered(r, "this daemon's failed scheduler step");
        }
        self.step_at("taking over abandoned work");
        self.take_over_abandoned(now.timestamp()).await?;
        self.step_at("resuming pauses");
        self.store().resume_due_pauses(now.timestamp()).await?;
        let r = self.tick(now).await?;
        self.step_at("recording the heartbeat");
        self.heartbeat().await?;
        Ok(r)
    }

    /// When the next enrollment this daemon may lease is due (None: none, or it cannot tell).
    async fn next_due(&self, now: i64) -> Option<i64> {
        let held = self.held();
        let held: Vec<&str> = held.keys().map(String::as_str).collect();
        let configured: Vec<&str> = self
            .config()
            .mailboxes
            .iter()
            .map(|m| m.name.as_str())
            .collect();
        self.store()
            .next_due_in(now, &self.scope(&held, &configured))
            .await
            .ok()
            .flatten()
    }

    async fn heartbeat(&self) -> Result<(), StoreError> {
        self.store()
            .daemon_seen(
                self.instance(),
                self.catalog_error().as_deref(),
                self.now().timestamp(),
            )
            .await
    }

    /// Clean exit: connections closed, the instance marked stopped.
    pub async fn stop(&self) {
        for t in self.transports() {
            t.close().await;
        }
        if let Err(e) = self.give_back_mailboxes().await {
            tracing::warn!("could not give the mailboxes back: {e}");
        }
        if let Err(e) = self
            .store()
            .daemon_stopped(self.instance(), self.now().timestamp())
            .await
        {
            tracing::warn!("could not record the stop: {e}");
        }
    }
}

/// Says what a recovery did, when it did anything.
fn log_recovered(r: Recovered, whose: &str) {
    if r.uncertain > 0 {
        tracing::warn!(
            touches = r.uncertain,
            "sends interrupted by a crash of {whose} are uncertain: the Sent folder or `drumbeat resolve` settles them"
        );
    }
    if r.requeued > 0 {
        tracing::warn!(
            touches = r.requeued,
            "sends interrupted by a crash of {whose} had reached no server: they go out again"
        );
    }
}

fn add(total: &mut TickReport, r: &TickReport) {
    total.due += r.due;
    total.sent += r.sent;
    total.retried += r.retried;
    total.failed += r.failed;
    total.bounced += r.bounced;
    total.uncertain += r.uncertain;
    total.tasks += r.tasks;
    total.deferred += r.deferred;
    total.outside_window += r.outside_window;
    total.over_limit += r.over_limit;
    total.paused_by_hold += r.paused_by_hold;
    total.stopped += r.stopped;
    total.lost += r.lost;
    total.held += r.held;
    total.skipped += r.skipped;
    total.passed_over += r.passed_over;
    total.drafts += r.drafts;
    total.elsewhere += r.elsewhere;
}

/// A watched mailbox `run --once` could not read: its follow-ups waited.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UnreadInbox {
    /// The mailbox.
    pub mailbox: String,
    /// Why it could not be read.
    pub error: String,
}

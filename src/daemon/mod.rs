//! The daemon: `drumbeat run`. One scheduler loop that sleeps until the next due time (or a
//! wake-up), runs [`Daemon::tick`], and records a heartbeat; the catalog is swapped on reload
//! (a broken edit keeps the previous one); shutdown stops claiming and lets in-flight SMTP
//! transactions finish. Signals and sd-notify live in the CLI (`cli/run.rs`): this module takes
//! a shutdown channel and a reload channel, so tests drive it directly.

pub mod poll;
mod tick;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use lettre::message::dkim::DkimConfig;
use tokio::sync::{mpsc, watch};

use crate::catalog::Catalog;
use crate::config::Config;
use crate::diag::Diagnostic;
use crate::send::transport::{MailTransport, dkim_signer};
use crate::store::{LEASE_RENEW_SECONDS, LEASE_SECONDS, Recovered, Store, StoreError};

pub use crate::domain::Clock;
pub use tick::{BATCH, QUEUE_PER_CONNECTION, TickReport, lead_zone};

/// The longest the loop sleeps without looking at the store: new enrollments made by another
/// process (a CLI import, the HTTP API of another instance) are seen within this time.
pub const MAX_SLEEP: Duration = Duration::from_secs(5);



/// A running sender.
pub struct Daemon {
    config: Config,
    catalog: RwLock<Arc<Catalog>>,
    store: Store,
    instance: String,
    transports: HashMap<String, Arc<MailTransport>>,
    signers: HashMap<String, DkimConfig>,
    fixed_clock: bool,
    clock: Clock,
    catalog_error: Mutex<Option<String>>,
    /// The key of unsubscribe and tracking links (see [`Daemon::load_tokens`]).
    tokens: std::sync::OnceLock<crate::http::TokenKey>,
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
        let mut transports = HashMap::new();
        let mut signers = HashMap::new();
        for m in &config.mailboxes {
            transports.insert(
                m.name.clone(),
                Arc::new(MailTransport::for_mailbox(&config, m)),
            );
            if let Some(s) = dkim_signer(&config, m)? {
                signers.insert(m.name.clone(), s);
            }
        }
        Ok(Daemon {
            config,
            catalog: RwLock::new(Arc::new(catalog)),
            store,
            instance,
            transports,
            signers,
            fixed_clock: matches!(clock, Clock::Fixed(_)),
            clock,
            catalog_error: Mutex::new(None),
            tokens: std::sync::OnceLock::new(),
        })
    }

    /// The current catalog.
    pub fn catalog(&self) -> Arc<Catalog> {
        self.catalog
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// True under `run --once --now` / DRUMBEAT_NOW: every instant is the fixed one.
    pub fn clock_is_fixed(&self) -> bool {
        self.fixed_clock
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// This instance's name.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// A mailbox's way out (rep notifications leave through it too).
    pub fn transport(&self, mailbox: &str) -> Option<Arc<MailTransport>> {
        self.transports.get(mailbox).cloned()
    }

    /// A mailbox's DKIM signer, when it has a key.
    pub fn signer(&self, mailbox: &str) -> Option<&DkimConfig> {
        self.signers.get(mailbox)
    }

    /// Now, by the daemon's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Loads sequences and templates again. On errors the previous catalog stays in use and
    /// the errors come back (they are also logged and shown by `status`).
    pub fn reload(&self) -> Result<(), Vec<Diagnostic>> {
        let (catalog, diags) = Catalog::load(&self.config);
        let errors: Vec<Diagnostic> = diags.into_iter().filter(Diagnostic::is_error).collect();
        let mut last = self
            .catalog_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if errors.is_empty() {
            *self
                .catalog
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(catalog);
            *last = None;
            tracing::info!(
                sequences = self.catalog().sequences.len(),
                "catalog reloaded"
            );
            Ok(())
        } else {
            let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
            for e in &shown {
                tracing::error!("reload refused, previous catalog kept: {e}");
            }
            *last = Some(shown.join("\n"));
            Err(errors)
        }
    }

    /// The last refused reload, if the catalog in use is older than the files.
    pub fn catalog_error(&self) -> Option<String> {
        self.catalog_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Start-up: touches this instance (or a daemon whose lease ran out) left `sending` become
    /// `uncertain`, and the instance is registered. Returns how many became uncertain.
    pub async fn start(&self) -> Result<Recovered, StoreError> {
        let now = self.now().timestamp();
        let r = self.store.recover(&self.instance, now).await?;
        log_recovered(r, "this instance, before it restarted");
        self.store
            .daemon_started(&self.instance, i64::from(std::process::id()), now)
            .await?;
        Ok(r)
    }

    /// Renews the leases this instance holds, every [`LEASE_RENEW_SECONDS`], for as long as it
    /// is polled (beside the scheduler loop, in the same task): a lease that is not renewed
    /// means its holder died, and other daemons take its work over.
    pub async fn keep_leases(&self) {
        let mut every = tokio::time::interval(Duration::from_secs(LEASE_RENEW_SECONDS));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            let until = self.now().timestamp() + LEASE_SECONDS;
            if let Err(e) = self.store.renew_leases(&self.instance, until).await {
                tracing::warn!("cannot renew this daemon's leases: {e}");
            }
        }
    }

    /// Takes over the work of daemons that stopped renewing their leases (see
    /// [`Store::recover_abandoned`]).
    async fn take_over_abandoned(&self, now: i64) -> Result<(), StoreError> {
        let r = self.store.recover_abandoned(&self.instance, now).await?;
        log_recovered(r, "another daemon that stopped");
        Ok(())
    }

    /// Reads the key of unsubscribe and tracking links (config.toml's, else the one the
    /// daemons share through the store). Without it, emails carry only the mailto:
    /// unsubscribe and no tracked links; `drumbeat run` loads it before the first tick.
    pub async fn load_tokens(&self) -> Result<(), String> {
        let key = crate::http::token_key(self).await?;
        let _ = self.tokens.set(key);
        Ok(())
    }

    /// The key of unsubscribe and tracking links, once loaded.
    pub fn tokens(&self) -> Option<&crate::http::TokenKey> {
        self.tokens.get()
    }

    /// Reads every watched mailbox once (replies recorded now stop sends claimed after).
    /// Problems are logged and shown in `status`; they do not stop sending.
    pub async fn check_inboxes(&self) {
        for m in self.config.mailboxes.iter().filter(|m| m.imap.is_some()) {
            match crate::inbox::watch::check_once(self, m).await {
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
                    tracing::warn!(mailbox = %m.name, "inbox not checked: {e}");
                    let _ = self
                        .store
                        .set_watcher_state(
                            &m.name,
                            &self.instance,
                            "disconnected",
                            Some(&e.to_string()),
                            Utc::now().timestamp(),
                        )
                        .await;
                }
            }
        }
    }

    /// Does everything that is due now, then returns what was done (`run --once`): reads the
    /// watched inboxes first, so a reply that arrived stops its lead before anything is claimed.
    pub async fn run_once(&self) -> Result<TickReport, StoreError> {
        let work = async {
            self.check_inboxes().await;
            let mut total = TickReport::default();
            loop {
                let now = self.now();
                self.take_over_abandoned(now.timestamp()).await?;
                self.store.resume_due_pauses(now.timestamp()).await?;
                let r = self.tick(now).await?;
                let more = r.due >= BATCH as u64;
                add(&mut total, &r);
                if !more {
                    break;
                }
            }
            self.heartbeat().await?;
            Ok(total)
        };
        tokio::select! {
            r = work => r,
            () = self.keep_leases() => unreachable!("keep_leases never returns"),
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
    ) -> Result<(), StoreError> {
        tokio::select! {
            r = self.schedule(shutdown, reload, wake, on_tick) => r,
            () = self.keep_leases() => unreachable!("keep_leases never returns"),
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
            let step = async {
                self.take_over_abandoned(now.timestamp()).await?;
                self.store.resume_due_pauses(now.timestamp()).await?;
                let r = self.tick(now).await?;
                self.heartbeat().await?;
                Ok::<_, StoreError>(r)
            }
            .await;
            let wait = match step {
                Ok(r) => {
                    failures = 0;
                    let next = self.store.next_due_at(now.timestamp()).await.ok().flatten();
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
                            "tick"
                        );
                    }
                    if r.due >= BATCH as u64 {
                        Duration::ZERO
                    } else {
                        let until = next.map_or(MAX_SLEEP, |n| {
                            Duration::from_secs(u64::try_from(n - now.timestamp()).unwrap_or(0))
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
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.changed() => {}
                Some(()) = reload.recv() => { let _ = self.reload(); }
                Some(()) = wake.recv() => {}
            }
        }
        Ok(())
    }

    async fn heartbeat(&self) -> Result<(), StoreError> {
        self.store
            .daemon_seen(
                &self.instance,
                self.catalog_error().as_deref(),
                self.now().timestamp(),
            )
            .await
    }

    /// Clean exit: connections closed, the instance marked stopped.
    pub async fn stop(&self) {
        for t in self.transports.values() {
            t.close().await;
        }
        if let Err(e) = self
            .store
            .daemon_stopped(&self.instance, self.now().timestamp())
            .await
        {
            tracing::warn!("could not record the stop: {e}");
        }
    }
}

/// Where an enrollment goes after the step of `touch` was done at `at` (a send resolved by
/// hand, a task done): the next step not yet run, timed in the lead's zone; finished when
/// none is left or the sequence is gone.
pub async fn next_after_done(
    config: &Config,
    catalog: &Catalog,
    store: &Store,
    touch: &crate::store::TouchInfo,
    at: DateTime<Utc>,
) -> Result<crate::store::Next, StoreError> {
    let enrollment = crate::store::EnrollmentId(touch.enrollment);
    let lead = crate::store::LeadId(touch.lead);
    let Some(seq) = catalog.sequence(&touch.sequence_id) else {
        return Ok(crate::store::Next::Finished);
    };
    let Some(index) = seq.step_index(&touch.step_id) else {
        // The step was removed since: carry on from where the touches say the lead is.
        let past = store.past_touches(&[enrollment]).await?;
        let past = past.get(&enrollment).cloned().unwrap_or_default();
        return Ok(
            match crate::plan::current_step(seq, None, &past) {
                Some(i) => crate::store::Next::Step {
                    id: seq.steps[i].id.clone(),
                    due_at: at.timestamp(),
                },
                None => crate::store::Next::Finished,
            },
        );
    };
    let leads = store.leads_by_ids(&[lead]).await?;
    let Some(l) = leads.get(&lead) else {
        return Ok(crate::store::Next::Finished);
    };
    let past = store.past_touches(&[enrollment]).await?;
    let past = past.get(&enrollment).cloned().unwrap_or_default();
    let tz = lead_zone(seq, l, config.timezone);
    Ok(crate::plan::next_after(
        seq,
        index,
        &past,
        at,
        tz,
        l.record.email.as_str(),
        config.sending.jitter,
    ))
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
    total.stopped += r.stopped;
    total.lost += r.lost;
}

#[cfg(test)]
mod clock_tests {
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

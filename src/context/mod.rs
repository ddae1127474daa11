//! What every task of a running drumbeat shares: the configuration, the live catalog (swapped
//! on reload), the store, the clock, this instance's name, the link key and the mail
//! transports. The scheduler (`daemon`), the inbox watchers, the HTTP server, the webhook
//! dispatcher and the notifier each take a [`Context`] (or the piece they need), never each
//! other.

pub mod poll;

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use lettre::message::dkim::DkimConfig;

use crate::catalog::Catalog;
use crate::config::{Config, Mailbox, parse_tz};
use crate::diag::Diagnostic;
use crate::domain::{Clock, Next};
use crate::plan::Done;
use crate::schedule::{Country, SendWindow};
use crate::send::tokens::TokenKey;
use crate::send::transport::{MailTransport, dkim_signer};
use crate::sequence::Sequence;
use crate::store::{EnrollmentId, Held, LeadId, Store, StoreError, StoredLead, TouchInfo};

/// The longest the scheduler sleeps without looking at the store: new enrollments made by
/// another process (a CLI import, the HTTP API of another instance) are seen within this time.
pub const MAX_SLEEP: Duration = Duration::from_secs(5);

/// What every task of a running drumbeat shares.
pub struct Context {
    config: Config,
    catalog: RwLock<Arc<Catalog>>,
    store: Store,
    instance: String,
    transports: HashMap<String, Arc<MailTransport>>,
    signers: HashMap<String, DkimConfig>,
    fixed_clock: bool,
    clock: Clock,
    catalog_error: Mutex<Option<String>>,
    /// The key of unsubscribe and tracking links (see [`Context::load_tokens`]).
    tokens: std::sync::OnceLock<TokenKey>,
    /// The mailboxes this instance holds, with their lease epochs (see `store::holders`):
    /// the scheduler sends, and the inbox watchers watch, only these.
    held: tokio::sync::watch::Sender<Held>,
    /// The mailboxes whose inbox this instance's watchers are reading (between their
    /// `watching` and `stopped`): one given back waits until its reader is gone.
    reading: tokio::sync::watch::Sender<std::collections::BTreeSet<String>>,
}

impl Context {
    /// The context of a daemon for `config` with a loaded catalog. Fails when a mailbox's DKIM key cannot be
    /// loaded (sending unsigned mail that was meant to be signed would hurt deliverability).
    pub fn new(
        config: Config,
        catalog: Catalog,
        store: Store,
        instance: String,
        clock: Clock,
    ) -> Result<Context, String> {
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
        Ok(Context {
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
            held: tokio::sync::watch::Sender::new(Held::new()),
            reading: tokio::sync::watch::Sender::new(std::collections::BTreeSet::new()),
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

    /// The mailboxes this instance holds now, with their lease epochs.
    pub fn held(&self) -> Held {
        self.held.borrow().clone()
    }

    /// Whether this instance holds `mailbox` now.
    pub fn holds(&self, mailbox: &str) -> bool {
        self.held.borrow().contains_key(mailbox)
    }

    /// Records the mailboxes held now; those watching ([`Context::watch_held`]) are told when
    /// it changed.
    pub fn set_held(&self, held: Held) {
        self.held.send_if_modified(|h| {
            let changed = *h != held;
            *h = held;
            changed
        });
    }

    /// Records that this instance's watcher of `mailbox` reads its inbox now, or no longer.
    pub fn set_reading(&self, mailbox: &str, reading: bool) {
        self.reading.send_modify(|r| {
            if reading {
                r.insert(mailbox.to_string());
            } else {
                r.remove(mailbox);
            }
        });
    }

    /// Waits until no watcher of this instance reads the inboxes of `mailboxes` (at most
    /// `within`); false when one still does.
    pub async fn readers_gone(&self, mailboxes: &[&str], within: Duration) -> bool {
        let mut r = self.reading.subscribe();
        let gone = r.wait_for(|r| mailboxes.iter().all(|m| !r.contains(*m)));
        matches!(tokio::time::timeout(within, gone).await, Ok(Ok(_)))
    }

    /// Follows the mailboxes this instance holds.
    pub fn watch_held(&self) -> tokio::sync::watch::Receiver<Held> {
        self.held.subscribe()
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

    /// The clock.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// Every mailbox's way out.
    pub fn transports(&self) -> impl Iterator<Item = &Arc<MailTransport>> {
        self.transports.values()
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

    /// Reads the key of unsubscribe and tracking links (config.toml's, else the one the
    /// daemons share through the store). Without it, emails carry only the mailto:
    /// unsubscribe and no tracked links; `drumbeat run` loads it before the first tick.
    pub async fn load_tokens(&self) -> Result<(), String> {
        let key = crate::send::tokens::key_from(&self.config, &self.store, self.now().timestamp())
            .await?;
        let _ = self.tokens.set(key);
        Ok(())
    }

    /// The key of unsubscribe and tracking links, once loaded.
    pub fn tokens(&self) -> Option<&TokenKey> {
        self.tokens.get()
    }
}

/// Where an enrollment goes after the step of `touch` was done at `at` (a send resolved by
/// hand, a task done or skipped, as `how` says): the next step not yet run along the step's
/// branch, timed in the lead's zone; finished when none is left or the sequence is gone.
pub async fn next_after_done(
    config: &Config,
    catalog: &Catalog,
    store: &Store,
    touch: &TouchInfo,
    (at, how): (DateTime<Utc>, Done<'_>),
) -> Result<Next, StoreError> {
    let enrollment = EnrollmentId(touch.enrollment);
    let lead = LeadId(touch.lead);
    let Some(seq) = catalog.sequence(&touch.sequence_id) else {
        return Ok(Next::Finished);
    };
    let Some(index) = seq.step_index(&touch.step_id) else {
        // The step was removed since: carry on from where the touches say the lead is.
        let past = store.past_touches(&[enrollment]).await?;
        let past = past.get(&enrollment).cloned().unwrap_or_default();
        return Ok(match crate::plan::current_step(seq, None, &past) {
            Some(i) => Next::Step {
                id: seq.steps[i].id.clone(),
                due_at: at.timestamp(),
            },
            None => Next::Finished,
        });
    };
    let leads = store.leads_by_ids(&[lead]).await?;
    let Some(l) = leads.get(&lead) else {
        return Ok(Next::Finished);
    };
    let past = store.past_touches(&[enrollment]).await?;
    let past = past.get(&enrollment).cloned().unwrap_or_default();
    let (window, tz) = lead_window(seq, l, config.timezone);
    Ok(crate::plan::next_from(
        seq,
        crate::plan::start_from(seq, index, how),
        &past,
        (&window, at, tz),
        l.record.email.as_str(),
        config.sending.jitter,
    ))
}

/// Records an uncertain send as sent after all (found in the Sent folder, or a person says
/// so): the enrollment moves on to its next step as after any send, and a threaded step that
/// went out keeps its thread. `how` is kept as the server's response. Returns where the
/// enrollment went.
pub async fn resolve_as_sent(
    config: &Config,
    catalog: &Catalog,
    store: &Store,
    touch: &TouchInfo,
    how: &str,
    at: DateTime<Utc>,
) -> Result<Next, StoreError> {
    let next = next_after_done(config, catalog, store, touch, (at, Done::Ran(None))).await?;
    let new_thread = catalog
        .sequence(&touch.sequence_id)
        .and_then(|s| s.step(&touch.step_id))
        .and_then(|s| s.email())
        .is_none_or(|e| !e.thread);
    store
        .record_sent(touch.id, how, new_thread, &next, at.timestamp())
        .await?;
    Ok(next)
}

/// The send window a lead's emails keep (with the lead's country's holidays when the window
/// counts them, see [`SendWindow::for_lead`]) and the zone it is read in (see [`lead_zone`]).
/// A lead's country is its `country` field, else its zone's.
pub fn lead_window<'s>(
    seq: &'s Sequence,
    lead: &StoredLead,
    default: Tz,
) -> (Cow<'s, SendWindow>, Tz) {
    let tz = lead_zone(seq, lead, default);
    let field = lead.record.custom.get("country").map(String::as_str);
    (seq.window.for_lead(Country::of_lead(field, tz)), tz)
}

/// The rep's working hours as a window (Monday to Friday, the mailbox's `working_hours`) and
/// the rep's zone: when tasks for the rep come due.
pub fn rep_window(mailbox: &Mailbox) -> (Cow<'static, SendWindow>, Tz) {
    let window = SendWindow {
        start: mailbox.working_hours.start,
        end: mailbox.working_hours.end,
        timezone: Some(mailbox.timezone),
        ..SendWindow::business_hours()
    };
    (Cow::Owned(window), mailbox.timezone)
}

/// The zone a lead's window is read in: the lead's, the sequence window's, or the config's.
pub fn lead_zone(seq: &Sequence, lead: &StoredLead, default: Tz) -> Tz {
    seq.window.zone_for(
        lead.record
            .timezone
            .as_deref()
            .and_then(|t| parse_tz(t).ok()),
        default,
    )
}

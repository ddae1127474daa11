//! `drumbeat run`: the sending daemon (or, with `--once`, everything due now, then exit).
//! Signals are handled here, and only here: SIGTERM/SIGINT stop claiming and let in-flight
//! SMTP transactions finish; SIGHUP reloads sequences and templates. Under systemd
//! (`Type=notify`), READY, STATUS and WATCHDOG go through sd-notify.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sd_notify::NotifyState;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::output::{print_json, utc};
use super::{Failure, Outcome, load_catalog, load_config, open_store};
use crate::daemon::{Clock, Daemon, TickReport, UnreadInbox};
use crate::inbox::sent_copies::CopyReport;
use crate::store::{Recovered, Store};

/// Flags of `run`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Do everything that is due now, then exit (for a timer, cron, or to watch it happen).
    #[arg(long)]
    once: bool,
    /// With --once: act as if it were this instant (RFC 3339, e.g. 2026-03-02T14:00:00Z).
    /// Sends are recorded at that time; for trying a sequence's timing and for tests.
    #[arg(long, requires = "once", value_name = "TIME", value_parser = parse_instant)]
    now: Option<DateTime<Utc>>,
    /// This daemon's name in the store (several daemons can share one PostgreSQL database;
    /// each needs its own name). Defaults to the host name.
    #[arg(long, env = "DRUMBEAT_INSTANCE", value_name = "NAME")]
    instance: Option<String>,
    /// With --once: print what was done as JSON.
    #[arg(long, requires = "once")]
    json: bool,
}

impl Args {
    /// The long-running daemon (not `--once`).
    pub fn long_running(&self) -> bool {
        !self.once
    }
}

fn parse_instant(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|e| format!("{s:?} is not an RFC 3339 time (e.g. 2026-03-02T14:00:00Z): {e}"))
}

/// The default instance name: the host name.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "drumbeat".into())
}

/// The instance name: `--instance`, else the host name for the daemon and `HOST-once` for a
/// `run --once`, so that a one-off run beside a live daemon on the same host never takes the
/// daemon's in-flight touches for its own (start-up marks its own instance's `sending` touches
/// `uncertain`), while one once-run after another keeps the same name (and its inbox lease).
fn instance_name(args: &Args) -> String {
    match (&args.instance, args.once) {
        (Some(name), _) => name.clone(),
        (None, false) => host_name(),
        (None, true) => format!("{}-once", host_name()),
    }
}

/// A heartbeat this recent means the instance may be alive.
const LIVE_SECONDS: i64 = 120;

/// A `run --once` under the name of an instance that is still running here (a daemon, or
/// another once-run) would recover its in-flight touches as its own: refuse, naming it. An
/// instance whose process is gone (killed, crashed) is what a restart under its name is for.
async fn refuse_live_daemon(store: &Store, instance: &str, now: i64) -> Result<(), Failure> {
    let daemons = store.daemons().await?;
    let live = daemons.iter().find(|d| {
        d.instance == instance
            && d.stopped_at.is_none()
            && d.seen_at >= now - LIVE_SECONDS
            && d.pid != i64::from(std::process::id())
            && Path::new(&format!("/proc/{}", d.pid)).exists()
    });
    match live {
        Some(d) => Err(Failure::failed(format!(
            "instance {instance:?} is running (pid {}, as `drumbeat run{}`); run --once \
             without --instance, or under another name",
            d.pid,
            if d.mode == "once" { " --once" } else { "" }
        ))),
        None => Ok(()),
    }
}

pub async fn run(config_path: &Path, args: Args) -> Outcome {
    let config = load_config(config_path)?;
    // A mailbox without its SMTP or IMAP password would fail later, or watch no inbox while
    // follow-ups go out: refuse now, naming each secret.
    let missing = config.unreadable_mail_secrets();
    if !missing.is_empty() {
        return Err(Failure::failed(format!(
            "cannot start: {}",
            missing.join("; ")
        )));
    }
    let catalog = load_catalog(&config)?;
    let store = open_store(&config).await?;
    let instance = instance_name(&args);
    let fixed = args.now.or_else(super::fixed_now);
    let clock = match fixed {
        None => Clock::System,
        Some(t) if args.once => Clock::Fixed(t),
        // The long-running daemon needs time to pass: its clock starts at DRUMBEAT_NOW.
        Some(t) => {
            tracing::warn!(
                start = %t.to_rfc3339(),
                "DRUMBEAT_NOW is set: this daemon's clock starts at it and runs at the real pace \
                 (unset it to send on the real clock)"
            );
            Clock::starting_at(t)
        }
    };
    if args.once {
        refuse_live_daemon(&store, &instance, clock.now().timestamp()).await?;
    }
    let daemon = Daemon::new(config, catalog, store, instance, clock).map_err(Failure::failed)?;
    let recovered = daemon.start(args.once).await?;
    daemon.load_tokens().await.map_err(Failure::failed)?;
    // Outgoing webhooks: an endpoint new to the store starts at the newest event, before this
    // run records any.
    crate::webhooks::init_cursors(daemon.store(), daemon.config(), daemon.now().timestamp())
        .await?;
    crate::crm::init_cursors(daemon.store(), daemon.config(), daemon.now().timestamp()).await?;
    if args.once {
        return once(&daemon, recovered, args.json).await;
    }
    serve(daemon).await
}

/// What `run --once --json` prints.
#[derive(serde::Serialize)]
struct Once<'a> {
    #[serde(flatten)]
    report: &'a TickReport,
    recovered_uncertain: u64,
    recovered_requeued: u64,
    next_due_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    webhooks: Option<crate::webhooks::FlushReport>,
    /// The CRM sync (absent when no CRM is configured).
    #[serde(skip_serializing_if = "Option::is_none")]
    crm: Option<crate::crm::SyncReport>,
    notifications: crate::notify::NotifyReport,
    /// Sent emails put into their mailboxes' Sent folders (none: the key is left out).
    #[serde(skip_serializing_if = "CopyReport::is_empty")]
    sent_folder: CopyReport,
    /// Watched mailboxes whose inbox could not be read: their follow-ups waited.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    inbox_unread: Vec<UnreadInbox>,
}

async fn once(daemon: &Daemon, recovered: Recovered, json: bool) -> Outcome {
    let (report, unread) = daemon.run_once().await?;
    for u in &unread {
        eprintln!(
            "drumbeat: the inbox of mailbox {:?} could not be read ({}): its follow-ups wait until it is read; first emails still go",
            u.mailbox, u.error
        );
    }
    // The reps hear about the replies just read, and get the digests due now.
    let notified = crate::notify::flush(daemon).await?;
    // The emails just sent go into their Sent folders (a failure waits for the next run).
    let copies = crate::inbox::sent_copies::flush(daemon).await?;
    // Webhooks of what just happened (and retries now due) go out before the exit.
    let hooks = if !crate::webhooks::has_endpoints(daemon.config()) {
        None
    } else {
        let mut d = crate::webhooks::Dispatcher::new(daemon.config()).map_err(Failure::failed)?;
        Some(d.flush(daemon).await?)
    };
    // The CRMs hear of the emails just sent and the replies just read.
    let crm = if crate::crm::is_configured(daemon.config()) {
        Some(
            crate::crm::Syncer::new(daemon.config())
                .flush(daemon)
                .await?,
        )
    } else {
        None
    };
    let next = daemon.store().next_due_at(daemon.now().timestamp()).await?;
    daemon.stop().await;
    let once = Once {
        report: &report,
        recovered_uncertain: recovered.uncertain,
        recovered_requeued: recovered.requeued,
        next_due_at: super::output::rfc3339(next),
        webhooks: hooks,
        crm,
        notifications: notified,
        sent_folder: copies,
        inbox_unread: unread,
    };
    if json {
        return print_json(&once);
    }
    print_once(&once, next);
    Ok(())
}

/// What `run --once` did beside sending: webhooks, notifications, Sent-folder copies.
fn print_side_work(once: &Once<'_>) {
    if let Some(h) = &once.webhooks {
        say!(
            "webhooks: queued {}, delivered {}, retrying {}, failed {}",
            h.queued,
            h.delivered,
            h.retrying,
            h.failed
        );
    }
    if let Some(c) = &once.crm {
        say!(
            "crm: queued {}, logged {}, retrying {}, failed {}, leads stopped {}",
            c.queued,
            c.logged,
            c.retrying,
            c.failed,
            c.stopped
        );
    }
    let notified = &once.notifications;
    if notified.digests + notified.sent + notified.retrying + notified.failed > 0 {
        say!(
            "notifications: digests {}, sent {}, retrying {}, failed {}",
            notified.digests,
            notified.sent,
            notified.retrying,
            notified.failed
        );
    }
    let copies = &once.sent_folder;
    if !copies.is_empty() {
        say!(
            "sent folder: copied {}, retrying later {}, failed {}",
            copies.appended,
            copies.retrying,
            copies.failed
        );
    }
}

/// The leads skipped (a dead domain) and the steps passed over (a condition), when any.
fn print_skips(report: &TickReport) {
    if report.skipped > 0 {
        say!(
            "skipped {} (their domain cannot receive mail; see `drumbeat status`)",
            report.skipped
        );
    }
    if report.passed_over > 0 {
        say!(
            "steps passed over {} (their when: or unless: does not hold)",
            report.passed_over
        );
    }
}

/// `run --once` for a person: what was done, what a crash left behind, and what goes next
/// (at `next`, unix seconds).
fn print_once(once: &Once<'_>, next: Option<i64>) {
    let report = once.report;
    say!(
        "sent {}, tasks created {}, deferred {}, retrying {}, failed {}, bounced {}, uncertain {}",
        report.sent,
        report.tasks,
        report.deferred,
        report.retried,
        report.failed,
        report.bounced,
        report.uncertain
    );
    print_skips(report);
    if report.drafts > 0 {
        say!(
            "drafts made {} (waiting for the rep: `drumbeat drafts`)",
            report.drafts
        );
    }
    if report.held > 0 || !once.inbox_unread.is_empty() {
        let why: Vec<String> = once
            .inbox_unread
            .iter()
            .map(|u| format!("mailbox {} not read: {}", u.mailbox, u.error))
            .collect();
        say!(
            "waiting for the inbox {} ({})",
            report.held,
            if why.is_empty() {
                "see `drumbeat status`".to_string()
            } else {
                why.join("; ")
            }
        );
    }
    print_side_work(once);
    if once.recovered_uncertain > 0 {
        say!(
            "{} send(s) interrupted by a crash are uncertain: see `drumbeat status`, then `drumbeat resolve TOUCH --sent|--not-sent`",
            once.recovered_uncertain
        );
    }
    if once.recovered_requeued > 0 {
        say!(
            "{} send(s) interrupted by a crash had reached no server and went back to the queue",
            once.recovered_requeued
        );
    }
    match next {
        Some(t) => say!("next send due {}", utc(Some(t))),
        None => say!("nothing else is scheduled"),
    }
    if report.sent + report.tasks + report.drafts == 0 && next.is_some() {
        // Nothing went out: say why, and how to see what goes next.
        say!("({})", why_nothing_went(report).join(";\n "));
    }
}

/// Why a run sent nothing, in the words of what held the due steps back (a closed window, a
/// cap, a pause), or that nothing was due at all (every lead waits for its step's `wait:`).
fn why_nothing_went(report: &TickReport) -> Vec<String> {
    let mut why = Vec::new();
    if report.outside_window > 0 {
        why.push(format!(
            "{} due step(s) wait for the send window in the lead's time zone (a task: the rep's working hours)",
            report.outside_window
        ));
    }
    if report.over_limit > 0 {
        why.push(format!(
            "{} due step(s) wait for room under a mailbox's daily cap or gap, or a domain's hourly limit",
            report.over_limit
        ));
    }
    if report.paused_by_hold > 0 {
        why.push(format!(
            "{} due step(s) wait for a pause of their mailbox or sequence to end",
            report.paused_by_hold
        ));
    }
    if why.is_empty() && report.held == 0 {
        why.push("nothing was due now: no lead's next step had come due yet".into());
    }
    why.push(
        "`drumbeat status` lists what goes next, `drumbeat preview SEQUENCE --lead EMAIL` shows it"
            .into(),
    );
    why
}

async fn serve(daemon: Daemon) -> Outcome {
    let daemon = Arc::new(daemon);
    let (stop_tx, stop_rx) = watch::channel(false);
    let (reload_tx, reload_rx) = mpsc::channel(4);
    let (wake_tx, wake_rx) = mpsc::channel(4);
    let signals = handle_signals(stop_tx, reload_tx)?;

    // The loop's last sign of life, for the watchdog: a loop stuck longer than any SMTP
    // transaction may take stops the pings, and systemd restarts the service.
    let alive = Arc::new(AtomicI64::new(Utc::now().timestamp()));
    let watchdog = watchdog(alive.clone());

    // The HTTP side: unsubscribe links, tracking, webhooks, the API.
    let (http_addr, http) = crate::http::start(daemon.context().clone(), wake_tx, stop_rx.clone())
        .await
        .map_err(Failure::failed)?;
    let tasks = Tasks::spawn(&daemon, http, &stop_rx);
    tracing::info!(
        instance = daemon.instance(),
        watchers = tasks.watchers.len(),
        http = %http_addr,
        "drumbeat is running"
    );
    let _ = sd_notify::notify(&[NotifyState::Ready, NotifyState::Status("running")]);
    let d = daemon.clone();
    let result = d
        .run(stop_rx, reload_rx, wake_rx, move |r, next| {
            alive.store(Utc::now().timestamp(), Ordering::Relaxed);
            let status = format!(
                "last tick: {} due, {} sent, {} deferred; next due {}",
                r.due,
                r.sent,
                r.deferred,
                next.map_or_else(|| "none".to_string(), |t| utc(Some(t)))
            );
            let _ = sd_notify::notify(&[NotifyState::Status(&status), NotifyState::Ready]);
        })
        .await;
    signals.abort();
    if let Some(w) = watchdog {
        w.abort();
    }
    tasks.finish().await;
    // Give in-flight work a bounded moment, then record the stop.
    let _ = tokio::time::timeout(Duration::from_secs(30), daemon.stop()).await;
    result.map_err(|e| Failure::failed(e.to_string()))
}

/// The one place signals are handled: SIGTERM and SIGINT send `true` on `stop`, SIGHUP asks
/// for a reload on `reload`.
fn handle_signals(
    stop: watch::Sender<bool>,
    reload: mpsc::Sender<()>,
) -> std::io::Result<JoinHandle<()>> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    Ok(tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = term.recv() => break,
                _ = int.recv() => break,
                _ = hup.recv() => {
                    tracing::info!("SIGHUP: reloading sequences and templates");
                    match NotifyState::monotonic_usec_now() {
                        Ok(t) => { let _ = sd_notify::notify(&[NotifyState::Reloading, t]); }
                        Err(_) => { let _ = sd_notify::notify(&[NotifyState::Reloading]); }
                    }
                    let _ = reload.send(()).await;
                }
            }
        }
        tracing::info!("stopping: no new claims; in-flight sends finish");
        let _ = sd_notify::notify(&[NotifyState::Stopping]);
        let _ = stop.send(true);
    }))
}

/// Under systemd's watchdog: pings while the loop has shown a sign of life (`alive`, unix
/// seconds) within 15 minutes.
fn watchdog(alive: Arc<AtomicI64>) -> Option<JoinHandle<()>> {
    sd_notify::watchdog_enabled().map(|every| {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every / 2);
            loop {
                tick.tick().await;
                if Utc::now().timestamp() - alive.load(Ordering::Relaxed) < 900 {
                    let _ = sd_notify::notify(&[NotifyState::Watchdog]);
                }
            }
        })
    })
}

/// The tasks that run beside the scheduler loop, each stopped through `stop`.
struct Tasks {
    /// One inbox watcher per mailbox with IMAP settings.
    watchers: Vec<JoinHandle<()>>,
    http: JoinHandle<()>,
    /// Rep notifications and daily digests.
    notifier: JoinHandle<()>,
    /// Outgoing webhooks.
    hooks: JoinHandle<()>,
    /// Copies of sent emails into the Sent folders.
    sent_copies: JoinHandle<()>,
    /// The CRM sync.
    crm: JoinHandle<()>,
}

impl Tasks {
    fn spawn(daemon: &Daemon, http: JoinHandle<()>, stop: &watch::Receiver<bool>) -> Tasks {
        let watchers = daemon
            .config()
            .mailboxes
            .iter()
            .filter(|m| m.imap.is_some())
            .map(|m| {
                tokio::spawn(crate::inbox::watch::run(
                    daemon.context().clone(),
                    m.clone(),
                    stop.clone(),
                ))
            })
            .collect();
        // One dispatcher (it returns at once when no endpoint is configured).
        let hooks = tokio::spawn(crate::webhooks::run(daemon.context().clone(), stop.clone()));
        let notifier = tokio::spawn(crate::notify::run(daemon.context().clone(), stop.clone()));
        let sent_copies = tokio::spawn(crate::inbox::sent_copies::run(
            daemon.context().clone(),
            stop.clone(),
        ));
        let crm = tokio::spawn(crate::crm::run(daemon.context().clone(), stop.clone()));
        Tasks {
            watchers,
            http,
            notifier,
            hooks,
            sent_copies,
            crm,
        }
    }

    /// Waits a bounded time for each to stop once `stop` is sent.
    async fn finish(self) {
        for w in self.watchers {
            let _ = tokio::time::timeout(Duration::from_secs(10), w).await;
        }
        let _ = tokio::time::timeout(Duration::from_secs(10), self.http).await;
        // It gives in-flight posts at most 5 seconds, then gives them back.
        let _ = tokio::time::timeout(Duration::from_secs(15), self.notifier).await;
        let _ = tokio::time::timeout(Duration::from_secs(10), self.hooks).await;
        let _ = tokio::time::timeout(Duration::from_secs(10), self.sent_copies).await;
        let _ = tokio::time::timeout(Duration::from_secs(25), self.crm).await;
    }
}

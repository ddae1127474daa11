//! `drumbeat status`: read straight from the store (no daemon needed).

mod attention;
mod crm;
mod daemons;
mod inbox;
mod pauses;
mod sent_copies;

use std::path::Path;

use chrono::{DateTime, TimeZone, Utc};
use serde::Serialize;

use super::output::{print_json, rfc3339, utc};
use super::{Outcome, load_config, now, open_store};
use crate::config::Config;
use crate::store::{
    AttentionItem, MailboxSends, NotificationProblem, SequenceCounts, Store, StoreError,
    UpcomingSend,
};
use inbox::InboxWaitStatus;

/// Flags of `status`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// How many upcoming sends to list.
    #[arg(long, default_value_t = 10)]
    limit: i64,
    /// Print as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct MailboxStatus {
    mailbox: String,
    sent_today: i64,
    daily_cap: u32,
    /// Why the mailbox is paused for its health (absent while it sends).
    #[serde(skip_serializing_if = "Option::is_none")]
    paused: Option<String>,
    /// Its follow-ups wait for its inbox to be read (never written blind).
    #[serde(skip_serializing_if = "Option::is_none")]
    inbox_wait: Option<InboxWaitStatus>,
    /// Sent emails whose copy is not in its Sent folder yet, or was given up.
    #[serde(skip_serializing_if = "Option::is_none")]
    sent_folder: Option<crate::store::SentCopyCounts>,
    /// The daemon that sends from it and watches its inbox, while its lease runs (several
    /// daemons share the mailboxes: see docs/operations.md).
    #[serde(skip_serializing_if = "Option::is_none")]
    held_by: Option<HolderStatus>,
}

#[derive(Serialize)]
struct HolderStatus {
    instance: String,
    /// Since when it holds it.
    since: Option<String>,
    /// Grows each time the mailbox changes hands.
    epoch: i64,
    /// When the lease ends unless renewed (every few seconds).
    until: Option<String>,
}

#[derive(Serialize)]
struct Upcoming {
    email: String,
    sequence: String,
    step: Option<String>,
    due_at: Option<String>,
    mailbox: Option<String>,
}

#[derive(Serialize)]
struct Attention {
    /// A reply's id (for `drumbeat reply handled ID`), or a task's (`drumbeat task done ID`).
    id: Option<i64>,
    kind: String,
    email: Option<String>,
    sequence: Option<String>,
    step: Option<String>,
    touch: Option<i64>,
    at: Option<String>,
    detail: Option<String>,
}

#[derive(Serialize)]
struct WatcherStatus {
    mailbox: String,
    /// The daemon instance watching it.
    instance: String,
    /// connecting, idle, polling, disconnected, stopped.
    state: String,
    detail: Option<String>,
    since: Option<String>,
}

#[derive(Serialize)]
struct WebhookStatus {
    endpoint: String,
    /// ok (the latest attempt was delivered, or none was made), retrying (the latest attempt
    /// failed; it will be tried again), failing (the latest attempt failed and deliveries were
    /// given up on).
    state: &'static str,
    pending: i64,
    retrying: i64,
    failed: i64,
    delivered: i64,
    last_status: Option<i64>,
    last_error: Option<String>,
    last_attempt_at: Option<String>,
    last_delivered_at: Option<String>,
}

/// The JSON of `status --json`.
#[derive(Serialize)]
struct Status {
    generated_at: String,
    /// Long-running daemons (`drumbeat run`).
    daemons: Vec<daemons::DaemonStatus>,
    /// The last `drumbeat run --once` (absent when none ran).
    #[serde(skip_serializing_if = "Option::is_none")]
    last_once: Option<daemons::OnceStatus>,
    inbox: Vec<WatcherStatus>,
    /// Outgoing webhooks, per endpoint of config.toml (absent when none is configured).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    webhooks: Vec<WebhookStatus>,
    /// The CRM sync, per configured CRM (absent when none is configured).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    crm: Vec<crm::CrmStatus>,
    sequences: Vec<SequenceCounts>,
    mailboxes: Vec<MailboxStatus>,
    /// Planned pauses of a mailbox or a sequence, on now or to come.
    pauses: Vec<pauses::PauseStatus>,
    due_now: i64,
    upcoming: Vec<Upcoming>,
    needs_attention: Vec<Attention>,
}

pub async fn run(config_path: &Path, args: Args) -> Outcome {
    let config = load_config(config_path)?;
    let store = open_store(&config).await?;
    let now = now();
    let snap = store
        .status(now.timestamp(), day_start(&config, now), args.limit.max(0))
        .await?;
    let mailboxes = mailbox_rows(&config, &store, now, &snap.sends_today).await?;
    let (daemons, last_once) = daemons::daemons(&store, now).await?;
    let inbox = watchers(&store, now).await?;
    let webhooks = webhooks(&config, &store).await?;
    let crm = crm::crm(&config, &store, now.timestamp()).await?;
    let mut needs_attention: Vec<Attention> = snap.attention.into_iter().map(attention).collect();
    for a in needs_attention
        .iter_mut()
        .filter(|a| a.kind == "overdue-task")
    {
        if let Some(task) = store.task(a.id.unwrap_or_default()).await? {
            let times = super::task_times::TaskTimes::of(&config, &task, now);
            a.detail = Some(format!("{}, due {}", task.kind, times.shown()));
        }
    }
    needs_attention.extend(
        webhooks
            .iter()
            .filter(|w| w.state == "failing")
            .map(failing_webhook),
    );
    // Rep notifications that did not reach their rep: failed for good this past week, or
    // waiting for another try.
    for n in store
        .notification_problems(now.timestamp() - 7 * 86_400)
        .await?
    {
        needs_attention.push(undelivered_notification(n));
    }
    let status = Status {
        generated_at: now.to_rfc3339(),
        daemons,
        last_once,
        inbox,
        webhooks,
        crm,
        sequences: snap.sequences,
        mailboxes,
        pauses: store
            .holds(now.timestamp())
            .await?
            .into_iter()
            .map(|h| pauses::pause_status(h, now.timestamp()))
            .collect(),
        due_now: snap.due_now,
        upcoming: snap.upcoming.into_iter().map(upcoming).collect(),
        needs_attention,
    };
    if args.json {
        return print_json(&status);
    }
    print_human(&status, now);
    Ok(())
}

/// The start of today in config.toml's time zone (24 hours ago when midnight is skipped).
fn day_start(config: &Config, now: DateTime<Utc>) -> i64 {
    let local = now.with_timezone(&config.timezone);
    config
        .timezone
        .from_local_datetime(
            &local
                .date_naive()
                .and_hms_opt(0, 0, 0)
                .expect("midnight exists as a time"),
        )
        .earliest()
        .map_or(now.timestamp() - 86_400, |d| {
            d.with_timezone(&Utc).timestamp()
        })
}

/// Today's sends of each mailbox of config.toml, then of mailboxes that sent today and are
/// no longer configured (with a cap of 0).
fn mailboxes(config: &Config, sends_today: &[MailboxSends]) -> Vec<MailboxStatus> {
    let mut mailboxes: Vec<MailboxStatus> = config
        .mailboxes
        .iter()
        .map(|m| MailboxStatus {
            mailbox: m.name.clone(),
            sent_today: sends_today
                .iter()
                .find(|s| s.mailbox == m.name)
                .map_or(0, |s| s.sent_today),
            daily_cap: m.daily_cap,
            paused: None,
            inbox_wait: None,
            sent_folder: None,
            held_by: None,
        })
        .collect();
    for s in sends_today {
        if !mailboxes.iter().any(|m| m.mailbox == s.mailbox) {
            mailboxes.push(MailboxStatus {
                mailbox: s.mailbox.clone(),
                sent_today: s.sent_today,
                daily_cap: 0,
                paused: None,
                inbox_wait: None,
                sent_folder: None,
                held_by: None,
            });
        }
    }
    mailboxes
}

/// Each mailbox's line: sends today, its health pause, its inbox's wait, its Sent folder
/// copies, and the daemon that holds it.
async fn mailbox_rows(
    config: &Config,
    store: &Store,
    now: DateTime<Utc>,
    sends_today: &[MailboxSends],
) -> Result<Vec<MailboxStatus>, StoreError> {
    let mut mailboxes = mailboxes(config, sends_today);
    for p in store.mailbox_pauses().await? {
        if let Some(m) = mailboxes.iter_mut().find(|m| m.mailbox == p.mailbox) {
            m.paused = Some(format!(
                "{} — resume with `drumbeat mailbox resume {}`",
                p.why, p.mailbox
            ));
        }
    }
    let mut waits = inbox::inbox_waits(config, store, now).await?;
    let mut copies = sent_copies::sent_copies(store).await?;
    let holders = store.mailbox_holders().await?;
    for m in &mut mailboxes {
        m.inbox_wait = waits.remove(&m.mailbox);
        m.sent_folder = copies.remove(&m.mailbox);
        m.held_by = holders
            .iter()
            .find(|h| h.mailbox == m.mailbox && h.until >= now.timestamp())
            .map(|h| HolderStatus {
                instance: h.owner.clone(),
                since: rfc3339(Some(h.since)),
                epoch: h.epoch,
                until: rfc3339(Some(h.until)),
            });
    }
    Ok(mailboxes)
}

/// The inbox watcher of each mailbox, as its lease says.
async fn watchers(store: &Store, now: DateTime<Utc>) -> Result<Vec<WatcherStatus>, StoreError> {
    Ok(store
        .watcher_states()
        .await?
        .into_iter()
        .map(
            |(mailbox, instance, state, detail, at, until)| WatcherStatus {
                mailbox,
                instance,
                // A lease that ran out means nobody is watching, whatever was last said.
                state: if until < now.timestamp() && state != "stopped" {
                    "not-watched".into()
                } else {
                    state
                },
                detail,
                since: rfc3339(Some(at)),
            },
        )
        .collect())
}

/// A webhook endpoint whose deliveries were given up on.
fn failing_webhook(w: &WebhookStatus) -> Attention {
    Attention {
        id: None,
        kind: "webhook-failing".into(),
        email: None,
        sequence: None,
        step: None,
        touch: None,
        at: w.last_attempt_at.clone(),
        detail: Some(format!(
            "endpoint {}: {} failed, {} pending: {}",
            w.endpoint,
            w.failed,
            w.pending,
            w.last_error.as_deref().unwrap_or("")
        )),
    }
}

/// A rep notification given up on, or waiting for another try.
fn undelivered_notification(n: NotificationProblem) -> Attention {
    let what = match (n.kind.as_str(), n.email.as_deref()) {
        ("reply", Some(email)) => format!("the notice of {email}'s reply"),
        ("reply", None) => "a reply notice".to_string(),
        _ => "the daily digest".to_string(),
    };
    let to = n
        .rep
        .as_deref()
        .map(|r| format!(" to {r}"))
        .unwrap_or_default();
    let (kind, detail) = if n.state == "failed" {
        (
            "notification-failed",
            format!(
                "{what}{to} was given up (attempts: {}): {}",
                n.attempts,
                n.error.as_deref().unwrap_or("")
            ),
        )
    } else {
        (
            "notification-retrying",
            format!(
                "{what}{to} will be tried again at {} (attempts so far: {}): {}",
                utc(Some(n.at)),
                n.attempts,
                n.error.as_deref().unwrap_or("")
            ),
        )
    };
    Attention {
        id: None,
        kind: kind.into(),
        email: n.email,
        sequence: None,
        step: None,
        touch: None,
        at: rfc3339(Some(n.at)),
        detail: Some(detail),
    }
}

/// The queue of each endpoint of config.toml (`[[webhook]]`, then the reps' notification
/// webhooks, `notify:REP`).
async fn webhooks(config: &Config, store: &Store) -> Result<Vec<WebhookStatus>, StoreError> {
    let reps = crate::notify::rep_endpoints(config);
    if config.webhooks.is_empty() && reps.is_empty() {
        return Ok(Vec::new());
    }
    let queues = store.webhook_queues().await?;
    Ok(config
        .webhooks
        .iter()
        .chain(&reps)
        .map(|w| {
            let q = queues.iter().find(|q| q.endpoint == w.name);
            let last_error = q.and_then(|q| q.last_error.clone());
            let failed = q.map_or(0, |q| q.failed);
            WebhookStatus {
                endpoint: w.name.clone(),
                state: match (&last_error, failed) {
                    (None, _) => "ok",
                    (Some(_), 0) => "retrying",
                    (Some(_), _) => "failing",
                },
                pending: q.map_or(0, |q| q.pending),
                retrying: q.map_or(0, |q| q.retrying),
                failed,
                delivered: q.map_or(0, |q| q.delivered),
                last_status: q.and_then(|q| q.last_status),
                last_error,
                last_attempt_at: rfc3339(q.and_then(|q| q.last_attempt_at)),
                last_delivered_at: rfc3339(q.and_then(|q| q.last_delivered_at)),
            }
        })
        .collect())
}

fn upcoming(u: UpcomingSend) -> Upcoming {
    Upcoming {
        email: u.email,
        sequence: u.sequence_id,
        step: u.step_id,
        due_at: rfc3339(Some(u.due_at)),
        mailbox: u.mailbox,
    }
}

fn attention(a: AttentionItem) -> Attention {
    Attention {
        id: a.id,
        kind: a.kind,
        email: a.email,
        sequence: a.sequence_id,
        step: a.step_id,
        touch: a.touch_id,
        at: rfc3339(a.at),
        detail: a.detail,
    }
}

fn print_human(s: &Status, now: DateTime<Utc>) {
    say!("drumbeat status at {}", now.format("%Y-%m-%d %H:%M UTC"));
    daemons::print(&s.daemons, s.last_once.as_ref());
    print_watchers(&s.inbox);
    print_webhooks(&s.webhooks);
    crm::print(&s.crm);
    print_sequences(&s.sequences);
    say!("\nMailboxes (sent today / daily cap)");
    for m in &s.mailboxes {
        say!("  {:<24} {:>5} / {}", m.mailbox, m.sent_today, m.daily_cap);
        if let Some(h) = &m.held_by {
            say!(
                "    held by {} since {} (lease epoch {})",
                h.instance,
                shown(h.since.as_deref()),
                h.epoch
            );
        }
        if let Some(why) = &m.paused {
            say!("    PAUSED: {why}");
        }
        if let Some(w) = &m.inbox_wait {
            inbox::print(w);
        }
        if let Some(c) = &m.sent_folder {
            sent_copies::print(c);
        }
    }
    pauses::print(&s.pauses);
    say!("\nDue now: {}", s.due_now);
    print_upcoming(&s.upcoming);
    attention::print(&s.needs_attention);
}

/// An RFC 3339 time as `utc` shows it.
fn shown(at: Option<&str>) -> String {
    utc(at
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.timestamp()))
}

fn print_watchers(inbox: &[WatcherStatus]) {
    if inbox.is_empty() {
        return;
    }
    say!("\nInbox watchers");
    for w in inbox {
        say!(
            "  {:<24} {:<13} by {}{}",
            w.mailbox,
            w.state,
            w.instance,
            w.detail
                .as_deref()
                .map(|d| format!("  ({d})"))
                .unwrap_or_default()
        );
    }
}

fn print_webhooks(webhooks: &[WebhookStatus]) {
    if webhooks.is_empty() {
        return;
    }
    say!("\nWebhooks (pending / retrying / failed / delivered)");
    for w in webhooks {
        say!(
            "  {:<24} {:<9} {:>6} / {} / {} / {}{}",
            w.endpoint,
            w.state,
            w.pending,
            w.retrying,
            w.failed,
            w.delivered,
            w.last_error
                .as_deref()
                .map(|e| format!("  last error: {e}"))
                .unwrap_or_default()
        );
    }
}

fn print_sequences(sequences: &[SequenceCounts]) {
    const STATES: [&str; 8] = [
        "active",
        "paused",
        "finished",
        "replied",
        "bounced",
        "unsubscribed",
        "stopped",
        "failed",
    ];
    say!("\nSequences");
    if sequences.is_empty() {
        say!("  (no enrollments yet: drumbeat leads import FILE.csv --sequence ID)");
        return;
    }
    say_inline!("  {:<24} {:>8}", "sequence", "enrolled");
    for st in STATES {
        say_inline!(" {:>12}", st);
    }
    say!();
    for c in sequences {
        say_inline!("  {:<24} {:>8}", c.sequence_id, c.enrolled);
        for st in STATES {
            say_inline!(" {:>12}", c.states.get(st).copied().unwrap_or(0));
        }
        say!();
    }
}

fn print_upcoming(upcoming: &[Upcoming]) {
    say!("\nNext up");
    if upcoming.is_empty() {
        say!("  (nothing scheduled)");
    }
    for u in upcoming {
        say!(
            "  {}  {:<32} {}/{}{}",
            shown(u.due_at.as_deref()),
            u.email,
            u.sequence,
            u.step.as_deref().unwrap_or("?"),
            u.mailbox
                .as_deref()
                .map(|m| format!("  ({m})"))
                .unwrap_or_default()
        );
    }
}

//! Rep notifications: a rep hears at once when a lead answers, and gets a digest each morning,
//! through the channels `[mailbox.notify]` gives them — an email through their own mailbox
//! (not counted against its daily cap, warm-up or pacing: those count touches, and a
//! notification is not one) and a Slack-style webhook (handed to the outgoing-webhook queue, so
//! it is posted, retried and shown like every other webhook).
//!
//! The notice of a reply is queued in the transaction that records the reply; a digest in the
//! transaction that records it fired. The notifier is one task per daemon: each step queues
//! the digests that are due, then leases due notifications and works them. An email the
//! server took is recorded at once; a crash between the two sends it again (a rep would
//! rather read a notice twice than miss one).

mod digest;
mod health;
mod mail;
mod reply;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::watch;

use crate::config::{Config, Mailbox};
use crate::context::Context;
use crate::context::poll::Pacer;
use crate::lead::Email;
use crate::send::message::new_message_id;
use crate::send::transport::Delivery;
use crate::store::{Notification, NotifyOutcome, StoreError};

pub use crate::config::{DigestSchedule, rep_endpoint as endpoint, rep_endpoints};
pub use digest::{DayCounts, Digest, ReplyItem, SendItem, TaskItem, gather, render, rep_zone};
pub use health::paused_notice;

/// The waits after each failed email, in seconds (about 15 hours in all); after the last one
/// fails, the notification is `failed`.
pub const RETRY: [i64; 8] = [30, 120, 600, 1800, 3600, 7200, 14_400, 28_800];
/// Notifications leased per step.
const BATCH: i64 = 32;
/// How long a lease lasts: longer than the slowest SMTP transaction.
const LEASE: i64 = 900;
/// How often the loop looks for new notifications when idle.
const POLL: Duration = Duration::from_secs(1);
/// The longest a stopping daemon waits for an email in flight.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// A notification's words: the email's subject and body, and the webhook's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// Email subject.
    pub subject: String,
    /// Email body (plain text).
    pub body: String,
    /// Webhook text (Slack's markup, escaped).
    pub chat: String,
}

/// "First Last <address>", or the address alone.
pub fn person(email: &str, first: Option<&str>, last: Option<&str>) -> String {
    let name = [first, last]
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if name.is_empty() {
        email.to_string()
    } else {
        format!("{name} <{email}>")
    }
}

/// The rep a lead's news goes to: the mailbox its owner names (by name, From address or
/// display name), else `mailbox` (the one a reply arrived in), when config.toml has it.
pub fn rep_for<'c>(
    config: &'c Config,
    owner: Option<&str>,
    mailbox: Option<&str>,
) -> Option<&'c Mailbox> {
    if let Some(owner) = owner.map(str::trim).filter(|o| !o.is_empty())
        && let Some(m) = config.mailboxes.iter().find(|m| {
            m.name.eq_ignore_ascii_case(owner)
                || m.from.as_str().eq_ignore_ascii_case(owner)
                || m.display_name
                    .as_deref()
                    .is_some_and(|d| d.eq_ignore_ascii_case(owner))
        })
    {
        return Some(m);
    }
    mailbox.and_then(|n| config.mailbox(n))
}

/// What the notifier did (`run --once`).
#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct NotifyReport {
    /// Digests queued.
    pub digests: u64,
    /// Notifications sent (every channel).
    pub sent: u64,
    /// Emails that failed and will be retried.
    pub retrying: u64,
    /// Notifications given up on.
    pub failed: u64,
    /// Notifications with nobody to tell.
    pub skipped: u64,
}

impl NotifyReport {
    fn worked(&self) -> u64 {
        self.sent + self.retrying + self.failed + self.skipped
    }
}

/// Queues due digests and works due notifications.
#[derive(Debug, Default)]
pub struct Notifier {
    /// Per rep, when its digest schedule is next worth a look (unix seconds).
    next_check: HashMap<String, i64>,
}

impl Notifier {
    /// A notifier that looks at every rep's digest at its first step.
    pub fn new() -> Notifier {
        Notifier::default()
    }

    /// Queues the digest of each rep whose schedule has an occurrence due now (see
    /// [`DigestSchedule::due`]) that is later than the rep's last digest. Returns how many.
    pub async fn fire_digests(
        &mut self,
        daemon: &Context,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let (config, store, t) = (daemon.config(), daemon.store(), now.timestamp());
        let mut fired = 0;
        for m in &config.mailboxes {
            let Some((n, schedule)) = m
                .notify
                .as_ref()
                .and_then(|n| Some((n, n.digest.as_ref()?)))
            else {
                continue;
            };
            if self.next_check.get(&m.name).is_some_and(|at| t < *at) {
                continue;
            }
            if let Some(due) = schedule.due(n.timezone, now)
                && store
                    .last_digest(&m.name)
                    .await?
                    .is_none_or(|last| last < due.timestamp())
            {
                let d = gather(config, &daemon.catalog(), store, m, now).await?;
                let text = render(&d);
                let queued = store
                    .queue_digest(
                        &m.name,
                        due.timestamp(),
                        [&text.subject, &text.body, &text.chat],
                        &new_message_id(m),
                        t,
                    )
                    .await?;
                if queued {
                    fired += 1;
                    tracing::info!(rep = %m.name, replies = d.replies.len(), tasks = d.tasks.len(), steps = d.sends.len(), "daily digest queued");
                }
            }
            let next = schedule
                .next_after(n.timezone, now)
                .map_or(i64::MAX, |x| x.timestamp());
            self.next_check.insert(m.name.clone(), next);
        }
        Ok(fired)
    }

    /// Works up to one batch of due notifications; returns what happened.
    pub async fn send_due(
        &mut self,
        daemon: &Context,
        now: DateTime<Utc>,
    ) -> Result<NotifyReport, StoreError> {
        let store = daemon.store();
        let t = now.timestamp();
        let due = store
            .lease_notifications(daemon.instance(), t, LEASE, BATCH)
            .await?;
        let mut report = NotifyReport::default();
        for n in due {
            let Some(outcome) = work(daemon, n.clone(), now).await? else {
                continue;
            };
            match &outcome {
                NotifyOutcome::Sent { .. } => {
                    report.sent += 1;
                    tracing::info!(notification = n.id, kind = %n.kind, "rep notified");
                }
                NotifyOutcome::Retry { error, at } => {
                    report.retrying += 1;
                    tracing::warn!(notification = n.id, kind = %n.kind, "notification email failed: {error}; next attempt in {}s", at - t);
                }
                NotifyOutcome::Failed { error } => {
                    report.failed += 1;
                    tracing::warn!(notification = n.id, kind = %n.kind, "notification failed for good: {error}");
                }
                NotifyOutcome::Skipped { reason } => {
                    report.skipped += 1;
                    tracing::debug!(notification = n.id, kind = %n.kind, "notification skipped: {reason}");
                }
            }
            store
                .record_notification(n.id, daemon.instance(), &outcome, t)
                .await?;
        }
        Ok(report)
    }
}

fn skipped(reason: impl Into<String>) -> Option<NotifyOutcome> {
    Some(NotifyOutcome::Skipped {
        reason: reason.into(),
    })
}

/// One attempt at one notification: its text fixed if not yet, its webhook handed over if
/// not yet, its email sent. None when the lease was lost meanwhile.
async fn work(
    daemon: &Context,
    mut n: Notification,
    now: DateTime<Utc>,
) -> Result<Option<NotifyOutcome>, StoreError> {
    let text = match text(daemon, &mut n).await? {
        Ok(text) => text,
        Err(done) => return Ok(done),
    };
    let (config, store) = (daemon.config(), daemon.store());
    let rep_name = n.rep.clone().unwrap_or_default();
    let Some(rep) = config.mailbox(&rep_name) else {
        return Ok(skipped(format!(
            "mailbox {rep_name:?} is no longer in config.toml"
        )));
    };
    let Some(notify) = &rep.notify else {
        return Ok(skipped(format!(
            "mailbox {rep_name:?} has no [mailbox.notify] any more"
        )));
    };
    if notify.webhook.is_some() && n.webhook_at.is_none() {
        let payload = serde_json::json!({ "text": text.chat }).to_string();
        store
            .queue_notification_webhook(
                n.id,
                daemon.instance(),
                &endpoint(&rep.name),
                &format!("notify-{}", n.kind),
                &payload,
                now.timestamp(),
            )
            .await?;
    }
    let Some(to) = &notify.email else {
        return Ok(Some(NotifyOutcome::Sent { emailed: false }));
    };
    Ok(Some(email(daemon, &n, rep, to, &text, now).await))
}

/// The notification's words: as fixed before, or, for a reply's notice not fixed yet, rendered
/// for its rep and fixed now (`n` then names the rep and the Message-ID). `Err` holds what to
/// record instead (None: the lease was lost).
async fn text(
    daemon: &Context,
    n: &mut Notification,
) -> Result<Result<Rendered, Option<NotifyOutcome>>, StoreError> {
    let (config, store) = (daemon.config(), daemon.store());
    if let (Some(_), Some(subject), Some(body), Some(chat)) = (&n.rep, &n.subject, &n.body, &n.chat)
    {
        return Ok(Ok(Rendered {
            subject: subject.clone(),
            body: body.clone(),
            chat: chat.clone(),
        }));
    }
    if n.kind != "reply" {
        return Ok(Err(skipped("nothing to send")));
    }
    let Some(notice) = store.reply_notice(n.id).await? else {
        return Ok(Err(skipped("the lead is gone")));
    };
    let Some(rep) = rep_for(config, notice.owner.as_deref(), Some(&notice.mailbox)) else {
        return Ok(Err(skipped(
            "neither the lead's owner nor the mailbox is in config.toml",
        )));
    };
    let Some(notify) = &rep.notify else {
        return Ok(Err(skipped(format!(
            "mailbox {:?} has no [mailbox.notify]",
            rep.name
        ))));
    };
    let text = reply::render(&notice, notify.timezone);
    let message_id = new_message_id(rep);
    if !store
        .fix_notification(
            n.id,
            daemon.instance(),
            &rep.name,
            [&text.subject, &text.body, &text.chat],
            &message_id,
        )
        .await?
    {
        return Ok(Err(None));
    }
    n.rep = Some(rep.name.clone());
    n.message_id = Some(message_id);
    Ok(Ok(text))
}

/// The notification's email, from `rep`'s mailbox to `to`: sent, to be retried (after the
/// wait [`RETRY`] gives for its attempt), or failed.
async fn email(
    daemon: &Context,
    n: &Notification,
    rep: &Mailbox,
    to: &Email,
    text: &Rendered,
    now: DateTime<Utc>,
) -> NotifyOutcome {
    let message_id = n.message_id.clone().unwrap_or_else(|| new_message_id(rep));
    let mut message = match mail::build(rep, to, &text.subject, &text.body, &message_id, now) {
        Ok(m) => m,
        Err(e) => {
            return NotifyOutcome::Failed {
                error: e.to_string(),
            };
        }
    };
    if let Some(signer) = daemon.signer(&rep.name) {
        message.sign(signer);
    }
    let Some(transport) = daemon.transport(&rep.name) else {
        return NotifyOutcome::Failed {
            error: format!("mailbox {:?} has no transport", rep.name),
        };
    };
    let delivery = transport
        .deliver(
            (rep.from.as_str(), to.as_str(), None),
            &message_id,
            &message.formatted(),
            None,
        )
        .await;
    match delivery {
        Delivery::Accepted { .. } => NotifyOutcome::Sent { emailed: true },
        Delivery::Retry { reason } | Delivery::Uncertain { reason } => {
            match usize::try_from(n.attempts).ok().and_then(|a| RETRY.get(a)) {
                Some(wait) => NotifyOutcome::Retry {
                    error: reason,
                    at: now.timestamp() + wait,
                },
                None => NotifyOutcome::Failed { error: reason },
            }
        }
        Delivery::Rejected { reason, .. } => NotifyOutcome::Failed { error: reason },
    }
}

/// `run --once`: queues the digests due now, then works every notification due now (a
/// failed email waits for its next time, so this ends).
pub async fn flush(daemon: &Context) -> Result<NotifyReport, StoreError> {
    let now = daemon.now();
    let mut notifier = Notifier::new();
    let mut report = NotifyReport {
        digests: notifier.fire_digests(daemon, now).await?,
        ..NotifyReport::default()
    };
    loop {
        let r = notifier.send_due(daemon, now).await?;
        report.sent += r.sent;
        report.retrying += r.retrying;
        report.failed += r.failed;
        report.skipped += r.skipped;
        if r.worked() == 0 {
            break;
        }
    }
    Ok(report)
}

/// The notifier task of `drumbeat run`, until `shutdown` turns true. A stop lets an email in
/// flight finish for a bounded moment, then gives the leases back.
pub async fn run(daemon: Arc<Context>, mut shutdown: watch::Receiver<bool>) {
    let mut notifier = Notifier::new();
    let mut pacer = Pacer::new("notifications", POLL);
    loop {
        if *shutdown.borrow() {
            break;
        }
        let step = async {
            let now = daemon.now();
            notifier.fire_digests(&daemon, now).await?;
            notifier.send_due(&daemon, now).await
        };
        let mut step = std::pin::pin!(step);
        let outcome = tokio::select! {
            o = &mut step => o,
            _ = shutdown.changed() => match tokio::time::timeout(STOP_GRACE, &mut step).await {
                Ok(o) => o,
                Err(_) => break,
            },
        };
        let wait = pacer.wait_after(outcome.map(|r| r.worked() > 0));
        Pacer::pause(wait, &mut shutdown).await;
    }
    if let Err(e) = daemon
        .store()
        .release_notification_leases(daemon.instance())
        .await
    {
        tracing::warn!("notifications: cannot give leases back: {e}");
    }
}

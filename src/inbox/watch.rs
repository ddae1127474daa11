//! One watcher per mailbox with IMAP settings, inside the daemon: it holds the mailbox's lease
//! (so one daemon watches it at a time), reads every folder it watches from where it stopped
//! (UIDVALIDITY and last UID in the store), classifies each new message and records it with its
//! effect in one transaction, waits with IDLE on INBOX (or polls where IDLE is missing), and
//! settles `uncertain` sends by looking for their Message-ID in the Sent folder.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use sha2::{Digest, Sha256};
use tokio::sync::watch;

use super::classify::{Classification, Kind, classify};
use super::imap::{self, Fetched, ImapError, ImapSession};
use super::parse::{Inbound, parse};
use crate::config::{ImapSettings, Mailbox};
use crate::context::{Context, resolve_as_sent};
use crate::policy::StopRules;
use crate::store::{FolderState, InboundFact, InboundOutcome};

pub use super::look::check_once;

/// How long a watcher's lease lasts; it is renewed at least every third of that.
pub const LEASE: i64 = 180;
/// How long one IDLE waits before the watcher renews its lease and looks at the other folders.
pub const IDLE_FOR: Duration = Duration::from_secs(50);
/// How often a server without IDLE is polled.
pub const POLL: Duration = Duration::from_secs(30);
pub use crate::policy::SOFT_BOUNCE_LIMIT;
/// An uncertain send not found in the Sent folder this long after its claim is sent again
/// (with the same Message-ID).
pub const SENT_GRACE: i64 = 30 * 60;
/// How far back the first look at a folder (or one renumbered by a UIDVALIDITY change) reads.
pub const FIRST_LOOK_DAYS: u64 = 14;
/// How long an out-of-office without a return date pauses its lead.
pub const AUTO_REPLY_DAYS: i64 = 3;
/// Messages fetched per round trip.
const FETCH_CHUNK: usize = 50;

/// What processing one message did (for tests and the benchmark).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Messages read.
    pub read: u64,
    /// Matched and recorded.
    pub recorded: u64,
    /// Not about any lead of ours.
    pub unmatched: u64,
    /// Seen before (another folder, a renumbered folder).
    pub duplicates: u64,
    /// Not parseable as mail: logged and skipped.
    pub malformed: u64,
}

/// Runs the watcher of `mailbox` until `shutdown` turns true: it watches while this daemon
/// holds the mailbox (see `daemon::shares`), and logs out as soon as it does not.
pub async fn run(daemon: Arc<Context>, mailbox: Mailbox, mut shutdown: watch::Receiver<bool>) {
    let Some(settings) = mailbox.imap.clone() else {
        return;
    };
    let name = mailbox.name.clone();
    let mut held = daemon.watch_held();
    let mut backoff = Duration::from_secs(1);
    loop {
        if *shutdown.borrow() {
            break;
        }
        let now = daemon.now().timestamp();
        let ours = daemon.holds(&name)
            && daemon
                .store()
                .lease_mailbox(&name, daemon.instance(), now, now + LEASE)
                .await
                .unwrap_or(false);
        if !ours {
            // Another daemon holds it; wait until this one does.
            tokio::select! {
                _ = held.changed() => {}
                _ = shutdown.changed() => {}
                _ = tokio::time::sleep(Duration::from_secs(30)) => {}
            }
            continue;
        }
        let mut watched = false;
        let r = session(
            &daemon,
            &mailbox,
            &settings,
            (&mut shutdown, &mut held),
            (&mut backoff, &mut watched),
        )
        .await;
        if watched {
            tracing::info!(mailbox = %name, "inbox watcher: stopped");
            daemon.set_reading(&name, false);
        }
        match r {
            Ok(()) => {}
            Err(e) => {
                let slow = matches!(e, ImapError::Auth(_) | ImapError::Secret(_));
                tracing::warn!(mailbox = %name, "IMAP: {e}; reconnecting in {}s", backoff.as_secs());
                // Its follow-ups wait until a read succeeds (see `policy::inbox_gate`).
                let _ = daemon
                    .store()
                    .inbox_read_failed(&name, &e.to_string(), daemon.now().timestamp())
                    .await;
                let _ = daemon
                    .store()
                    .set_watcher_state(
                        &name,
                        daemon.instance(),
                        "disconnected",
                        Some(&e.to_string()),
                        Utc::now().timestamp(),
                    )
                    .await;
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = shutdown.changed() => {}
                }
                let cap = if slow { 900 } else { 300 };
                backoff = (backoff * 2).min(Duration::from_secs(cap));
            }
        }
        if !daemon.holds(&name) {
            let _ = daemon
                .store()
                .release_mailbox(&name, daemon.instance())
                .await;
        }
    }
    let _ = daemon
        .store()
        .release_mailbox(&name, daemon.instance())
        .await;
}

/// What ends a watcher's session: the daemon's shutdown, and a change of the mailboxes it
/// holds.
type Stops<'a> = (
    &'a mut watch::Receiver<bool>,
    &'a mut watch::Receiver<crate::store::Held>,
);

async fn session(
    daemon: &Context,
    mailbox: &Mailbox,
    settings: &ImapSettings,
    (shutdown, held): Stops<'_>,
    (backoff, watched): (&mut Duration, &mut bool),
) -> Result<(), ImapError> {
    let store = daemon.store();
    let name = mailbox.name.as_str();
    let state = |s: &'static str, d: Option<String>| async move {
        let _ = store
            .set_watcher_state(
                name,
                daemon.instance(),
                s,
                d.as_deref(),
                Utc::now().timestamp(),
            )
            .await;
    };
    state("connecting", None).await;
    let mut session = imap::connect_for(mailbox, settings, &daemon.config().dir).await?;
    *backoff = Duration::from_secs(1);
    let idle = imap::has_idle(&mut session).await?;
    tracing::info!(mailbox = name, idle, "IMAP connected");
    let mut folders = vec!["INBOX".to_string()];
    folders.extend(settings.folders.iter().cloned());
    loop {
        if !still_ours(daemon, name).await? {
            // Another daemon holds the mailbox now: it watches the inbox.
            let _ = session.logout().await;
            return Ok(());
        }
        if !*watched {
            // Logged once the lease is confirmed, before the first read: the log says when
            // this daemon read the inbox (scripts/chaos checks one daemon at a time).
            tracing::info!(mailbox = name, "inbox watcher: watching");
            daemon.set_reading(name, true);
            *watched = true;
        }
        for folder in &folders {
            sync_folder(daemon, &mut session, name, folder).await?;
        }
        finish_read(daemon, &mut session, name).await?;
        if *shutdown.borrow() {
            let _ = session.logout().await;
            return Ok(());
        }
        if idle {
            // Mail that arrived while the folders were read would not wake an IDLE that
            // starts now: look at UIDNEXT first, and read again if it moved.
            if inbox_moved(&mut session, daemon, name).await? {
                continue;
            }
            state("idle", None).await;
            let mut handle = session.idle();
            handle.init().await?;
            let (wait, stop) = handle.wait_with_timeout(IDLE_FOR);
            tokio::select! {
                r = wait => { r?; }
                _ = shutdown.changed() => {}
                _ = held.changed() => {}
            }
            drop(stop);
            session = handle.done().await?;
        } else {
            state("polling", None).await;
            tokio::select! {
                _ = tokio::time::sleep(POLL) => {}
                _ = shutdown.changed() => {}
                _ = held.changed() => {}
            }
        }
        if *shutdown.borrow() {
            let _ = session.logout().await;
            return Ok(());
        }
    }
}

/// Whether this daemon still holds `mailbox` and its watcher's lease (renewed): checked
/// before every read.
async fn still_ours(daemon: &Context, mailbox: &str) -> Result<bool, ImapError> {
    let now = daemon.now().timestamp();
    Ok(daemon.holds(mailbox)
        && daemon
            .store()
            .lease_mailbox(mailbox, daemon.instance(), now, now + LEASE)
            .await
            .map_err(|e| ImapError::Connection(e.to_string()))?)
}

/// The end of a complete read of every watched folder: uncertain sends settled, and the read
/// recorded, so the follow-ups held for this inbox may go (see `policy::inbox_gate`).
pub(super) async fn finish_read(
    daemon: &Context,
    session: &mut ImapSession,
    mailbox: &str,
) -> Result<(), ImapError> {
    settle_uncertain(daemon, session, mailbox).await?;
    super::drafts::sync(daemon, session, mailbox).await?;
    daemon
        .store()
        .inbox_read(mailbox, daemon.now().timestamp())
        .await
        .map_err(|e| ImapError::Connection(e.to_string()))
}

/// Whether INBOX holds mail past what the store says was read (UIDNEXT moved).
async fn inbox_moved(
    session: &mut ImapSession,
    daemon: &Context,
    mailbox: &str,
) -> Result<bool, ImapError> {
    let opened = imap::examine(session, "INBOX").await?;
    let seen = daemon
        .store()
        .folder_state(mailbox, "INBOX")
        .await
        .map_err(|e| ImapError::Connection(e.to_string()))?;
    Ok(matches!((opened.uid_next, seen), (Some(next), Some(seen))
        if seen.uidvalidity == i64::from(opened.uidvalidity)
            && i64::from(next) > seen.last_uid + 1))
}

/// Reads a folder from where the store says it stopped.
pub async fn sync_folder(
    daemon: &Context,
    session: &mut ImapSession,
    mailbox: &str,
    folder: &str,
) -> Result<SyncReport, ImapError> {
    let store = daemon.store();
    let opened = imap::examine(session, folder).await?;
    let uidvalidity = i64::from(opened.uidvalidity);
    let known = store
        .folder_state(mailbox, folder)
        .await
        .map_err(|e| ImapError::Connection(e.to_string()))?;
    let uids = match known {
        Some(s) if s.uidvalidity == uidvalidity => {
            imap::uids_after(session, u32::try_from(s.last_uid).unwrap_or(u32::MAX)).await?
        }
        // First look, or the server renumbered the folder: read the recent past; messages
        // already recorded are recognised by their Message-ID and act only once.
        other => {
            if other.is_some() {
                tracing::warn!(
                    mailbox,
                    folder,
                    "UIDVALIDITY changed; re-reading recent mail"
                );
            }
            let since = Utc::now()
                .date_naive()
                .checked_sub_days(Days::new(FIRST_LOOK_DAYS))
                .unwrap_or_default();
            let uids = imap::uids_since(session, since).await?;
            if uids.is_empty() {
                let last = i64::from(opened.uid_next.unwrap_or(1)).saturating_sub(1);
                store
                    .set_folder_state(
                        mailbox,
                        folder,
                        FolderState {
                            uidvalidity,
                            last_uid: last,
                            synced_at: Utc::now().timestamp(),
                        },
                    )
                    .await
                    .map_err(|e| ImapError::Connection(e.to_string()))?;
            }
            uids
        }
    };
    let mut report = SyncReport::default();
    for chunk in uids.chunks(FETCH_CHUNK) {
        for m in imap::fetch(session, chunk).await? {
            process(daemon, mailbox, folder, uidvalidity, &m, &mut report)
                .await
                .map_err(|e| ImapError::Connection(e.to_string()))?;
        }
    }
    // Everything below the UIDNEXT seen when the folder was opened has been read (UIDs of
    // messages deleted meanwhile leave gaps); later mail gets higher UIDs.
    if let Some(next) = opened.uid_next {
        let state = FolderState {
            uidvalidity,
            last_uid: i64::from(next).saturating_sub(1),
            synced_at: Utc::now().timestamp(),
        };
        store
            .set_folder_state(mailbox, folder, state)
            .await
            .map_err(|e| ImapError::Connection(e.to_string()))?;
    }
    Ok(report)
}

/// Classifies one message and records it (with the folder's new position).
pub async fn process(
    daemon: &Context,
    mailbox: &str,
    folder: &str,
    uidvalidity: i64,
    m: &Fetched,
    report: &mut SyncReport,
) -> Result<(), crate::store::StoreError> {
    report.read += 1;
    let store = daemon.store();
    // The daemon's clock (fixed under `run --once` with DRUMBEAT_NOW), as the scheduler's.
    let now = daemon.now();
    let position = FolderState {
        uidvalidity,
        last_uid: i64::from(m.uid),
        synced_at: now.timestamp(),
    };
    let inbound = match parse(&m.raw) {
        Ok(i) => i,
        Err(e) => {
            report.malformed += 1;
            tracing::warn!(
                mailbox,
                folder,
                uid = m.uid,
                "skipping a message that is not valid mail: {e}"
            );
            return store.set_folder_state(mailbox, folder, position).await;
        }
    };
    let received = received_at(daemon, &inbound, m, now);
    let tz = daemon.config().timezone;
    let mut c = classify(&inbound, received.with_timezone(&tz).date_naive());
    if super::meetings::handle(daemon, mailbox, &inbound, &m.raw, &mut c).await? {
        report.recorded += 1;
        return store.set_folder_state(mailbox, folder, position).await;
    }
    let (until, address) = (pause_until(&c, tz, now), about(&c, &inbound));
    let (refs, key) = (references(&inbound), message_key(&inbound, &m.raw));
    let (evidence, referred) = (evidence(&c, &inbound, folder), referred(daemon, &c));
    let fact = InboundFact {
        mailbox,
        folder,
        message_key: &key,
        refs: &refs,
        address: address.as_deref(),
        kind: c.kind,
        reason: c.reason,
        rule: &c.rule,
        evidence,
        until,
        received_at: received.timestamp(),
        intent: c.intent.as_ref().map(|r| r.intent),
        left: c.intent.as_ref().is_some_and(|r| r.left),
        referred: &referred,
    };
    let catalog = daemon.catalog();
    let policy = |seq: &str| StopRules::of(catalog.sequence(seq));
    let outcome = store
        .record_inbound(
            &fact,
            Some((uidvalidity, i64::from(m.uid))),
            &policy,
            now.timestamp(),
        )
        .await?;
    match &outcome {
        InboundOutcome::Recorded {
            lead,
            enrollment,
            action,
        } => {
            report.recorded += 1;
            tracing::info!(mailbox, folder, uid = m.uid, lead, enrollment, kind = c.kind.as_str(), rule = %c.rule, action = %action, "inbound mail recorded");
        }
        InboundOutcome::Duplicate => report.duplicates += 1,
        InboundOutcome::Unmatched => report.unmatched += 1,
    }
    Ok(())
}

/// Who a message is about when no reference matches: a bounce's failed recipient, else the
/// sender.
fn about(c: &Classification, inbound: &Inbound) -> Option<String> {
    match c.kind {
        Kind::BounceHard | Kind::BounceSoft => c.recipient.clone().map(|r| r.to_lowercase()),
        _ => inbound.from.clone(),
    }
}

/// When the message arrived, as its text means it: the sender's Date anchors what the text
/// says ("back on Monday"); the server's INTERNALDATE stands in when the Date header is
/// missing or not believable. Under a fixed clock (a simulation) the daemon's "now" is the
/// server's time.
fn received_at(
    daemon: &Context,
    inbound: &Inbound,
    m: &Fetched,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    let internal = if daemon.clock_is_fixed() {
        Some(now)
    } else {
        m.received_at.and_then(|t| DateTime::from_timestamp(t, 0))
    };
    inbound
        .date
        .filter(|d| internal.is_none_or(|i| (*d - i).num_days().abs() <= 30))
        .or(internal)
        .unwrap_or(now)
}

/// Until when an auto-reply or a "write me later" holds the lead: an auto-reply until the
/// business day after its return date (without one, a few days); a "later" until the date it
/// names.
fn pause_until(c: &Classification, tz: Tz, now: DateTime<Utc>) -> Option<i64> {
    match c.kind {
        Kind::AutoReply => Some(c.return_date.map_or_else(
            || (now + chrono::TimeDelta::days(AUTO_REPLY_DAYS)).timestamp(),
            |d| day_start(tz, next_business_day(d)),
        )),
        Kind::Later => c.later_date.map(|d| day_start(tz, d)),
        _ => None,
    }
}

/// What is kept with the message: the classifier's findings (a reply's intent and the words
/// that decided it among them) and the reply's first lines.
fn evidence(c: &Classification, inbound: &Inbound, folder: &str) -> serde_json::Value {
    let mut v = serde_json::json!({
        "status": c.status,
        "recipient": c.recipient,
        "return_date": c.return_date,
        "later_date": c.later_date,
        "snippet": c.text,
        "subject": inbound.subject,
        "folder": folder,
    });
    if let (Some(r), Some(o)) = (&c.intent, v.as_object_mut()) {
        o.insert("intent".into(), r.intent.as_str().into());
        o.insert("intent_words".into(), r.words.clone().into());
        if !r.referred.is_empty() {
            let emails: Vec<&str> = r.referred.iter().map(|p| p.email.as_str()).collect();
            o.insert("referred".into(), emails.into());
        }
    }
    v
}

/// The people a referral names, less our own mailboxes (a reply quoting the rep's address is
/// no referral to the rep).
fn referred(daemon: &Context, c: &Classification) -> Vec<crate::intent::Referred> {
    let config = daemon.config();
    c.intent
        .iter()
        .flat_map(|r| r.referred.iter())
        .filter(|p| !config.mailboxes.iter().any(|m| m.from.as_str() == p.email))
        .cloned()
        .collect()
}

/// The Message-IDs a message points at: In-Reply-To, References, and a bounce's original.
fn references(inbound: &Inbound) -> Vec<String> {
    let mut refs: Vec<String> = inbound.in_reply_to.clone();
    refs.extend(inbound.references.iter().cloned());
    refs.extend(inbound.original_message_ids.iter().cloned());
    refs
}

/// The message's Message-ID, or a stable hash of it when it has none.
fn message_key(inbound: &Inbound, raw: &[u8]) -> String {
    inbound.message_id.clone().unwrap_or_else(|| {
        let digest = Sha256::digest(raw);
        format!(
            "sha256:{}",
            digest
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        )
    })
}

/// Uncertain sends of this mailbox: found in the Sent folder → sent; still missing a while
/// after their claim → sent again with the same Message-ID.
pub async fn settle_uncertain(
    daemon: &Context,
    session: &mut ImapSession,
    mailbox: &str,
) -> Result<(), ImapError> {
    let store = daemon.store();
    let now = daemon.now();
    let waiting = store
        .uncertain_touches(mailbox, now.timestamp())
        .await
        .map_err(|e| ImapError::Connection(e.to_string()))?;
    if waiting.is_empty() {
        return Ok(());
    }
    let Some(sent) = imap::sent_folder(session).await? else {
        return Ok(());
    };
    imap::examine(session, &sent).await?;
    let catalog = daemon.catalog();
    for (touch, message_id, claimed_at) in waiting {
        let found = imap::has_message_id(session, &message_id).await?;
        let err = |e: crate::store::StoreError| ImapError::Connection(e.to_string());
        if found {
            let Some(t) = store.touch(touch).await.map_err(err)? else {
                continue;
            };
            let how = format!("found in {sent}");
            resolve_as_sent(daemon.config(), &catalog, store, &t, &how, now)
                .await
                .map_err(err)?;
            tracing::info!(
                mailbox,
                touch,
                "uncertain send found in {sent}: recorded as sent"
            );
        } else if now.timestamp() - claimed_at > SENT_GRACE {
            store
                .resolve_not_sent(touch, now.timestamp())
                .await
                .map_err(err)?;
            tracing::info!(
                mailbox,
                touch,
                "uncertain send not in {sent}: sending it again with the same Message-ID"
            );
        }
    }
    Ok(())
}

fn next_business_day(d: NaiveDate) -> NaiveDate {
    let mut n = d.succ_opt().unwrap_or(d);
    while matches!(n.weekday(), Weekday::Sat | Weekday::Sun) {
        n = n.succ_opt().unwrap_or(n);
    }
    n
}

fn day_start(tz: chrono_tz::Tz, d: NaiveDate) -> i64 {
    tz.from_local_datetime(&d.and_time(NaiveTime::MIN))
        .earliest()
        .map_or_else(
            || d.and_time(NaiveTime::MIN).and_utc().timestamp(),
            |t| t.timestamp(),
        )
}

//! The Sent folder: over plain SMTP a sent email lands in no folder of the rep's, so each one
//! is put into the mailbox's Sent folder over IMAP (APPEND, flagged `\Seen`), where the rep's
//! mail client shows it in its thread. The copies wait in the store (queued with the send, see
//! `store::sent_copies`); this worker takes them, a mailbox at a time over one connection,
//! never holding up a send, and retries a failed one with back-off. A copy goes in once: it is
//! looked for by its Message-ID first, so a crash between the APPEND and its record adds none.
//!
//! The folder: the one the server marks `\Sent` (RFC 6154), else `sent_folder` from the
//! config, else one with a usual name. None is created: without one, the copy waits and
//! `status` says why.

use std::sync::Arc;
use std::time::Duration;

use async_imap::types::NameAttribute;
use futures_util::TryStreamExt;
use tokio::sync::watch;

use super::imap::{self, ImapError, ImapSession, timed};
use crate::config::{ImapSettings, Mailbox};
use crate::context::Context;
use crate::context::poll::Pacer;
use crate::store::{SentCopy, StoreError};

/// How often the daemon looks for copies to put in Sent.
const POLL: Duration = Duration::from_secs(5);
/// Copies of one mailbox taken in one pass.
const BATCH: i64 = 50;
/// How long a copy taken for an attempt is left alone (a crash mid-attempt retries it then).
const HOLD: i64 = 300;
/// The waits after each failed attempt (seconds); after the last, the copy is given up.
const RETRY: [i64; 10] = [
    60,
    300,
    900,
    3_600,
    3 * 3_600,
    6 * 3_600,
    12 * 3_600,
    86_400,
    86_400,
    86_400,
];

/// The usual names of a Sent folder, for servers without RFC 6154.
const USUAL: [&str; 4] = ["Sent", "Sent Items", "Sent Messages", "INBOX.Sent"];

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct CopyReport {
    /// Copies now in a Sent folder (found there already counts).
    pub appended: u64,
    /// Attempts that failed and will be tried again.
    pub retrying: u64,
    /// Copies given up.
    pub failed: u64,
}

impl CopyReport {
    /// Whether the pass did nothing.
    pub fn is_empty(&self) -> bool {
        *self == CopyReport::default()
    }
}

/// The worker of the long-running daemon, until `shutdown`.
pub async fn run(daemon: Arc<Context>, mut shutdown: watch::Receiver<bool>) {
    let mut pacer = Pacer::new("sent folder copies", POLL);
    loop {
        if *shutdown.borrow() {
            break;
        }
        let outcome = tokio::select! {
            o = flush(&daemon) => o,
            _ = shutdown.changed() => break,
        };
        let wait = pacer.wait_after(outcome.map(|r| r.appended > 0));
        Pacer::pause(wait, &mut shutdown).await;
    }
}

/// Puts every copy due now into its mailbox's Sent folder (`run --once`, and each pass of the
/// worker).
pub async fn flush(daemon: &Context) -> Result<CopyReport, StoreError> {
    let mut report = CopyReport::default();
    let now = daemon.now().timestamp();
    for name in daemon.store().sent_copy_mailboxes(now).await? {
        // A mailbox gone from the config (or without IMAP now) keeps its copies waiting.
        let Some(m) = daemon.config().mailbox(&name) else {
            continue;
        };
        let Some(settings) = &m.imap else {
            continue;
        };
        // The daemon holding the mailbox copies its sent emails, as it sends and watches:
        // one daemon at a time talks IMAP to a mailbox (see `daemon::shares`).
        if !daemon.holds(&name) {
            continue;
        }
        flush_mailbox(daemon, m, settings, &mut report).await?;
    }
    Ok(report)
}

/// The copies of one mailbox due now, over one connection.
async fn flush_mailbox(
    daemon: &Context,
    m: &Mailbox,
    settings: &ImapSettings,
    report: &mut CopyReport,
) -> Result<(), StoreError> {
    let store = daemon.store();
    let now = daemon.now().timestamp();
    let mut mine = Vec::new();
    for c in store.due_sent_copies(&m.name, now, BATCH).await? {
        if store.claim_sent_copy(c.id, now, now + HOLD).await? {
            mine.push(c);
        }
    }
    if mine.is_empty() {
        return Ok(());
    }
    let mut done = 0;
    let outcome = async {
        let mut session = imap::connect_for(m, settings, &daemon.config().dir).await?;
        let folder = sent_folder(&mut session, settings.sent_folder.as_deref()).await?;
        imap::examine(&mut session, &folder).await?;
        for c in &mine {
            if !imap::has_message_id(&mut session, &c.message_id).await? {
                append(&mut session, &folder, c).await?;
            }
            let at = daemon.now().timestamp();
            store
                .sent_copy_appended(c.id, &folder, at)
                .await
                .map_err(|e| ImapError::Connection(e.to_string()))?;
            tracing::info!(mailbox = %m.name, touch = c.touch, folder, "copied into the Sent folder");
            done += 1;
            report.appended += 1;
        }
        let _ = timed("LOGOUT", async { Ok(session.logout().await?) }).await;
        Ok::<_, ImapError>(())
    }
    .await;
    if let Err(e) = outcome {
        let error = e.to_string();
        for c in &mine[done..] {
            failed(daemon, m, c, &error, report).await?;
        }
    }
    Ok(())
}

/// Records a failed attempt at `c`: tried again after its wait, or given up after the last.
async fn failed(
    daemon: &Context,
    m: &Mailbox,
    c: &SentCopy,
    error: &str,
    report: &mut CopyReport,
) -> Result<(), StoreError> {
    let now = daemon.now().timestamp();
    let attempt = usize::try_from(c.attempts).unwrap_or(usize::MAX);
    let retry_at = RETRY.get(attempt).map(|w| now + w);
    match retry_at {
        Some(at) => {
            report.retrying += 1;
            tracing::warn!(
                mailbox = %m.name,
                touch = c.touch,
                "cannot put the sent email into the Sent folder, trying again in {}s (the email itself was sent): {error}",
                at - now
            );
        }
        None => {
            report.failed += 1;
            tracing::warn!(
                mailbox = %m.name,
                touch = c.touch,
                "gave up putting the sent email into the Sent folder after {} attempts (the email itself was sent): {error}",
                attempt + 1
            );
        }
    }
    daemon
        .store()
        .sent_copy_failed(c.id, error, retry_at, now)
        .await
}

/// APPENDs the copy, flagged read.
async fn append(session: &mut ImapSession, folder: &str, c: &SentCopy) -> Result<(), ImapError> {
    timed("APPEND", async {
        Ok(session
            .append(folder, Some("(\\Seen)"), None, c.message.as_bytes())
            .await?)
    })
    .await
}

/// The Sent folder: marked `\Sent`, else `configured`, else one with a usual name. An error
/// when there is none (nothing is created).
async fn sent_folder(
    session: &mut ImapSession,
    configured: Option<&str>,
) -> Result<String, ImapError> {
    let names = timed("LIST", async {
        let stream = session.list(Some(""), Some("*")).await?;
        let names: Vec<_> = stream.try_collect().await?;
        Ok(names)
    })
    .await?;
    let listed: Vec<(String, bool)> = names
        .iter()
        .map(|n| {
            let sent = n
                .attributes()
                .iter()
                .any(|a| matches!(a, NameAttribute::Sent));
            (n.name().to_string(), sent)
        })
        .collect();
    choose(&listed, configured)
}

/// [`sent_folder`]'s choice among the listed folders (name, marked `\Sent`).
fn choose(listed: &[(String, bool)], configured: Option<&str>) -> Result<String, ImapError> {
    // A name the person configured is what they want, whatever the server marks.
    if let Some(want) = configured {
        return listed
            .iter()
            .find(|(n, _)| n == want)
            .map(|(n, _)| n.clone())
            .ok_or_else(|| {
                ImapError::Connection(format!(
                    "the server has no folder {want:?} (sent_folder): create it, or name another"
                ))
            });
    }
    if let Some((name, _)) = listed.iter().find(|(_, sent)| *sent) {
        return Ok(name.clone());
    }
    USUAL
        .iter()
        .find_map(|u| listed.iter().find(|(n, _)| n.eq_ignore_ascii_case(u)))
        .map(|(n, _)| n.clone())
        .ok_or_else(|| {
            ImapError::Connection(
                "the server marks no folder \\Sent and has none named Sent, Sent Items, Sent Messages or INBOX.Sent: set sent_folder in [mailbox.imap]".into(),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(names: &[(&str, bool)]) -> Vec<(String, bool)> {
        names.iter().map(|(n, s)| ((*n).to_string(), *s)).collect()
    }

    #[test]
    fn the_configured_folder_wins_then_the_one_marked_sent_then_a_usual_name() {
        let l = listed(&[("INBOX", false), ("Sent", false), ("Outbox", true)]);
        assert_eq!(choose(&l, Some("Sent")).expect("configured"), "Sent");
        assert_eq!(choose(&l, None).expect("marked"), "Outbox");
        let l = listed(&[("INBOX", false), ("Sent", false), ("Gesendete", false)]);
        assert_eq!(choose(&l, Some("Gesendete")).expect("named"), "Gesendete");
        assert_eq!(choose(&l, None).expect("usual"), "Sent");
        let l = listed(&[
            ("INBOX", false),
            ("INBOX.Sent Items", false),
            ("sent items", false),
        ]);
        assert_eq!(choose(&l, None).expect("usual, any case"), "sent items");
    }

    #[test]
    fn nothing_is_created_a_missing_folder_is_an_error_that_says_what_to_do() {
        let l = listed(&[("INBOX", false), ("Archive", false)]);
        let e = choose(&l, None).expect_err("none").to_string();
        assert!(e.contains("set sent_folder"), "{e}");
        let e = choose(&l, Some("Sent Items"))
            .expect_err("missing")
            .to_string();
        assert!(e.contains("\"Sent Items\""), "{e}");
    }

    #[test]
    fn retries_back_off_and_end() {
        assert!(RETRY.windows(2).all(|w| w[0] <= w[1]));
        assert!(RETRY.iter().sum::<i64>() > 3 * 86_400);
    }
}

//! Drafts in the rep's own mail client: the watcher puts each waiting draft into the
//! mailbox's Drafts folder (RFC 6154 `\Drafts`, else a folder named Drafts, made when
//! missing), flagged `\Draft \Seen`, takes it away once it is approved or skipped elsewhere,
//! and looks for the waiting ones in Sent: a draft the rep sent from their client is recorded
//! sent, once, and the lead moves on. It is found by its Message-ID (clients keep it), else by
//! In-Reply-To and recipient together (a client that wrote its own Message-ID).

use async_imap::types::NameAttribute;
use futures_util::TryStreamExt;

use super::imap::{self, ImapError, ImapSession, timed};
use crate::context::{Context, next_after_done};
use crate::plan::Done;
use crate::store::{DraftChange, DraftRow, StoreError};

/// The usual names of a Drafts folder, for servers without RFC 6154.
const USUAL: [&str; 4] = ["Drafts", "INBOX.Drafts", "[Gmail]/Drafts", "Entwürfe"];

/// One pass over `mailbox`'s drafts: the Drafts folder chores, then the waiting drafts looked
/// for in Sent.
pub async fn sync(
    daemon: &Context,
    session: &mut ImapSession,
    mailbox: &str,
) -> Result<(), ImapError> {
    chores(daemon, session, mailbox).await?;
    find_sent(daemon, session, mailbox).await
}

fn store_err(e: StoreError) -> ImapError {
    ImapError::Connection(e.to_string())
}

/// The Drafts folder: the one marked `\Drafts`, else one with a usual name; `None` when the
/// server has neither.
pub async fn drafts_folder(session: &mut ImapSession) -> Result<Option<String>, ImapError> {
    let names = timed("LIST", async {
        let stream = session.list(Some(""), Some("*")).await?;
        let names: Vec<_> = stream.try_collect().await?;
        Ok(names)
    })
    .await?;
    if let Some(n) = names.iter().find(|n| {
        n.attributes()
            .iter()
            .any(|a| matches!(a, NameAttribute::Drafts))
    }) {
        return Ok(Some(n.name().to_string()));
    }
    Ok(USUAL.iter().find_map(|u| {
        names
            .iter()
            .find(|n| n.name().eq_ignore_ascii_case(u))
            .map(|n| n.name().to_string())
    }))
}

/// Puts waiting drafts into the Drafts folder (replacing an older copy) and takes closed ones
/// away. A chore the server refuses is recorded with why and tried again next time.
async fn chores(
    daemon: &Context,
    session: &mut ImapSession,
    mailbox: &str,
) -> Result<(), ImapError> {
    let store = daemon.store();
    let chores = store.draft_chores(mailbox).await.map_err(store_err)?;
    if chores.is_empty() {
        return Ok(());
    }
    let folder = match drafts_folder(session).await? {
        Some(f) => f,
        None => {
            timed("CREATE", async { Ok(session.create("Drafts").await?) }).await?;
            "Drafts".to_string()
        }
    };
    timed("SELECT", async { Ok(session.select(&folder).await?) }).await?;
    let uidplus = timed("CAPABILITY", async { Ok(session.capabilities().await?) })
        .await?
        .has_str("UIDPLUS");
    for c in chores {
        remove_copies(session, &c.message_id, uidplus).await?;
        let result = if c.chore == "append" {
            timed("APPEND", async {
                Ok(session
                    .append(
                        &folder,
                        Some("(\\Draft \\Seen)"),
                        None,
                        c.message.as_bytes(),
                    )
                    .await?)
            })
            .await
        } else {
            Ok(())
        };
        let error = result.as_ref().err().map(ToString::to_string);
        if let Some(e) = &error {
            tracing::warn!(
                mailbox,
                draft = c.id,
                "cannot put the draft into {folder}: {e}"
            );
        } else {
            tracing::info!(mailbox, draft = c.id, chore = %c.chore, "drafts folder {folder}");
        }
        store
            .draft_chore_done(&c, error.as_deref())
            .await
            .map_err(store_err)?;
    }
    Ok(())
}

/// Deletes the selected folder's copies of a draft (by Message-ID); with UIDPLUS, only those
/// are expunged, else they stay flagged `\Deleted` for the client to expunge.
async fn remove_copies(
    session: &mut ImapSession,
    message_id: &str,
    uidplus: bool,
) -> Result<(), ImapError> {
    let query = format!("HEADER Message-ID {}", imap::quoted(message_id));
    let uids = timed("UID SEARCH", async {
        Ok(session.uid_search(&query).await?)
    })
    .await?;
    if uids.is_empty() {
        return Ok(());
    }
    let set = uids
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",");
    timed("UID STORE", async {
        let s = session.uid_store(&set, "+FLAGS.SILENT (\\Deleted)").await?;
        let _: Vec<_> = s.try_collect().await?;
        Ok(())
    })
    .await?;
    if uidplus {
        timed("UID EXPUNGE", async {
            let s = session.uid_expunge(&set).await?;
            let _: Vec<_> = s.try_collect().await?;
            Ok(())
        })
        .await?;
    }
    Ok(())
}

/// Waiting drafts found in Sent: recorded as sent from the rep's client.
async fn find_sent(
    daemon: &Context,
    session: &mut ImapSession,
    mailbox: &str,
) -> Result<(), ImapError> {
    let store = daemon.store();
    let waiting = store
        .drafts(Some(mailbox), false)
        .await
        .map_err(store_err)?;
    if waiting.is_empty() {
        return Ok(());
    }
    let Some(sent) = imap::sent_folder(session).await? else {
        return Ok(());
    };
    imap::examine(session, &sent).await?;
    for d in waiting {
        if !in_sent(session, &d).await? {
            continue;
        }
        let how = format!("sent from the mail client (found in {sent})");
        match record(daemon, &d, &how).await.map_err(store_err)? {
            DraftChange::Done => {
                tracing::info!(
                    mailbox,
                    draft = d.id,
                    "draft sent from the mail client: recorded as sent"
                );
            }
            other => tracing::debug!(mailbox, draft = d.id, "draft found in {sent}: {other:?}"),
        }
    }
    Ok(())
}

/// Whether the open folder holds draft `d` as sent: its Message-ID, else a reply to the same
/// message to the same person.
async fn in_sent(session: &mut ImapSession, d: &DraftRow) -> Result<bool, ImapError> {
    if imap::has_message_id(session, &d.message_id).await? {
        return Ok(true);
    }
    let Some(parent) = &d.in_reply_to else {
        return Ok(false);
    };
    let query = format!(
        "HEADER In-Reply-To {} TO {}",
        imap::quoted(parent),
        imap::quoted(&d.email)
    );
    let uids = timed("UID SEARCH", async {
        Ok(session.uid_search(&query).await?)
    })
    .await?;
    Ok(!uids.is_empty())
}

/// Records draft `d` as sent now, and where its lead goes next.
async fn record(daemon: &Context, d: &DraftRow, how: &str) -> Result<DraftChange, StoreError> {
    let store = daemon.store();
    let Some(touch) = store.touch(d.touch_id).await? else {
        return Ok(DraftChange::Unknown);
    };
    let catalog = daemon.catalog();
    let now = daemon.now();
    let next = next_after_done(
        daemon.config(),
        &catalog,
        store,
        &touch,
        (now, Done::Ran(None)),
    )
    .await?;
    let new_thread = d.in_reply_to.is_none();
    store
        .draft_sent_by_client(d.id, how, new_thread, &next, now.timestamp())
        .await
}

//! One look at a mailbox's inbox, for `run --once`: the same reading as the watcher's
//! (`watch`), once, without IDLE.

use super::imap::{self, ImapError};
use super::watch::{LEASE, SyncReport, finish_read, sync_folder};
use crate::config::Mailbox;
use crate::context::Context;

/// One look at a mailbox (for `run --once`, which holds it: see `daemon::shares`): read every
/// watched folder, settle uncertain sends, log out, and record the read (the caller records a
/// failure). A mailbox a daemon holds is left to it.
pub async fn check_once(daemon: &Context, mailbox: &Mailbox) -> Result<SyncReport, ImapError> {
    let Some(settings) = &mailbox.imap else {
        return Ok(SyncReport::default());
    };
    let store = daemon.store();
    let now = daemon.now().timestamp();
    let err = |e: crate::store::StoreError| ImapError::Connection(e.to_string());
    if !daemon.holds(&mailbox.name)
        || !store
            .lease_mailbox(&mailbox.name, daemon.instance(), now, now + LEASE)
            .await
            .map_err(err)?
    {
        tracing::info!(mailbox = %mailbox.name, "a daemon holds this mailbox and watches its inbox");
        return Ok(SyncReport::default());
    }
    let mut session = imap::connect_for(mailbox, settings, &daemon.config().dir).await?;
    let mut total = SyncReport::default();
    let mut folders = vec!["INBOX".to_string()];
    folders.extend(settings.folders.iter().cloned());
    for folder in &folders {
        let r = sync_folder(daemon, &mut session, &mailbox.name, folder).await?;
        total.read += r.read;
        total.recorded += r.recorded;
        total.unmatched += r.unmatched;
        total.duplicates += r.duplicates;
        total.malformed += r.malformed;
    }
    finish_read(daemon, &mut session, &mailbox.name).await?;
    let _ = session.logout().await;
    store
        .release_mailbox(&mailbox.name, daemon.instance())
        .await
        .map_err(err)?;
    Ok(total)
}

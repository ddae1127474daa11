//! `status`'s view of the Sent folder: per mailbox, the sent emails whose copy is not in its
//! Sent folder yet (waiting for another try) or was given up, with the latest reason.

use std::collections::HashMap;

use super::super::output::printable;
use crate::store::{SentCopyCounts, Store, StoreError};

/// Each mailbox with copies not in its Sent folder, by name.
pub(super) async fn sent_copies(
    store: &Store,
) -> Result<HashMap<String, SentCopyCounts>, StoreError> {
    Ok(store
        .sent_copy_counts()
        .await?
        .into_iter()
        .map(|c| (c.mailbox.clone(), c))
        .collect())
}

/// The mailbox's line, under its name.
pub(super) fn print(c: &SentCopyCounts) {
    let why = c
        .error
        .as_deref()
        .map(|e| format!(": {}", printable(&e.replace(['\r', '\n'], " "))))
        .unwrap_or_default();
    say!(
        "    sent folder: {} waiting, {} failed (the emails were sent){why}",
        c.pending,
        c.failed
    );
}

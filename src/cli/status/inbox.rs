//! `status`'s view of never writing blind: for each watched mailbox whose inbox cannot be read
//! (or has follow-ups held for it), why its follow-ups wait and how many do.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::super::output::rfc3339;
use crate::config::Config;
use crate::policy::{Gate, inbox_gate};
use crate::store::{Store, StoreError};

/// Why a mailbox's follow-ups wait for its inbox.
#[derive(Debug, Serialize)]
pub(super) struct InboxWaitStatus {
    /// `waiting for the inbox: IMAP unreachable since … (…)`.
    pub(super) reason: String,
    /// Open enrollments whose next email waits for the inbox.
    pub(super) steps_held: i64,
    /// When the first of them was held.
    pub(super) held_since: Option<String>,
}

/// Each watched mailbox whose follow-ups wait for its inbox, by name.
pub(super) async fn inbox_waits(
    config: &Config,
    store: &Store,
    now: DateTime<Utc>,
) -> Result<HashMap<String, InboxWaitStatus>, StoreError> {
    let reads = store.inbox_reads().await?;
    let held = store.inbox_held().await?;
    let mut out = HashMap::new();
    for m in config.mailboxes.iter().filter(|m| m.imap.is_some()) {
        let read = reads.get(&m.name).cloned().unwrap_or_default();
        let h = held.iter().find(|h| h.mailbox == m.name);
        // The same judgement as the scheduler's, for an email sent long ago.
        let gate = inbox_gate(
            Some((i64::MIN, true)),
            &read,
            now.timestamp(),
            config.sending.inbox_fresh,
        );
        let why = match gate {
            Gate::Wait(w) => w.to_string(),
            Gate::Send if h.is_some() => {
                "the inbox has not been read since the previous email".to_string()
            }
            Gate::Send => continue,
        };
        // A mailbox never read and with nothing held has nothing to say yet.
        if h.is_none() && read.failing_since.is_none() {
            continue;
        }
        out.insert(
            m.name.clone(),
            InboxWaitStatus {
                reason: format!("waiting for the inbox: {why}"),
                steps_held: h.map_or(0, |h| h.steps),
                held_since: rfc3339(h.map(|h| h.since)),
            },
        );
    }
    Ok(out)
}

/// The lines under a mailbox in `status`'s text.
pub(super) fn print(w: &InboxWaitStatus) {
    say!("    {}; {} follow-up(s) held", w.reason, w.steps_held);
}

//! `status`'s view of the CRM sync: per configured CRM, the emails waiting to be logged (and
//! how many failed at least once), those given up on, how old the oldest waiting one is, and
//! the latest error (never a token: the sync's errors hold none).

use serde::Serialize;

use super::super::output::{printable, rfc3339};
use crate::config::Config;
use crate::store::{CrmQueue, Store, StoreError};

/// One CRM's queue, as `status --json` shows it.
#[derive(Debug, Serialize)]
pub(super) struct CrmStatus {
    crm: String,
    /// Emails waiting to be logged.
    pending: i64,
    /// Of them, those whose last attempt failed.
    retrying: i64,
    /// Given up on (the CRM refused the request itself).
    failed: i64,
    /// Logged.
    done: i64,
    /// When the oldest waiting one was queued.
    oldest_pending_at: Option<String>,
    /// Its age in seconds.
    oldest_pending_age_seconds: Option<i64>,
    last_error: Option<String>,
}

/// Each configured CRM's queue (none configured: empty).
pub(super) async fn crm(
    config: &Config,
    store: &Store,
    now: i64,
) -> Result<Vec<CrmStatus>, StoreError> {
    let names: Vec<&str> = [
        ("hubspot", config.crm.hubspot.is_some()),
        ("pipedrive", config.crm.pipedrive.is_some()),
    ]
    .into_iter()
    .filter_map(|(n, on)| on.then_some(n))
    .collect();
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let queues = store.crm_queues().await?;
    Ok(names
        .into_iter()
        .map(|n| {
            let q = queues
                .iter()
                .find(|q| q.crm == n)
                .cloned()
                .unwrap_or(CrmQueue {
                    crm: n.to_string(),
                    ..CrmQueue::default()
                });
            CrmStatus {
                crm: q.crm,
                pending: q.pending,
                retrying: q.retrying,
                failed: q.failed,
                done: q.done,
                oldest_pending_at: rfc3339(q.oldest_pending_at),
                oldest_pending_age_seconds: q.oldest_pending_at.map(|t| (now - t).max(0)),
                last_error: q.last_error,
            }
        })
        .collect())
}

/// The CRM block of the human status.
pub(super) fn print(crms: &[CrmStatus]) {
    if crms.is_empty() {
        return;
    }
    say!("\nCRM sync (pending / retrying / failed / logged)");
    for c in crms {
        let age = c
            .oldest_pending_age_seconds
            .map(|s| format!("  oldest waiting {}", age(s)))
            .unwrap_or_default();
        let why = c
            .last_error
            .as_deref()
            .map(|e| format!("  last error: {}", printable(&e.replace(['\r', '\n'], " "))))
            .unwrap_or_default();
        say!(
            "  {:<24} {:>6} / {} / {} / {}{age}{why}",
            c.crm,
            c.pending,
            c.retrying,
            c.failed,
            c.done
        );
    }
}

/// An age in the largest whole unit.
fn age(s: i64) -> String {
    match s {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 2 * 86_400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

//! The daemons `status` shows: each long-running `drumbeat run` with its heartbeat, and apart
//! from them the last `drumbeat run --once` (a one-off run is not a daemon that stopped).

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::super::output::rfc3339;
use super::shown;
use crate::store::{DaemonRow, Store, StoreError};

/// A heartbeat at most this old means the daemon is running.
const RUNNING_SECONDS: i64 = 120;

/// One long-running daemon.
#[derive(Serialize)]
pub(super) struct DaemonStatus {
    instance: String,
    /// running (heartbeat within 2 minutes), stopped (clean exit), or silent (no heartbeat:
    /// crashed or hung).
    state: &'static str,
    pid: i64,
    started_at: Option<String>,
    last_seen: Option<String>,
    /// The last sequence/template reload the daemon refused (it keeps the previous catalog).
    catalog_error: Option<String>,
}

/// The last `run --once`.
#[derive(Serialize)]
pub(super) struct OnceStatus {
    instance: String,
    /// finished, running, or silent (it never said it finished: killed or crashed).
    state: &'static str,
    started_at: Option<String>,
    finished_at: Option<String>,
}

/// The daemons and the last once-run, as of `now`.
pub(super) async fn daemons(
    store: &Store,
    now: DateTime<Utc>,
) -> Result<(Vec<DaemonStatus>, Option<OnceStatus>), StoreError> {
    let (once, daemons): (Vec<DaemonRow>, Vec<DaemonRow>) = store
        .daemons()
        .await?
        .into_iter()
        .partition(|d| d.mode == "once");
    let now = now.timestamp();
    let daemons = daemons
        .into_iter()
        .map(|d| DaemonStatus {
            state: state(&d, now, "stopped"),
            instance: d.instance,
            pid: d.pid,
            started_at: rfc3339(Some(d.started_at)),
            last_seen: rfc3339(Some(d.seen_at)),
            catalog_error: d.catalog_error,
        })
        .collect();
    // Newest first: the first is the last once-run.
    let once = once.into_iter().next().map(|d| OnceStatus {
        state: state(&d, now, "finished"),
        instance: d.instance,
        started_at: rfc3339(Some(d.started_at)),
        finished_at: rfc3339(d.stopped_at),
    });
    Ok((daemons, once))
}

fn state(d: &DaemonRow, now: i64, ended: &'static str) -> &'static str {
    if d.stopped_at.is_some() {
        ended
    } else if now - d.seen_at <= RUNNING_SECONDS {
        "running"
    } else {
        "silent"
    }
}

pub(super) fn print(daemons: &[DaemonStatus], once: Option<&OnceStatus>) {
    say!("\nDaemon");
    if daemons.is_empty() {
        say!("  (not running as a daemon: drumbeat run)");
    }
    for d in daemons {
        say!(
            "  {:<24} {:<8} pid {:<8} last seen {}",
            d.instance,
            d.state,
            d.pid,
            shown(d.last_seen.as_deref())
        );
        if let Some(e) = &d.catalog_error {
            say!("    reload refused, previous sequences still in use:");
            for line in e.lines() {
                say!("      {line}");
            }
        }
    }
    if let Some(o) = once {
        let at = match o.state {
            "finished" => format!("finished {}", shown(o.finished_at.as_deref())),
            "running" => format!("running since {}", shown(o.started_at.as_deref())),
            _ => format!("started {}, never finished", shown(o.started_at.as_deref())),
        };
        say!("  last run --once: {at} ({})", o.instance);
    }
}

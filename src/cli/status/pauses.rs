//! The planned pauses `status` shows: a rep's vacation, a paused sequence (`drumbeat pause
//! --mailbox|--sequence`), on now or to come.

use serde::Serialize;

use super::super::output::{rfc3339, utc};
use crate::store::{Hold, HoldScope};

/// One pause, as `status --json` shows it.
#[derive(Serialize)]
pub(super) struct PauseStatus {
    id: i64,
    scope: HoldScope,
    name: String,
    from: Option<String>,
    /// When it ends; null: until `drumbeat resume`.
    until: Option<String>,
    reason: String,
    /// Whether it is on now (else it is to come).
    on: bool,
    #[serde(skip)]
    span: (i64, Option<i64>),
}

pub(super) fn pause_status(h: Hold, now: i64) -> PauseStatus {
    PauseStatus {
        id: h.id,
        scope: h.scope,
        on: h.is_on(now),
        from: rfc3339(Some(h.starts_at)),
        until: rfc3339(h.until_at),
        span: (h.starts_at, h.until_at),
        name: h.name,
        reason: h.reason,
    }
}

pub(super) fn print(pauses: &[PauseStatus]) {
    if pauses.is_empty() {
        return;
    }
    say!("\nPauses");
    for p in pauses {
        let until = match p.span.1 {
            Some(t) => utc(Some(t)),
            None => format!("`drumbeat resume --{} {}`", p.scope.as_str(), p.name),
        };
        say!(
            "  {} {}  from {} until {}  {}{}",
            p.scope.as_str(),
            p.name,
            utc(Some(p.span.0)),
            until,
            p.reason,
            if p.on { "  (on now)" } else { "" }
        );
    }
}

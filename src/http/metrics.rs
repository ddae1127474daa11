//! `GET /metrics`: the store's figures in the Prometheus text format (version 0.0.4), computed
//! at scrape time from the store, so every daemon sharing a store answers the same.

use std::fmt::Write;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use super::{ApiError, AppState};
use crate::store::MetricsSnapshot;

/// The Prometheus text format's content type.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Watcher states reported as one series each (1 for the current one).
const WATCHER_STATES: [&str; 5] = ["connecting", "connected", "idle", "polling", "disconnected"];

pub fn routes() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics))
}

async fn metrics(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let ctx = state.context();
    let now = ctx.now().timestamp();
    let snapshot = ctx.store().metrics(now).await.map_err(ApiError::store)?;
    let mut text = render(&snapshot, now);
    let names: Vec<&str> = ctx
        .config()
        .mailboxes
        .iter()
        .map(|m| m.name.as_str())
        .collect();
    render_health(&mut text, &names, &snapshot.paused);
    render_tracking(&mut text, state.recorder());
    Ok(([(header::CONTENT_TYPE, CONTENT_TYPE)], text))
}

/// This daemon's own click and open writer (not the store's): hits waiting for their group
/// commit, and hits given up after failed commits.
fn render_tracking(out: &mut String, recorder: &super::recorder::Recorder) {
    family(
        out,
        "drumbeat_tracking_hits_queued",
        "gauge",
        "Clicks and opens answered and waiting for their group commit (this daemon).",
    );
    let queued = i64::try_from(recorder.queued()).unwrap_or(i64::MAX);
    sample(out, "drumbeat_tracking_hits_queued", &[], queued);
    family(
        out,
        "drumbeat_tracking_hits_lost_total",
        "counter",
        "Clicks and opens given up after their commit failed three times (this daemon, since it started).",
    );
    let lost = i64::try_from(recorder.lost()).unwrap_or(i64::MAX);
    sample(out, "drumbeat_tracking_hits_lost_total", &[], lost);
}

/// The snapshot as Prometheus text: each family with its HELP and TYPE lines, then its samples.
pub fn render(m: &MetricsSnapshot, now: i64) -> String {
    let mut out = String::with_capacity(2048);
    render_sends(&mut out, m);
    render_events(&mut out, m);
    render_watchers(&mut out, m, now);
    render_holders(&mut out, m, now);
    render_webhooks(&mut out, m);
    out
}

/// Which daemon holds each mailbox (its sending and inbox watcher), with the lease's epoch
/// and since when; a lease that ran out by `now` is 0.
fn render_holders(out: &mut String, m: &MetricsSnapshot, now: i64) {
    family(
        out,
        "drumbeat_mailbox_holder",
        "gauge",
        "The lease epoch of the daemon holding each mailbox (0: the lease ran out or was given back).",
    );
    for h in &m.holders {
        let epoch = if h.until >= now { h.epoch } else { 0 };
        sample(
            out,
            "drumbeat_mailbox_holder",
            &[("mailbox", &h.mailbox), ("instance", &h.owner)],
            epoch,
        );
    }
    family(
        out,
        "drumbeat_mailbox_held_since_timestamp_seconds",
        "gauge",
        "Since when the daemon named holds each mailbox (unix seconds).",
    );
    for h in &m.holders {
        sample(
            out,
            "drumbeat_mailbox_held_since_timestamp_seconds",
            &[("mailbox", &h.mailbox), ("instance", &h.owner)],
            h.since,
        );
    }
}

/// Sends by mailbox and result, and the scheduler's backlog.
fn render_sends(out: &mut String, m: &MetricsSnapshot) {
    family(
        out,
        "drumbeat_sends_total",
        "counter",
        "Emails by sending mailbox and result: sent (accepted by the server), failed, uncertain (a crash mid-send, waiting for a person), retried (hand-overs after the first).",
    );
    for (mailbox, result, n) in &m.sends {
        sample(
            out,
            "drumbeat_sends_total",
            &[("mailbox", mailbox), ("result", result)],
            *n,
        );
    }
    family(
        out,
        "drumbeat_due_enrollments",
        "gauge",
        "Active enrollments whose next step is due now (the scheduler's backlog).",
    );
    sample(out, "drumbeat_due_enrollments", &[], m.due);
}

/// One counter per kind of event a lead causes.
fn render_events(out: &mut String, m: &MetricsSnapshot) {
    for (kind, name, help) in [
        ("replied", "drumbeat_replies_total", "Replies from leads."),
        (
            "auto-replied",
            "drumbeat_auto_replies_total",
            "Automatic answers (out of office).",
        ),
        ("bounced", "drumbeat_bounces_total", "Bounces."),
        (
            "unsubscribed",
            "drumbeat_unsubscribes_total",
            "Leads who unsubscribed.",
        ),
        (
            "complained",
            "drumbeat_complaints_total",
            "Spam complaints.",
        ),
        (
            "meeting-booked",
            "drumbeat_meetings_booked_total",
            "Meetings booked.",
        ),
        (
            "enrolled",
            "drumbeat_enrollments_total",
            "Leads put into a sequence.",
        ),
    ] {
        family(out, name, "counter", help);
        let n = m
            .events
            .iter()
            .find(|(k, _)| k == kind)
            .map_or(0, |(_, n)| *n);
        sample(out, name, &[], n);
    }
}

/// Each IMAP watcher's state (one that stopped renewing its lease by `now` is
/// disconnected), and when it last changed.
fn render_watchers(out: &mut String, m: &MetricsSnapshot, now: i64) {
    family(
        out,
        "drumbeat_inbox_watcher_state",
        "gauge",
        "Each IMAP watcher's connection state: 1 for its current state, 0 for the others.",
    );
    for (mailbox, current, _, until) in &m.watchers {
        // A lease that ran out means no daemon watches the mailbox any more.
        let current = if *until < now {
            "disconnected"
        } else {
            current.as_str()
        };
        for state in WATCHER_STATES {
            sample(
                out,
                "drumbeat_inbox_watcher_state",
                &[("mailbox", mailbox), ("state", state)],
                i64::from(state == current),
            );
        }
    }
    family(
        out,
        "drumbeat_inbox_watcher_updated_timestamp_seconds",
        "gauge",
        "When each IMAP watcher last changed state (unix seconds).",
    );
    for (mailbox, _, updated_at, _) in &m.watchers {
        sample(
            out,
            "drumbeat_inbox_watcher_updated_timestamp_seconds",
            &[("mailbox", mailbox)],
            *updated_at,
        );
    }
}

/// Each mailbox's pause for its health: 1 while paused (with when), 0 while it sends. Every
/// mailbox of config.toml is listed, so an alert can fire on `== 1`.
fn render_health(out: &mut String, mailboxes: &[&str], paused: &[(String, i64)]) {
    family(
        out,
        "drumbeat_mailbox_paused",
        "gauge",
        "1 while a mailbox is paused for its health (drumbeat mailbox resume NAME), else 0.",
    );
    let mut names: Vec<&str> = mailboxes.to_vec();
    names.extend(paused.iter().map(|(m, _)| m.as_str()));
    names.sort_unstable();
    names.dedup();
    for m in &names {
        let on = paused.iter().any(|(p, _)| p == m);
        sample(
            out,
            "drumbeat_mailbox_paused",
            &[("mailbox", m)],
            i64::from(on),
        );
    }
    family(
        out,
        "drumbeat_mailbox_paused_timestamp_seconds",
        "gauge",
        "When each paused mailbox was paused (unix seconds).",
    );
    for (m, at) in paused {
        sample(
            out,
            "drumbeat_mailbox_paused_timestamp_seconds",
            &[("mailbox", m)],
            *at,
        );
    }
}

/// Outgoing webhook deliveries that failed for good.
fn render_webhooks(out: &mut String, m: &MetricsSnapshot) {
    family(
        out,
        "drumbeat_webhook_deliveries_failed",
        "gauge",
        "Outgoing webhook deliveries that failed for good, by endpoint.",
    );
    for (endpoint, n) in &m.webhook_failures {
        sample(
            out,
            "drumbeat_webhook_deliveries_failed",
            &[("endpoint", endpoint)],
            *n,
        );
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {}", escape_help(help));
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: i64) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (i, (k, v)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{k}=\"{}\"", escape_label(v));
        }
        out.push('}');
    }
    let _ = writeln!(out, " {value}");
}

/// A label value as the text format wants it: `\`, `"` and line feeds escaped.
fn escape_label(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

/// HELP text: `\` and line feeds escaped.
fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(escape_label("x\ny"), "x\\ny");
    }

    #[test]
    fn every_sample_follows_its_type_line() {
        let m = MetricsSnapshot {
            sends: vec![("ana \"a\"".into(), "sent", 3)],
            due: 2,
            events: vec![("replied".into(), 1)],
            watchers: vec![("ana".into(), "idle".into(), 10, 20)],
            webhook_failures: vec![("crm".into(), 4)],
            paused: vec![("bob".into(), 12)],
            holders: vec![crate::store::MailboxHolder {
                mailbox: "ana".into(),
                owner: "host-1".into(),
                epoch: 3,
                since: 9,
                until: 30,
            }],
        };
        let mut text = render(&m, 15);
        assert!(
            text.contains("drumbeat_mailbox_holder{mailbox=\"ana\",instance=\"host-1\"} 3\n"),
            "{text}"
        );
        render_health(&mut text, &["ana", "bob"], &m.paused);
        assert!(text.contains("drumbeat_mailbox_paused{mailbox=\"ana\"} 0\n"));
        assert!(text.contains("drumbeat_mailbox_paused{mailbox=\"bob\"} 1\n"));
        assert!(text.contains("drumbeat_mailbox_paused_timestamp_seconds{mailbox=\"bob\"} 12\n"));
        assert!(
            text.contains("drumbeat_sends_total{mailbox=\"ana \\\"a\\\"\",result=\"sent\"} 3\n")
        );
        assert!(text.contains("drumbeat_replies_total 1\n"));
        assert!(text.contains("drumbeat_bounces_total 0\n"));
        assert!(text.contains("drumbeat_inbox_watcher_state{mailbox=\"ana\",state=\"idle\"} 1\n"));
        assert!(text.contains("drumbeat_webhook_deliveries_failed{endpoint=\"crm\"} 4\n"));
        let mut typed = None;
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                typed = rest.split(' ').next().map(str::to_string);
            } else if !line.starts_with('#') {
                let name = line.split(['{', ' ']).next().unwrap_or_default();
                assert_eq!(Some(name), typed.as_deref(), "{line}");
            }
        }
    }
}

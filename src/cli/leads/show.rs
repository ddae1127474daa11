//! `lead show`: a person's fields, enrollments (a pause with its end in the rep's and the
//! lead's zones), touches and timeline (held, forced, task outcomes and notes).

use super::super::output::utc;
use crate::config::Config;
use crate::enrollment::EnrollmentState;
use crate::store::{EnrollmentRow, EventRow, LeadView};

/// `lead show` for a person.
pub(super) fn print_lead(view: &LeadView, config: &Config) {
    let r = &view.lead.record;
    say!("{}  (lead {})", r.email, view.lead.id.0);
    if view.disposable_domain {
        say!("  warning: a disposable (throwaway) mail domain: nobody reads it for long");
    }
    let name = [r.first_name.as_deref(), r.last_name.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    for (k, v) in [
        ("name", Some(name.as_str()).filter(|s| !s.is_empty())),
        ("company", r.company.as_deref()),
        ("title", r.title.as_deref()),
        ("timezone", r.timezone.as_deref()),
        ("phone", r.phone.as_deref()),
        ("owner", r.owner.as_deref()),
        ("account", view.lead.account.as_deref()),
        ("source", view.lead.source.as_deref()),
    ] {
        if let Some(v) = v {
            say!("  {k:<10} {v}");
        }
    }
    for (k, v) in &r.custom {
        say!("  {k:<10} {v}");
    }
    say!("  {:<10} {}", "added", utc(Some(view.lead.created_at)));
    say!("\nEnrollments");
    if view.enrollments.is_empty() {
        say!("  (none)");
    }
    for e in &view.enrollments {
        let mut line = format!("  {:<20} {:<12}", e.sequence_id, e.state.as_str());
        if e.state == EnrollmentState::Paused {
            line.push_str(&paused_until(view, e, config));
        } else if let (Some(step), Some(due)) = (&e.next_step_id, e.next_due_at) {
            line.push_str(&format!(" next: {step} at {}", utc(Some(due))));
        }
        if let Some(reason) = &e.reason {
            line.push_str(&format!(" ({reason})"));
        }
        say!("{line}");
    }
    if !view.touches.is_empty() {
        say!("\nTouches");
        for t in &view.touches {
            say!(
                "  {:<20} {:<16} {:<5} {:<10} {} {}",
                t.sequence_id,
                t.step_id,
                t.kind,
                // A task step is `sent` once the rep has it; what counts is the task's state.
                t.task_state.as_deref().unwrap_or(&t.state),
                utc(t.sent_at),
                match (t.state.as_str(), &t.error) {
                    // Why a step was passed over (its condition).
                    ("skipped", Some(why)) => why.as_str(),
                    _ => t.subject.as_deref().unwrap_or(""),
                }
            );
        }
    }
    print_timeline(view);
}

/// The lead's events, oldest first, with what a forced enrollment or a pause adds.
fn print_timeline(view: &LeadView) {
    say!("\nTimeline");
    for e in &view.events {
        let what = [e.sequence_id.as_deref(), e.step_id.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join("/");
        match (e.data["forced"].as_str(), e.data["by"].as_str()) {
            (Some(rule), Some(by)) => say!(
                "  {}  {:<14} {what} (forced over {rule} by {by})",
                utc(Some(e.at)),
                e.kind
            ),
            _ => say!(
                "  {}  {:<14} {}{}{}{}",
                utc(Some(e.at)),
                e.kind,
                what,
                held_detail(e),
                task_detail(e),
                meeting_detail(e)
            ),
        }
    }
}

/// What a `meeting-booked` event adds to the timeline: its source (calcom, calendly, imip, or
/// what the API was told; `api` when it was told nothing) and the meeting's start when known.
fn meeting_detail(e: &EventRow) -> String {
    if e.kind != "meeting-booked" {
        return String::new();
    }
    let source: String = e.data["source"]
        .as_str()
        .unwrap_or("api")
        .chars()
        .filter(|c| !c.is_control())
        .take(60)
        .collect();
    match e.data["at"].as_i64() {
        Some(t) => format!("  via {source}, meeting at {}", utc(Some(t))),
        None => format!("  via {source}"),
    }
}

/// What a `held` event adds to the timeline: whose pause and until when.
fn held_detail(e: &EventRow) -> String {
    if e.kind != "held" {
        return String::new();
    }
    let until = e.data["until"]
        .as_i64()
        .map_or("resume".into(), |t| utc(Some(t)));
    let text = |key: &str| e.data[key].as_str().unwrap_or("").to_string();
    format!(
        "  waits: {} {} paused until {until} ({})",
        text("scope"),
        text("name"),
        text("reason")
    )
}

/// What a `task-done` event adds to the timeline: skipped or the outcome, and the rep's note.
fn task_detail(e: &EventRow) -> String {
    if e.kind != "task-done" {
        return String::new();
    }
    let mut out = match (e.data["state"].as_str(), e.data["outcome"].as_str()) {
        (Some("skipped"), _) => "  skipped".to_string(),
        (_, Some(outcome)) => format!("  outcome: {outcome}"),
        _ => "  done".to_string(),
    };
    if let Some(note) = e.data["note"].as_str().filter(|n| !n.trim().is_empty()) {
        out.push_str(&format!(
            "  note: {}",
            note.split_whitespace().collect::<Vec<_>>().join(" ")
        ));
    }
    out
}

/// A paused enrollment: until when (an out-of-office return date, in the rep's zone and the
/// lead's) or until resumed, then the step that comes next.
fn paused_until(view: &LeadView, e: &EnrollmentRow, config: &Config) -> String {
    let rep = e
        .mailbox
        .as_deref()
        .or(view.lead.record.owner.as_deref())
        .and_then(|m| config.mailbox(m))
        .map_or(config.timezone, |m| m.timezone);
    let lead = view
        .lead
        .record
        .timezone
        .as_deref()
        .and_then(|t| crate::config::parse_tz(t).ok())
        .unwrap_or(config.timezone);
    let until = e
        .paused_until
        .and_then(|t| chrono::DateTime::<chrono::Utc>::from_timestamp(t, 0))
        .map_or_else(
            || " until resumed (drumbeat resume)".to_string(),
            |t| {
                format!(
                    " until {}",
                    super::super::task_times::in_two_zones(t, rep, lead)
                )
            },
        );
    let next = e
        .next_step_id
        .as_deref()
        .map(|s| format!(", then {s}"))
        .unwrap_or_default();
    format!("{until}{next}")
}

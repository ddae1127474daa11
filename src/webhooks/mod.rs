//! Outgoing webhooks: events from the store, posted to the endpoints of config.toml
//! (`[[webhook]]`), signed per the Standard Webhooks spec (<https://www.standardwebhooks.com/>).
//!
//! This module holds what a delivery *is*: its event type name, its JSON body (standard or
//! Slack-style), its `webhook-id` and its signature. The worker (`worker.rs`) feeds the queue
//! from the events table and posts what is due.

mod worker;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::config::WebhookFormat;
use crate::store::FeedEvent;

pub use crate::config::{SigningKey, signing_key};
pub(crate) use worker::describe;
pub use worker::{Dispatcher, FlushReport, has_endpoints, init_cursors, run};

/// The `type` of a delivery for an event kind: `noun.verb`, identifiers in `[a-z0-9_]` as the
/// spec recommends. A kind this table does not know yet is `drumbeat.KIND`.
pub fn event_type(kind: &str) -> String {
    let known = match kind {
        "received" => "lead.received",
        "assigned" => "lead.assigned",
        "reply-handled" => "reply.handled",
        "enrolled" => "enrollment.started",
        "paused" => "enrollment.paused",
        "resumed" => "enrollment.resumed",
        "stopped" => "enrollment.stopped",
        "finished" => "enrollment.finished",
        "sent" => "email.sent",
        "delivered" => "email.delivered",
        "opened" => "email.opened",
        "clicked" => "email.clicked",
        "bounced" => "email.bounced",
        "complained" => "email.complained",
        "failed" => "email.failed",
        "replied" => "lead.replied",
        "auto-replied" => "lead.auto_replied",
        "unsubscribed" => "lead.unsubscribed",
        "meeting-booked" => "lead.meeting_booked",
        "meeting-cancelled" => "lead.meeting_cancelled",
        "task-due" => "task.due",
        "task-done" => "task.done",
        "suppressed" => "suppression.added",
        "unsuppressed" => "suppression.removed",
        "mailbox-paused" => "mailbox.paused",
        "mailbox-resumed" => "mailbox.resumed",
        "held" => "enrollment.held",
        other => {
            let id: String = other
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect();
            return format!("drumbeat.{id}");
        }
    };
    known.to_string()
}

/// The instant as RFC 3339 in UTC (`2026-12-02T14:00:00Z`).
fn rfc3339(at: i64) -> String {
    DateTime::<Utc>::from_timestamp(at, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The standard body: `{ "type", "timestamp", "data" }`. Every key of `data` is present for
/// every type (null when it does not apply), so one schema serves all types.
pub fn standard_payload(e: &FeedEvent) -> Value {
    json!({
        "type": event_type(&e.kind),
        "timestamp": rfc3339(e.at),
        "data": {
            "event_id": e.id,
            "event": e.kind,
            "lead": {
                "id": e.lead_id,
                "email": e.email,
                "first_name": e.first_name,
                "last_name": e.last_name,
                "company": e.company,
            },
            "enrollment_id": e.enrollment_id,
            "sequence": e.sequence_id,
            "step": e.step_id,
            "mailbox": e.mailbox,
            "touch_id": e.touch_id,
            "message_id": e.message_id,
            "subject": e.subject,
            "details": e.data,
        }
    })
}

/// What happened, in words, for a Slack-style message.
fn phrase(kind: &str) -> &str {
    match kind {
        "received" => "arrived",
        "assigned" => "got a new owner",
        "reply-handled" => "had their reply handled",
        "enrolled" => "was enrolled",
        "sent" => "was sent an email",
        "delivered" => "received an email",
        "opened" => "opened an email",
        "clicked" => "clicked a link",
        "replied" => "replied",
        "auto-replied" => "auto-replied",
        "bounced" => "bounced",
        "unsubscribed" => "unsubscribed",
        "complained" => "marked an email as spam",
        "meeting-booked" => "booked a meeting",
        "meeting-cancelled" => "cancelled a meeting",
        "task-due" => "has a task due",
        "task-done" => "had a task done",
        "paused" => "was paused",
        "resumed" => "was resumed",
        "stopped" => "was stopped",
        "finished" => "finished the sequence",
        "failed" => "had a step fail",
        "suppressed" => "was suppressed",
        "unsuppressed" => "was unsuppressed",
        other => other,
    }
}

/// Escapes the three characters Slack's message format treats as markup.
pub(crate) fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The Slack-style body: `{ "text": "Maria Garcia <maria@…> replied (cold-outbound / intro, mailbox ana)" }`.
pub fn slack_payload(e: &FeedEvent) -> Value {
    if let Some(text) = mailbox_text(e) {
        return json!({ "text": slack_escape(&text) });
    }
    let name = [e.first_name.as_deref(), e.last_name.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let who = match (&e.email, name.is_empty()) {
        (Some(email), true) => email.clone(),
        (Some(email), false) => format!("{name} <{email}>"),
        (None, _) => e
            .lead_id
            .map_or_else(|| "drumbeat".to_string(), |id| format!("lead {id}")),
    };
    let mut text = format!("{} {}", slack_escape(&who), phrase(&e.kind));
    if let Some(c) = &e.company {
        text.push_str(&format!(" ({})", slack_escape(c)));
    }
    let mut wh = Vec::new();
    if let Some(s) = &e.sequence_id {
        wh.push(match &e.step_id {
            Some(step) => format!("{s} / {step}"),
            None => s.clone(),
        });
    }
    if let Some(m) = &e.mailbox {
        wh.push(format!("mailbox {m}"));
    }
    if !wh.is_empty() {
        text.push_str(&format!(" — {}", slack_escape(&wh.join(", "))));
    }
    json!({ "text": text })
}

/// A mailbox's own event (no lead) in words: which mailbox, what and why.
fn mailbox_text(e: &FeedEvent) -> Option<String> {
    let mailbox = e.mailbox.as_deref().unwrap_or("?");
    let why = e.data.get("why").and_then(Value::as_str).unwrap_or("");
    match e.kind.as_str() {
        "mailbox-paused" => Some(format!(
            "Mailbox {mailbox} paused: {why}. Its leads wait. Resume with `drumbeat mailbox resume {mailbox}`"
        )),
        "mailbox-resumed" => Some(format!("Mailbox {mailbox} resumed: it sends again")),
        _ => None,
    }
}

/// The body for an endpoint of `format`, as the bytes that are signed and sent.
pub fn payload(e: &FeedEvent, format: WebhookFormat) -> String {
    match format {
        WebhookFormat::Standard => standard_payload(e),
        WebhookFormat::Slack => slack_payload(e),
    }
    .to_string()
}

/// The `webhook-id` of an event's deliveries: the same on every attempt, and the same for
/// every endpoint, so receivers can use it as an idempotency key. A rep notification's
/// delivery carries the notification's id, negated (see `notify`): `ntf_ID`.
pub fn webhook_id(event_id: i64) -> String {
    if event_id < 0 {
        format!("ntf_{}", event_id.unsigned_abs())
    } else {
        format!("evt_{event_id}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str) -> FeedEvent {
        FeedEvent {
            id: 42,
            at: 1_796_220_000,
            kind: kind.into(),
            lead_id: Some(7),
            email: Some("maria@northwind.example".into()),
            first_name: Some("Maria".into()),
            last_name: Some("Garcia".into()),
            company: Some("Northwind & Co".into()),
            enrollment_id: Some(3),
            sequence_id: Some("cold-outbound".into()),
            step_id: Some("intro".into()),
            mailbox: Some("ana".into()),
            touch_id: Some(9),
            message_id: Some("<abc@example.com>".into()),
            subject: Some("Hello".into()),
            data: json!({}),
        }
    }

    /// The test vector of the spec's reference library (standard-webhooks, libraries/rust).
    #[test]
    fn signature_matches_the_spec_test_vector() {
        let key = SigningKey::parse("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap();
        assert_eq!(
            key.sign(
                "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
                1_649_367_553,
                r#"{"email":"test@example.com","username":"test_user"}"#
            ),
            "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw="
        );
    }

    #[test]
    fn bad_secrets_are_refused_without_repeating_them() {
        for bad in [
            "C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
            "whsec_not base64!",
            "whsec_c2hvcnQ=",
            "",
        ] {
            let err = SigningKey::parse(bad).unwrap_err();
            assert!(
                bad.len() < 8 || !err.contains(&bad[6..]),
                "{err} repeats {bad}"
            );
        }
        assert_eq!(
            format!(
                "{:?}",
                SigningKey::parse("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap()
            ),
            "SigningKey(***)"
        );
    }

    #[test]
    fn every_event_kind_has_a_dotted_type() {
        for k in crate::store::EventKind::ALL {
            let t = event_type(k.as_str());
            assert!(!t.starts_with("drumbeat."), "{k:?} has no type");
            let (noun, verb) = t.split_once('.').expect("noun.verb");
            for part in [noun, verb] {
                assert!(
                    !part.is_empty() && part.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                    "{t}"
                );
            }
        }
        assert_eq!(event_type("new-thing"), "drumbeat.new_thing");
    }

    #[test]
    fn standard_payload_names_the_lead_and_the_touch() {
        let p = standard_payload(&event("replied"));
        assert_eq!(p["type"], "lead.replied");
        assert_eq!(p["timestamp"], "2026-12-02T14:00:00Z");
        assert_eq!(p["data"]["lead"]["email"], "maria@northwind.example");
        assert_eq!(p["data"]["lead"]["id"], 7);
        assert_eq!(p["data"]["message_id"], "<abc@example.com>");
        assert_eq!(p["data"]["sequence"], "cold-outbound");
        // The same keys for every type.
        let sent = standard_payload(&FeedEvent {
            email: None,
            touch_id: None,
            message_id: None,
            ..event("suppressed")
        });
        let keys = |v: &Value| {
            v["data"]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect::<Vec<_>>()
        };
        assert_eq!(keys(&p), keys(&sent));
    }

    #[test]
    fn slack_payload_is_one_escaped_line() {
        let p = slack_payload(&event("meeting-booked"));
        assert_eq!(
            p["text"],
            "Maria Garcia &lt;maria@northwind.example&gt; booked a meeting (Northwind &amp; Co) — cold-outbound / intro, mailbox ana"
        );
    }
}

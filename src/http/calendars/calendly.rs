//! Calendly's webhooks (`POST /webhooks/calendly`): `{"event": …, "payload": {…}}`, signed with
//! `Calendly-Webhook-Signature: t=UNIX,v1=HEX`, where HEX is the HMAC-SHA256 of `UNIX.body`
//! under the subscription's signing key. A timestamp more than five minutes from the daemon's
//! clock is refused (403), so a captured request cannot be replayed later. `invitee.created`
//! is a meeting booked for `payload.email` when that is a lead; the invitee's `uri` makes a
//! retry the same event. Other events are taken and ignored.

use aws_lc_rs::hmac;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;

use super::{Booking, Summary, body, not_configured, rfc3339, secret, signature, take};
use crate::http::providers::{BadPayload, MAX_AGE, check_fresh, hex, str_at, unauthorized};
use crate::http::{ApiError, AppState};

/// The signature header.
pub const HEADER: &str = "calendly-webhook-signature";

/// What a Calendly webhook is about.
pub type CalendlyBooking = Option<Booking>;

pub(super) async fn handle(
    State(state): State<AppState>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<Summary>, ApiError> {
    let Some(cfg) = &state.context().config().calendars.calendly else {
        return Err(not_configured("calendly"));
    };
    let raw = body(raw)?;
    let key = secret(&state, "calendars.calendly.signing_key", &cfg.signing_key)?;
    let given = signature(
        &headers,
        HEADER,
        "no Calendly-Webhook-Signature header: create the webhook subscription with a signing_key and put it in calendars.calendly.signing_key",
    )?;
    let Some(ts) = verify(key.expose(), &raw, given) else {
        return Err(unauthorized(
            "the Calendly-Webhook-Signature does not match the body (check calendars.calendly.signing_key)",
        ));
    };
    check_fresh(ts, state.context().now().timestamp(), MAX_AGE)?;
    take(&state, parse(&raw)?).await
}

/// The signed timestamp when `header` (`t=UNIX,v1=HEX`, in any order, several `v1` allowed
/// while a key rotates) carries the HMAC-SHA256 of `UNIX.body` under `key`; None otherwise.
pub fn verify(key: &str, body: &[u8], header: &str) -> Option<i64> {
    let mut t = None;
    let mut sigs = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = Some(v.trim()),
            Some(("v1", v)) => sigs.push(v.trim()),
            _ => {}
        }
    }
    let t = t?;
    let ts: i64 = t.parse().ok()?;
    let key = hmac::Key::new(hmac::HMAC_SHA256, key.as_bytes());
    let mut msg = Vec::with_capacity(t.len() + 1 + body.len());
    msg.extend_from_slice(t.as_bytes());
    msg.push(b'.');
    msg.extend_from_slice(body);
    sigs.iter()
        .filter_map(|s| hex(s))
        .any(|sig| hmac::verify(&key, &msg, &sig).is_ok())
        .then_some(ts)
}

/// Parses a webhook body; None for events other than `invitee.created`.
pub fn parse(body: &[u8]) -> Result<CalendlyBooking, BadPayload> {
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|e| BadPayload::json(&e))?;
    let Some(event) = str_at(&v, "event") else {
        return Err(BadPayload::new(
            "event",
            "missing or not a string: this is not a Calendly webhook",
        ));
    };
    if event != "invitee.created" {
        return Ok(None);
    }
    let Some(p) = v.get("payload").filter(|p| p.is_object()) else {
        return Err(BadPayload::new("payload", "missing or not an object"));
    };
    let Some(email) = str_at(p, "email") else {
        return Err(BadPayload::new("payload.email", "missing or not a string"));
    };
    let Some(uri) = str_at(p, "uri").filter(|u| !u.trim().is_empty()) else {
        return Err(BadPayload::new("payload.uri", "missing or not a string"));
    };
    let start = p
        .get("scheduled_event")
        .and_then(|e| rfc3339(str_at(e, "start_time")));
    Ok(Some(Booking {
        source: "calendly",
        id: uri.chars().take(400).collect(),
        start,
        emails: vec![email.to_string()],
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sign(key: &str, t: i64, body: &[u8]) -> String {
        let k = hmac::Key::new(hmac::HMAC_SHA256, key.as_bytes());
        let mut msg = format!("{t}.").into_bytes();
        msg.extend_from_slice(body);
        let hex: String = hmac::sign(&k, &msg)
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("t={t},v1={hex}")
    }

    #[test]
    fn the_documented_invitee_is_read_and_only_its_signature_passes() {
        let body = std::fs::read("tests/fixtures/calendars/calendly/invitee_created.json").unwrap();
        let b = parse(&body).unwrap().expect("a booking");
        assert_eq!(b.source, "calendly");
        assert_eq!(b.emails, ["ada@company0.example"]);
        assert_eq!(b.start, Some(1_804_176_000));
        assert!(b.id.ends_with("/invitees/AAAAAAAAAAAAAAAA"));
        let h = sign("key", 1_700_000_000, &body);
        assert_eq!(verify("key", &body, &h), Some(1_700_000_000));
        assert_eq!(verify("other", &body, &h), None);
        assert_eq!(verify("key", &body[1..], &h), None);
        // The timestamp is signed: moving it breaks the signature.
        let moved = h.replace("t=1700000000", "t=1700000300");
        assert_eq!(verify("key", &body, &moved), None);
        assert_eq!(verify("key", &body, "v1=00"), None);
        assert_eq!(verify("key", &body, ""), None);
        let rotated = format!("{},v1=abcd", h);
        assert_eq!(verify("key", &body, &rotated), Some(1_700_000_000));
    }

    #[test]
    fn other_events_are_ignored_and_broken_invitees_name_the_field() {
        let cancel = br#"{"event":"invitee.canceled","payload":{}}"#;
        assert_eq!(parse(cancel).unwrap(), None);
        let no_email = br#"{"event":"invitee.created","payload":{"uri":"u"}}"#;
        assert_eq!(parse(no_email).unwrap_err().field, "payload.email");
        assert_eq!(parse(b"{}").unwrap_err().field, "event");
    }

    proptest! {
        #[test]
        fn parse_and_verify_never_panic(body in proptest::collection::vec(any::<u8>(), 0..400), s in ".{0,80}") {
            let _ = parse(&body);
            let _ = verify("k", &body, &s);
        }
    }
}

//! Cal.com's webhooks (`POST /webhooks/calcom`): `{"triggerEvent": …, "payload": {…}}`, signed
//! with `X-Cal-Signature-256`, the hex HMAC-SHA256 of the raw body under the webhook's secret.
//! `BOOKING_CREATED` is a meeting booked for each attendee (`payload.attendees[].email`) who is
//! a lead; the booking's `uid` makes a retry the same event. Other triggers (`PING`,
//! `BOOKING_CANCELLED`, …) are taken and ignored.

use aws_lc_rs::hmac;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;

use super::{Booking, Summary, body, not_configured, rfc3339, secret, signature, take};
use crate::http::providers::{BadPayload, hex, str_at, unauthorized};
use crate::http::{ApiError, AppState};

/// The signature header.
pub const HEADER: &str = "x-cal-signature-256";

/// What a Cal.com webhook is about.
pub type CalcomBooking = Option<Booking>;

pub(super) async fn handle(
    State(state): State<AppState>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<Summary>, ApiError> {
    let Some(cfg) = &state.context().config().calendars.calcom else {
        return Err(not_configured("calcom"));
    };
    let raw = body(raw)?;
    let key = secret(&state, "calendars.calcom.secret", &cfg.secret)?;
    let given = signature(
        &headers,
        HEADER,
        "no X-Cal-Signature-256 header: set the webhook's secret in Cal.com to calendars.calcom.secret",
    )?;
    if !verify(key.expose(), &raw, given) {
        return Err(unauthorized(
            "the X-Cal-Signature-256 signature does not match the body (check calendars.calcom.secret)",
        ));
    }
    take(&state, parse(&raw)?).await
}

/// Whether `signature` (hex) is the HMAC-SHA256 of `body` under `secret`.
pub fn verify(secret: &str, body: &[u8], signature: &str) -> bool {
    let Some(sig) = hex(signature.trim()) else {
        return false;
    };
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    hmac::verify(&key, body, &sig).is_ok()
}

/// Parses a webhook body; None for triggers other than `BOOKING_CREATED`.
pub fn parse(body: &[u8]) -> Result<CalcomBooking, BadPayload> {
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|e| BadPayload::json(&e))?;
    let Some(trigger) = str_at(&v, "triggerEvent") else {
        return Err(BadPayload::new(
            "triggerEvent",
            "missing or not a string: this is not a Cal.com webhook",
        ));
    };
    if trigger != "BOOKING_CREATED" {
        return Ok(None);
    }
    let Some(p) = v.get("payload").filter(|p| p.is_object()) else {
        return Err(BadPayload::new("payload", "missing or not an object"));
    };
    let Some(uid) = str_at(p, "uid").filter(|u| !u.trim().is_empty()) else {
        return Err(BadPayload::new("payload.uid", "missing or not a string"));
    };
    let Some(attendees) = p.get("attendees").and_then(serde_json::Value::as_array) else {
        return Err(BadPayload::new(
            "payload.attendees",
            "missing or not a list",
        ));
    };
    let emails = attendees
        .iter()
        .filter_map(|a| str_at(a, "email"))
        .map(str::to_string)
        .collect();
    Ok(Some(Booking {
        source: "calcom",
        id: uid.chars().take(400).collect(),
        start: rfc3339(str_at(p, "startTime")),
        emails,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sign(secret: &str, body: &[u8]) -> String {
        let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
        hmac::sign(&key, body)
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    #[test]
    fn the_documented_booking_is_read_and_only_its_signature_passes() {
        let body = std::fs::read("tests/fixtures/calendars/calcom/booking_created.json").unwrap();
        let b = parse(&body).unwrap().expect("a booking");
        assert_eq!(b.source, "calcom");
        assert_eq!(b.id, "bFJeNb2uX8ANpT3JL5EfXw");
        assert_eq!(b.emails, ["ada@company0.example"]);
        assert_eq!(b.start, Some(1_804_176_000));
        let sig = sign("whsec", &body);
        assert!(verify("whsec", &body, &sig));
        assert!(verify("whsec", &body, &sig.to_uppercase()));
        assert!(!verify("whsec2", &body, &sig));
        assert!(!verify("whsec", &body[1..], &sig));
        assert!(!verify("whsec", &body, &sig[..60]));
        assert!(!verify("whsec", &body, ""));
    }

    #[test]
    fn other_triggers_are_ignored_and_broken_bookings_name_the_field() {
        let ping = br#"{"triggerEvent":"PING","payload":{}}"#;
        assert_eq!(parse(ping).unwrap(), None);
        let no_uid = br#"{"triggerEvent":"BOOKING_CREATED","payload":{"attendees":[]}}"#;
        assert_eq!(parse(no_uid).unwrap_err().field, "payload.uid");
        assert_eq!(parse(b"[1]").unwrap_err().field, "triggerEvent");
        assert_eq!(parse(b"{").unwrap_err().field, "body");
    }

    proptest! {
        #[test]
        fn parse_and_verify_never_panic(body in proptest::collection::vec(any::<u8>(), 0..400), s in ".{0,80}") {
            let _ = parse(&body);
            let _ = verify("k", &body, &s);
        }
    }
}

//! Postmark's webhooks (`POST /webhooks/postmark`): one JSON record per request, told apart by
//! `RecordType` (Delivery, Bounce, SpamComplaint, Open, Click). Postmark signs nothing: the
//! mechanism it documents is HTTP Basic credentials written into the webhook URL
//! (`https://USER:PASS@host/webhooks/postmark`), checked here in constant time. Use https.
//!
//! `MessageID` is Postmark's own id, so our Message-ID comes back in
//! `Metadata["drumbeat-message-id"]` (the `X-PM-Metadata-drumbeat-message-id` header added at
//! send time).

use aws_lc_rs::constant_time::verify_slices_are_equal;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::{BadPayload, body, message_id, not_configured, recipient, record, secret, str_at};
use crate::http::{ApiError, AppState};
use crate::store::{ProviderEvent, ProviderKind};

/// The metadata key that carries our Message-ID.
pub const METADATA: &str = "drumbeat-message-id";

/// Bounce types that mean the address will never take mail (Postmark's `Type`).
const HARD: &[&str] = &[
    "HardBounce",
    "BadEmailAddress",
    "ManuallyDeactivated",
    "SpamComplaint",
    "Unsubscribe",
];

pub(super) async fn handle(
    State(state): State<AppState>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let Some(cfg) = &state.context().config().providers.postmark else {
        return Err(not_configured("postmark"));
    };
    let password = secret(&state, "providers.postmark.password", &cfg.password)?;
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !authorized(given, &cfg.username, password.expose()) {
        let mut r = ApiError::new(
            StatusCode::UNAUTHORIZED,
            "wrong or missing credentials: put providers.postmark's username and password in the webhook URL (https://USER:PASS@host/webhooks/postmark)",
        )
        .into_response();
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Basic realm=\"drumbeat\""),
        );
        return Ok(r);
    }
    let raw = body(raw)?;
    let (events, ignored) = match parse(&raw)? {
        Some(e) => (vec![e], 0),
        None => (Vec::new(), 1),
    };
    Ok(record(&state, events, ignored).await?.into_response())
}

/// Whether an `Authorization` header carries exactly these Basic credentials.
pub fn authorized(header: &str, username: &str, password: &str) -> bool {
    let Some(b64) = header
        .strip_prefix("Basic ")
        .or_else(|| header.strip_prefix("basic "))
    else {
        return false;
    };
    let Ok(given) = STANDARD.decode(b64.trim()) else {
        return false;
    };
    let expected = format!("{username}:{password}");
    // Compare digests so that the lengths tell nothing either.
    let d = |b: &[u8]| aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b);
    verify_slices_are_equal(d(&given).as_ref(), d(expected.as_bytes()).as_ref()).is_ok()
}

/// Parses one record; None for record types we do not act on (SubscriptionChange, Inbound).
pub fn parse(body: &[u8]) -> Result<Option<ProviderEvent>, BadPayload> {
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|e| BadPayload::json(&e))?;
    if !v.is_object() {
        return Err(BadPayload::new("body", "expected a JSON object"));
    }
    let Some(record_type) = str_at(&v, "RecordType") else {
        return Err(BadPayload::new("RecordType", "missing or not a string"));
    };
    let pm_id = str_at(&v, "MessageID").unwrap_or("");
    let mut data = serde_json::Map::new();
    if !pm_id.is_empty() {
        data.insert("postmark_message_id".into(), pm_id.into());
    }
    let Some((kind, event_id, to)) = record_kind(record_type, &v, pm_id, &mut data)? else {
        return Ok(None);
    };
    if pm_id.is_empty() && kind != ProviderKind::BounceHard && kind != ProviderKind::Complained {
        return Err(BadPayload::new("MessageID", "missing or not a string"));
    }
    let event_id: String = event_id.chars().take(400).collect();
    Ok(Some(ProviderEvent {
        provider: "postmark",
        event_id,
        kind,
        message_id: v
            .get("Metadata")
            .and_then(|m| str_at(m, METADATA))
            .and_then(message_id),
        recipient: str_at(&v, to).and_then(recipient),
        token: None,
        data: serde_json::Value::Object(data),
    }))
}

/// The kind of a Postmark record, its event id (what makes a retry the same event), and the
/// key that holds its recipient, with what else it tells in `data`; None for record types we
/// do not act on.
fn record_kind(
    record_type: &str,
    v: &serde_json::Value,
    pm_id: &str,
    data: &mut serde_json::Map<String, serde_json::Value>,
) -> Result<Option<(ProviderKind, String, &'static str)>, BadPayload> {
    let when = |k: &str| str_at(v, k).unwrap_or("");
    let (kind, event_id, to) = match record_type {
        "Delivery" => (
            ProviderKind::Delivered,
            format!("delivery:{pm_id}:{}", when("Recipient")),
            "Recipient",
        ),
        "Bounce" | "SpamComplaint" => {
            let t = str_at(v, "Type").unwrap_or("");
            let Some(id) = v.get("ID").filter(|i| i.is_number() || i.is_string()) else {
                return Err(BadPayload::new("ID", "missing: a bounce has an ID"));
            };
            data.insert("type".into(), t.into());
            for k in ["Description", "Details"] {
                if let Some(s) = str_at(v, k) {
                    data.insert(k.to_lowercase(), s.into());
                }
            }
            let kind = if record_type == "SpamComplaint" || t == "SpamComplaint" {
                ProviderKind::Complained
            } else if HARD.contains(&t) {
                ProviderKind::BounceHard
            } else {
                ProviderKind::BounceSoft
            };
            let id = match id {
                serde_json::Value::String(s) => s.clone(),
                n => n.to_string(),
            };
            (kind, format!("bounce:{id}"), "Email")
        }
        "Open" => {
            if let Some(ua) = str_at(v, "UserAgent") {
                data.insert("user_agent".into(), ua.into());
            }
            // Postmark does not flag Apple Mail Privacy Protection; its FirstOpen is kept.
            if let Some(first) = v.get("FirstOpen").and_then(serde_json::Value::as_bool) {
                data.insert("first_open".into(), first.into());
            }
            (
                ProviderKind::Opened,
                format!("open:{pm_id}:{}", when("ReceivedAt")),
                "Recipient",
            )
        }
        "Click" => {
            let link = when("OriginalLink");
            data.insert("url".into(), link.into());
            (
                ProviderKind::Clicked,
                format!("click:{pm_id}:{}:{link}", when("ReceivedAt")),
                "Recipient",
            )
        }
        _ => return Ok(None),
    };
    Ok(Some((kind, event_id, to)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn only_the_exact_credentials_pass() {
        let good = format!("Basic {}", STANDARD.encode("postmark:s3cret"));
        assert!(authorized(&good, "postmark", "s3cret"));
        assert!(!authorized(&good, "postmark", "s3cre"));
        assert!(!authorized(
            &format!("Basic {}", STANDARD.encode("postmark:s3cret2")),
            "postmark",
            "s3cret"
        ));
        assert!(!authorized("Bearer x", "postmark", "s3cret"));
        assert!(!authorized("", "postmark", "s3cret"));
    }

    #[test]
    fn the_documented_records_map_to_ours() {
        let dir = std::path::Path::new("tests/fixtures/providers/postmark");
        let mut names: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        names.sort();
        let mut seen = Vec::new();
        for path in names {
            let e = parse(&std::fs::read(&path).unwrap()).unwrap();
            let Some(e) = e else {
                seen.push("none");
                continue;
            };
            assert_eq!(
                e.message_id.as_deref(),
                Some("<1700000000.abc.db@example.com>"),
                "{path:?}"
            );
            seen.push(e.kind.as_str());
        }
        assert_eq!(
            seen,
            [
                "bounce-hard",
                "bounce-soft",
                "clicked",
                "delivered",
                "opened",
                "complained",
                "none"
            ]
        );
    }

    proptest! {
        #[test]
        fn parse_and_auth_never_panic(body in proptest::collection::vec(any::<u8>(), 0..400), h in ".{0,80}") {
            let _ = parse(&body);
            let _ = authorized(&h, "u", "p");
        }

        #[test]
        fn parse_never_panics_on_record_shaped_json(rt in "[A-Za-z]{0,14}", s in ".{0,40}", id in any::<i64>()) {
            let body = serde_json::json!({"RecordType": rt, "Type": s, "ID": id, "MessageID": s,
                "Metadata": {"drumbeat-message-id": s}, "Email": s, "Recipient": s});
            let _ = parse(body.to_string().as_bytes());
        }
    }
}

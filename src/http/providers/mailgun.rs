//! Mailgun's webhooks (`POST /webhooks/mailgun`): one JSON event per request,
//! `{"signature": {"timestamp", "token", "signature"}, "event-data": {…}}`. The signature is
//! hex HMAC-SHA256 under the account's webhook signing key over `timestamp + token`; it does
//! not cover the event, so a token is taken once only (a replayed signature with another
//! event is refused) and the timestamp must be fresh.
//!
//! Our Message-ID comes back in `event-data.user-variables.drumbeat_message_id`
//! (`X-Mailgun-Variables`, added at send time), else in `event-data.message.headers.message-id`
//! (without angle brackets).

use aws_lc_rs::hmac;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;

use super::{
    BadPayload, MAX_AGE, Summary, body, check_fresh, hex, message_id, not_configured, recipient,
    record, secret, str_at, unauthorized,
};
use crate::http::{ApiError, AppState};
use crate::store::{ProviderEvent, ProviderKind};

pub use crate::send::provider_tags::MAILGUN_VARIABLE as VARIABLE;

pub(super) async fn handle(
    State(state): State<AppState>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<Summary>, ApiError> {
    let Some(cfg) = &state.context().config().providers.mailgun else {
        return Err(not_configured("mailgun"));
    };
    let raw = body(raw)?;
    let key = secret(&state, "providers.mailgun.signing_key", &cfg.signing_key)?;
    let webhook = parse(&raw)?;
    let s = &webhook.signature;
    if !verify(key.expose(), &s.timestamp, &s.token, &s.signature) {
        return Err(unauthorized(
            "the Mailgun signature does not match (check providers.mailgun.signing_key: the HTTP webhook signing key)",
        ));
    }
    let ts: i64 = s
        .timestamp
        .trim()
        .parse()
        .map_err(|_| unauthorized("signature.timestamp is not unix seconds"))?;
    let now = state.context().now().timestamp();
    check_fresh(ts, now, MAX_AGE)?;
    // The token is spent whatever the event, even one we ignore: the signature does not cover
    // the event, so an ignored event's signature must not carry another event later.
    let fresh = state
        .context()
        .store()
        .spend_provider_token(
            "mailgun",
            &s.token,
            &webhook.event_id,
            now,
            now - 2 * MAX_AGE,
        )
        .await
        .map_err(ApiError::store)?;
    if !fresh {
        tracing::warn!(
            provider = "mailgun",
            "provider webhook refused: its one-time token was used before"
        );
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "this signature's token was already used by another event (a replay)",
        ));
    }
    let (events, ignored) = match webhook.event {
        Some(e) => (vec![e], 0),
        None => (Vec::new(), 1),
    };
    record(&state, events, ignored).await
}

/// The `signature` object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// Unix seconds, as a string.
    pub timestamp: String,
    /// A random token, new for each webhook.
    pub token: String,
    /// Hex HMAC-SHA256 of `timestamp + token`.
    pub signature: String,
}

impl Signature {
    /// The `signature` object's fields: strings of 1 to 256 bytes (or numbers).
    fn parse(sig: &serde_json::Value) -> Result<Signature, BadPayload> {
        let field = |k: &str| -> Result<String, BadPayload> {
            match sig.get(k) {
                Some(serde_json::Value::String(s)) if !s.is_empty() && s.len() <= 256 => {
                    Ok(s.clone())
                }
                Some(serde_json::Value::Number(n)) => Ok(n.to_string()),
                _ => Err(BadPayload::new(
                    format!("signature.{k}"),
                    "missing, empty or too long",
                )),
            }
        };
        Ok(Signature {
            timestamp: field("timestamp")?,
            token: field("token")?,
            signature: field("signature")?,
        })
    }
}

/// A parsed webhook: its signature and the event (None when of a kind we do not act on).
#[derive(Debug, Clone, PartialEq)]
pub struct Webhook {
    /// The signature.
    pub signature: Signature,
    /// `event-data.id` (empty when missing): what a token is spent with.
    pub event_id: String,
    /// The event.
    pub event: Option<ProviderEvent>,
}

/// Whether `signature` is the HMAC of `timestamp + token` under `key` (compared in
/// constant time).
pub fn verify(key: &str, timestamp: &str, token: &str, signature: &str) -> bool {
    let Some(sig) = hex(signature.trim()) else {
        return false;
    };
    let key = hmac::Key::new(hmac::HMAC_SHA256, key.as_bytes());
    let mut msg = Vec::with_capacity(timestamp.len() + token.len());
    msg.extend_from_slice(timestamp.as_bytes());
    msg.extend_from_slice(token.as_bytes());
    hmac::verify(&key, &msg, &sig).is_ok()
}

/// Parses a webhook body.
pub fn parse(body: &[u8]) -> Result<Webhook, BadPayload> {
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|e| BadPayload::json(&e))?;
    let Some(sig) = v.get("signature") else {
        return Err(BadPayload::new(
            "signature",
            "missing: this is not a Mailgun webhook (or an old, form-encoded one)",
        ));
    };
    let signature = Signature::parse(sig)?;
    let Some(e) = v.get("event-data").filter(|e| e.is_object()) else {
        return Err(BadPayload::new("event-data", "missing or not an object"));
    };
    let event_id = str_at(e, "id")
        .filter(|s| s.len() <= 200)
        .unwrap_or_default()
        .to_string();
    let Some(event) = str_at(e, "event") else {
        return Err(BadPayload::new(
            "event-data.event",
            "missing or not a string",
        ));
    };
    let mut data = serde_json::Map::new();
    let Some(kind) = event_kind(event, e, &mut data) else {
        return Ok(Webhook {
            signature,
            event_id,
            event: None,
        });
    };
    let Some(id) = str_at(e, "id").filter(|s| !s.is_empty() && s.len() <= 200) else {
        return Err(BadPayload::new(
            "event-data.id",
            "missing, empty or longer than 200 characters",
        ));
    };
    let ours = e
        .get("user-variables")
        .and_then(|u| str_at(u, VARIABLE))
        .and_then(message_id);
    let header = e
        .get("message")
        .and_then(|m| m.get("headers"))
        .and_then(|h| str_at(h, "message-id"))
        .and_then(message_id);
    Ok(Webhook {
        event: Some(ProviderEvent {
            provider: "mailgun",
            event_id: id.to_string(),
            kind,
            message_id: ours.or(header),
            recipient: str_at(e, "recipient").and_then(recipient),
            token: Some(signature.token.clone()),
            data: serde_json::Value::Object(data),
        }),
        signature,
        event_id,
    })
}

/// The kind of a Mailgun event, with what else it tells in `data`; None for kinds we do not
/// act on.
fn event_kind(
    event: &str,
    e: &serde_json::Value,
    data: &mut serde_json::Map<String, serde_json::Value>,
) -> Option<ProviderKind> {
    let kind = match event {
        "delivered" => ProviderKind::Delivered,
        "complained" => ProviderKind::Complained,
        "failed" => {
            let severity = str_at(e, "severity").unwrap_or("permanent");
            data.insert("severity".into(), severity.into());
            if let Some(r) = str_at(e, "reason") {
                data.insert("reason".into(), r.into());
            }
            if let Some(ds) = e.get("delivery-status") {
                for k in ["code", "message", "description"] {
                    if let Some(x) = ds.get(k).filter(|x| x.is_string() || x.is_number()) {
                        data.insert(format!("status_{k}"), x.clone());
                    }
                }
            }
            if severity == "temporary" {
                ProviderKind::BounceSoft
            } else {
                ProviderKind::BounceHard
            }
        }
        "opened" => {
            let info = e.get("client-info");
            let bot = info.and_then(|i| str_at(i, "bot")).unwrap_or("");
            data.insert("proxy".into(), (!bot.is_empty()).into());
            if let Some(ua) = info.and_then(|i| str_at(i, "user-agent")) {
                data.insert("user_agent".into(), ua.into());
            }
            ProviderKind::Opened
        }
        "clicked" => {
            if let Some(u) = str_at(e, "url") {
                data.insert("url".into(), u.into());
            }
            ProviderKind::Clicked
        }
        _ => return None,
    };
    Some(kind)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sign(key: &str, ts: &str, token: &str) -> String {
        let k = hmac::Key::new(hmac::HMAC_SHA256, key.as_bytes());
        let mut msg = ts.as_bytes().to_vec();
        msg.extend_from_slice(token.as_bytes());
        hmac::sign(&k, &msg)
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    #[test]
    fn the_hmac_of_timestamp_and_token_verifies() {
        let sig = sign(
            "key-1",
            "1529006854",
            "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0",
        );
        assert!(verify(
            "key-1",
            "1529006854",
            "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0",
            &sig
        ));
        assert!(!verify(
            "key-2",
            "1529006854",
            "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0",
            &sig
        ));
        assert!(!verify(
            "key-1",
            "1529006855",
            "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0",
            &sig
        ));
        assert!(!verify(
            "key-1",
            "1529006854",
            "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0",
            &sig[..62]
        ));
    }

    #[test]
    fn the_documented_events_map_to_ours() {
        let dir = std::path::Path::new("tests/fixtures/providers/mailgun");
        let mut seen = Vec::new();
        let mut names: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        names.sort();
        for path in names {
            let w = parse(&std::fs::read(&path).unwrap()).unwrap();
            let e = w.event.unwrap();
            assert_eq!(
                e.message_id.as_deref(),
                Some("<20130503182626.18666.16540@sandbox.mailgun.org>"),
                "{path:?}"
            );
            seen.push(e.kind.as_str());
        }
        assert_eq!(
            seen,
            [
                "clicked",
                "complained",
                "delivered",
                "bounce-hard",
                "bounce-soft",
                "opened"
            ]
        );
    }

    proptest! {
        #[test]
        fn parse_and_verify_never_panic(body in proptest::collection::vec(any::<u8>(), 0..400), s in ".{0,80}") {
            let _ = parse(&body);
            let _ = verify("k", &s, &s, &s);
        }

        #[test]
        fn parse_never_panics_on_webhook_shaped_json(event in "[a-z]{0,10}", s in ".{0,40}", n in any::<i64>()) {
            let body = serde_json::json!({
                "signature": {"timestamp": n, "token": s, "signature": s},
                "event-data": {"event": event, "id": s, "severity": s, "recipient": s,
                    "message": {"headers": {"message-id": s}}, "client-info": {"bot": s}}
            });
            let _ = parse(body.to_string().as_bytes());
        }
    }
}

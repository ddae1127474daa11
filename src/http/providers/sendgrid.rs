//! SendGrid's Event Webhook (`POST /webhooks/sendgrid`): a JSON array of events, signed with
//! the Signed Event Webhook: ECDSA P-256 / SHA-256 over `timestamp + body`, the signature
//! (base64 DER) in `X-Twilio-Email-Event-Webhook-Signature` and the timestamp (unix seconds)
//! in `X-Twilio-Email-Event-Webhook-Timestamp`; the verification key SendGrid shows is a
//! base64 DER SubjectPublicKeyInfo.
//!
//! Our Message-ID comes back as the `drumbeat_message_id` unique argument (`X-SMTPAPI`, added
//! at send time), else as `smtp-id`.

use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1, UnparsedPublicKey};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::{
    BadPayload, MAX_AGE, Summary, body, check_fresh, message_id, not_configured, recipient, record,
    secret, str_at, unauthorized,
};
use crate::http::{ApiError, AppState};
use crate::store::{ProviderEvent, ProviderKind};

/// The signature header.
pub const SIGNATURE_HEADER: &str = "X-Twilio-Email-Event-Webhook-Signature";
/// The timestamp header.
pub const TIMESTAMP_HEADER: &str = "X-Twilio-Email-Event-Webhook-Timestamp";
pub use crate::send::provider_tags::SENDGRID_ARG as ARG;

pub(super) async fn handle(
    State(state): State<AppState>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<Summary>, ApiError> {
    let Some(cfg) = &state.context().config().providers.sendgrid else {
        return Err(not_configured("sendgrid"));
    };
    let raw = body(raw)?;
    let key = secret(&state, "providers.sendgrid.public_key", &cfg.public_key)?;
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(sig), Some(ts)) = (header(SIGNATURE_HEADER), header(TIMESTAMP_HEADER)) else {
        return Err(unauthorized(format!(
            "missing {SIGNATURE_HEADER} or {TIMESTAMP_HEADER}: turn on the Signed Event Webhook"
        )));
    };
    if !verify(key.expose(), ts, &raw, sig) {
        return Err(unauthorized(
            "the SendGrid signature does not match the body",
        ));
    }
    let ts: i64 = ts
        .trim()
        .parse()
        .map_err(|_| unauthorized(format!("{TIMESTAMP_HEADER} is not unix seconds")))?;
    check_fresh(ts, state.context().now().timestamp(), MAX_AGE)?;
    let (events, ignored) = parse(&raw)?;
    record(&state, events, ignored).await
}

/// The verification key as SendGrid shows it (base64 of DER SubjectPublicKeyInfo), or as
/// PEM; None when it is neither.
pub fn decode_key(key: &str) -> Option<Vec<u8>> {
    let b64: String = key
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .flat_map(|l| l.chars())
        .filter(|c| !c.is_whitespace())
        .collect();
    STANDARD.decode(b64).ok().filter(|k| !k.is_empty())
}

/// Whether `signature` (base64 DER ECDSA) signs `timestamp + body` under `key`.
pub fn verify(key: &str, timestamp: &str, body: &[u8], signature: &str) -> bool {
    let Some(key) = decode_key(key) else {
        tracing::error!("providers.sendgrid.public_key is not base64 (or PEM)");
        return false;
    };
    let Ok(sig) = STANDARD.decode(signature.trim()) else {
        return false;
    };
    let mut signed = Vec::with_capacity(timestamp.len() + body.len());
    signed.extend_from_slice(timestamp.as_bytes());
    signed.extend_from_slice(body);
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &key)
        .verify(&signed, &sig)
        .is_ok()
}

/// The events of a webhook body, and how many were of kinds we do not act on.
pub fn parse(body: &[u8]) -> Result<(Vec<ProviderEvent>, usize), BadPayload> {
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|e| BadPayload::json(&e))?;
    let Some(items) = v.as_array() else {
        return Err(BadPayload::new("body", "expected a JSON array of events"));
    };
    let mut out = Vec::new();
    let mut ignored = 0;
    for (i, e) in items.iter().enumerate() {
        let field = |f: &str| format!("[{i}].{f}");
        let Some(event) = str_at(e, "event") else {
            return Err(BadPayload::new(field("event"), "missing or not a string"));
        };
        let mut data = serde_json::Map::new();
        let kind = match event {
            "delivered" => ProviderKind::Delivered,
            "deferred" => ProviderKind::Deferred,
            "spamreport" => ProviderKind::Complained,
            "bounce" => {
                // "bounce" is permanent; "blocked" is a temporary refusal.
                let t = str_at(e, "type").unwrap_or("bounce");
                for k in ["reason", "status", "bounce_classification", "type"] {
                    if let Some(s) = str_at(e, k) {
                        data.insert(k.into(), s.into());
                    }
                }
                if t == "blocked" {
                    ProviderKind::BounceSoft
                } else {
                    ProviderKind::BounceHard
                }
            }
            "open" => {
                let machine = e
                    .get("sg_machine_open")
                    .and_then(serde_json::Value::as_bool);
                data.insert("proxy".into(), machine.unwrap_or(false).into());
                if let Some(ua) = str_at(e, "useragent") {
                    data.insert("user_agent".into(), ua.into());
                }
                ProviderKind::Opened
            }
            "click" => {
                if let Some(u) = str_at(e, "url") {
                    data.insert("url".into(), u.into());
                }
                ProviderKind::Clicked
            }
            _ => {
                ignored += 1;
                continue;
            }
        };
        let Some(id) = str_at(e, "sg_event_id").filter(|s| !s.is_empty() && s.len() <= 200) else {
            return Err(BadPayload::new(
                field("sg_event_id"),
                "missing, empty or longer than 200 characters",
            ));
        };
        let mid = str_at(e, super::sendgrid::ARG)
            .or_else(|| str_at(e, "smtp-id"))
            .and_then(message_id);
        out.push(ProviderEvent {
            provider: "sendgrid",
            event_id: id.to_string(),
            kind,
            message_id: mid,
            recipient: str_at(e, "email").and_then(recipient),
            token: None,
            data: serde_json::Value::Object(data),
        });
    }
    Ok((out, ignored))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
    use proptest::prelude::*;

    fn keypair() -> (EcdsaKeyPair, String) {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let kp = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref()).unwrap();
        let spki = aws_lc_rs::encoding::AsDer::<aws_lc_rs::encoding::PublicKeyX509Der>::as_der(
            kp.public_key(),
        )
        .unwrap();
        let b64 = STANDARD.encode(spki.as_ref());
        (kp, b64)
    }

    #[test]
    fn a_good_signature_verifies_and_any_change_does_not() {
        let (kp, key) = keypair();
        let body = br#"[{"event":"delivered"}]"#;
        let mut signed = b"1700000000".to_vec();
        signed.extend_from_slice(body);
        let sig = kp.sign(&SystemRandom::new(), &signed).unwrap();
        let sig = STANDARD.encode(sig.as_ref());
        assert!(verify(&key, "1700000000", body, &sig));
        assert!(!verify(&key, "1700000001", body, &sig));
        assert!(!verify(
            &key,
            "1700000000",
            br#"[{"event":"bounce"}]"#,
            &sig
        ));
        assert!(!verify(&key, "1700000000", body, &sig[..sig.len() - 8]));
        assert!(!verify("not a key", "1700000000", body, &sig));
        let pem = format!("-----BEGIN PUBLIC KEY-----\n{key}\n-----END PUBLIC KEY-----\n");
        assert!(verify(&pem, "1700000000", body, &sig));
    }

    #[test]
    fn the_documented_events_map_to_ours() {
        let body = std::fs::read("tests/fixtures/providers/sendgrid/events.json").unwrap();
        let (events, ignored) = parse(&body).unwrap();
        let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(
            kinds,
            [
                "deferred",
                "delivered",
                "opened",
                "clicked",
                "bounce-hard",
                "bounce-soft",
                "complained"
            ]
        );
        assert_eq!(ignored, 3);
        assert_eq!(events[2].data["proxy"], true);
        assert_eq!(
            events[1].message_id.as_deref(),
            Some("<14c5d75ce93.dfd.64b469@ismtpd-555>")
        );
    }

    #[test]
    fn bad_bodies_name_the_field() {
        assert_eq!(parse(b"{").unwrap_err().field, "body");
        assert_eq!(parse(b"{}").unwrap_err().field, "body");
        assert_eq!(
            parse(br#"[{"event":"open"}]"#).unwrap_err().field,
            "[0].sg_event_id"
        );
    }

    proptest! {
        #[test]
        fn parse_and_verify_never_panic(body in proptest::collection::vec(any::<u8>(), 0..400), sig in ".{0,120}", ts in ".{0,20}") {
            let _ = parse(&body);
            let _ = verify("MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE", &ts, &body, &sig);
        }

        #[test]
        fn parse_never_panics_on_event_shaped_json(event in "[a-z]{0,12}", id in ".{0,30}", extra in ".{0,40}") {
            let body = serde_json::json!([{ "event": event, "sg_event_id": id, "smtp-id": extra, "email": extra, "type": extra }]);
            let _ = parse(body.to_string().as_bytes());
        }
    }
}

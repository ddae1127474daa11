//! Amazon SES events through SNS (`POST /webhooks/ses`): an SNS HTTP(S) subscription posts
//! `Notification`s whose `Message` is the SES event (`eventType` for event publishing,
//! `notificationType` for identity notifications), and a `SubscriptionConfirmation` first.
//!
//! Authenticity is the SNS message signature: SignatureVersion 1 is SHA1withRSA and 2 is
//! SHA256withRSA over the canonical string of the message's fields, checked with the
//! certificate at `SigningCertURL`. That certificate is fetched (and cached) only from
//! `https://sns.<region>.amazonaws.com/…`; with `[providers.ses] certificates` set, only the
//! pinned certificates are trusted and nothing is fetched. Only the configured topics are
//! taken. SNS keeps a message's Timestamp across its retries, which its delivery policy spreads
//! over up to an hour, so messages older than [`MAX_SNS_AGE`] (an hour and five minutes) are
//! refused rather than the five minutes of the other providers; a replay inside that window is
//! recorded once (the SNS MessageId is the event's id).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use aws_lc_rs::signature::{
    RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY, RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey,
};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use super::{
    BadPayload, body, check_fresh, message_id, not_configured, recipient, record, str_at,
    unauthorized,
};
use crate::config::SesConfig;
use crate::http::{ApiError, AppState};
use crate::store::{ProviderEvent, ProviderKind};

/// How old an SNS message may be, in seconds (see the module's doc).
pub const MAX_SNS_AGE: i64 = 3600 + 300;

pub use crate::send::provider_tags::SES_HEADER as HEADER;

/// An SNS message, as posted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnsMessage {
    /// Notification, SubscriptionConfirmation, UnsubscribeConfirmation.
    pub kind: String,
    /// The SNS message id.
    pub message_id: String,
    /// The topic.
    pub topic_arn: String,
    /// Subject, when the publisher gave one.
    pub subject: Option<String>,
    /// The payload (the SES event, as JSON text).
    pub message: String,
    /// ISO 8601.
    pub timestamp: String,
    /// "1" or "2".
    pub signature_version: String,
    /// Base64.
    pub signature: String,
    /// Where the signing certificate is.
    pub signing_cert_url: String,
    /// For confirmations.
    pub subscribe_url: Option<String>,
    /// For confirmations.
    pub token: Option<String>,
}

pub(super) async fn handle(
    State(state): State<AppState>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let Some(cfg) = &state.context().config().providers.ses else {
        return Err(not_configured("ses"));
    };
    let raw = body(raw)?;
    let m = parse_sns(&raw)?;
    if !cfg.topic_arns.contains(&m.topic_arn) {
        tracing::warn!(topic = %m.topic_arn, "SES webhook: a message from a topic not in providers.ses.topic_arns");
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!("topic {} is not in providers.ses.topic_arns", m.topic_arn),
        ));
    }
    let keys = signing_keys(cfg, &m.signing_cert_url).await?;
    if !verify(&m, &keys) {
        return Err(unauthorized("the SNS signature does not match the message"));
    }
    let ts = chrono::DateTime::parse_from_rfc3339(&m.timestamp)
        .map_err(|_| ApiError::field("Timestamp", "not an ISO 8601 time"))?;
    check_fresh(
        ts.timestamp(),
        state.context().now().timestamp(),
        MAX_SNS_AGE,
    )?;
    match m.kind.as_str() {
        "Notification" => {
            let (events, ignored) = match parse_event(&m.message_id, &m.message)? {
                Some(e) => (vec![e], 0),
                None => (Vec::new(), 1),
            };
            Ok(record(&state, events, ignored).await?.into_response())
        }
        "SubscriptionConfirmation" => confirm(cfg, &m).await,
        _ => {
            tracing::info!(topic = %m.topic_arn, kind = %m.kind, "SES webhook: SNS message noted");
            Ok(Json(serde_json::json!({ "noted": m.kind })).into_response())
        }
    }
}

/// Confirms a subscription by fetching its SubscribeURL (only on an SNS host), else logs it
/// for the admin.
async fn confirm(cfg: &SesConfig, m: &SnsMessage) -> Result<Response, ApiError> {
    let url = m.subscribe_url.as_deref().unwrap_or("");
    if !cfg.confirm_subscriptions || !sns_url(url, false) {
        tracing::warn!(topic = %m.topic_arn, subscribe_url = %url, "SES webhook: subscription NOT confirmed automatically; open this URL to confirm it");
        return Ok(
            Json(serde_json::json!({ "subscription": "logged", "subscribe_url": url }))
                .into_response(),
        );
    }
    match fetch(url).await {
        Ok(_) => {
            tracing::info!(topic = %m.topic_arn, "SES webhook: subscription confirmed");
            Ok(Json(serde_json::json!({ "subscription": "confirmed" })).into_response())
        }
        Err(e) => {
            tracing::warn!(topic = %m.topic_arn, subscribe_url = %url, "SES webhook: cannot confirm the subscription ({e}); open this URL to confirm it");
            Err(ApiError::new(
                StatusCode::BAD_GATEWAY,
                "cannot reach the SubscribeURL; SNS will send the confirmation again",
            ))
        }
    }
}

/// The public keys (DER SubjectPublicKeyInfo) to check a message with: the pinned
/// certificates, else the one at `url` when it is an SNS host.
async fn signing_keys(cfg: &SesConfig, url: &str) -> Result<Vec<Vec<u8>>, ApiError> {
    if let Some(path) = &cfg.certificates {
        let keys = pinned(path);
        if keys.is_empty() {
            tracing::error!(
                "providers.ses.certificates: no certificate could be read from {}",
                path.display()
            );
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "providers.ses.certificates holds no readable certificate; see the daemon's log",
            ));
        }
        return Ok(keys);
    }
    if !sns_url(url, true) {
        return Err(unauthorized(format!(
            "SigningCertURL {url:?} is not an https://sns.<region>.amazonaws.com/….pem address"
        )));
    }
    static CACHE: OnceLock<Mutex<HashMap<String, Vec<u8>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(k) = cache.lock().ok().and_then(|c| c.get(url).cloned()) {
        return Ok(vec![k]);
    }
    let pem = fetch(url).await.map_err(|e| {
        tracing::warn!("SES webhook: cannot fetch the signing certificate {url}: {e}");
        ApiError::new(
            StatusCode::BAD_GATEWAY,
            "cannot fetch the SNS signing certificate; SNS will retry",
        )
    })?;
    let keys = spki_of_pem(&pem);
    let Some(k) = keys.into_iter().next() else {
        return Err(unauthorized(
            "the SigningCertURL does not hold a certificate",
        ));
    };
    if let Ok(mut c) = cache.lock() {
        c.insert(url.to_string(), k.clone());
    }
    Ok(vec![k])
}

async fn fetch(url: &str) -> Result<Vec<u8>, String> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .https_only(true)
        .build()
        .map_err(|e| e.to_string())?;
    let r = client.get(url).send().await.map_err(|e| e.to_string())?;
    if !r.status().is_success() {
        return Err(format!("HTTP {}", r.status()));
    }
    Ok(r.bytes().await.map_err(|e| e.to_string())?.to_vec())
}

/// The public keys of the pinned certificates: a PEM file, or every file of a folder.
fn pinned(path: &Path) -> Vec<Vec<u8>> {
    let files: Vec<_> = if path.is_dir() {
        std::fs::read_dir(path)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default()
    } else {
        vec![path.to_path_buf()]
    };
    files
        .iter()
        .filter_map(|f| std::fs::read(f).ok())
        .flat_map(|pem| spki_of_pem(&pem))
        .collect()
}

/// The SubjectPublicKeyInfo (DER) of each certificate in a PEM text.
pub fn spki_of_pem(pem: &[u8]) -> Vec<Vec<u8>> {
    CertificateDer::pem_slice_iter(pem)
        .flatten()
        .filter_map(|der| {
            webpki::EndEntityCert::try_from(&der)
                .ok()
                .map(|c| c.subject_public_key_info().as_ref().to_vec())
        })
        .collect()
}

/// Whether `url` is `https://sns.<region>.amazonaws.com[.cn]/…` (and a `.pem` when `pem`).
pub fn sns_url(url: &str, pem: bool) -> bool {
    let Some(rest) = url.strip_prefix("https://") else {
        return false;
    };
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let region = host.strip_prefix("sns.").and_then(|h| {
        h.strip_suffix(".amazonaws.com")
            .or_else(|| h.strip_suffix(".amazonaws.com.cn"))
    });
    let Some(region) = region else {
        return false;
    };
    let region_ok = !region.is_empty()
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    region_ok && (!pem || (path.ends_with(".pem") && !path.contains(['?', '#'])))
}

/// The string SNS signs: chosen fields as `Name\nvalue\n`, in this order.
pub fn canonical(m: &SnsMessage) -> String {
    let mut fields: Vec<(&str, &str)> = vec![("Message", &m.message), ("MessageId", &m.message_id)];
    if m.kind == "Notification" {
        if let Some(s) = &m.subject {
            fields.push(("Subject", s));
        }
        fields.push(("Timestamp", &m.timestamp));
    } else {
        fields.push(("SubscribeURL", m.subscribe_url.as_deref().unwrap_or("")));
        fields.push(("Timestamp", &m.timestamp));
        fields.push(("Token", m.token.as_deref().unwrap_or("")));
    }
    fields.push(("TopicArn", &m.topic_arn));
    fields.push(("Type", &m.kind));
    fields.iter().map(|(k, v)| format!("{k}\n{v}\n")).collect()
}

/// Whether the message's signature verifies under one of `keys`.
pub fn verify(m: &SnsMessage, keys: &[Vec<u8>]) -> bool {
    let alg = match m.signature_version.as_str() {
        "1" => &RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
        "2" => &RSA_PKCS1_2048_8192_SHA256,
        _ => return false,
    };
    let Ok(sig) = STANDARD.decode(m.signature.trim()) else {
        return false;
    };
    let text = canonical(m);
    keys.iter().any(|k| {
        UnparsedPublicKey::new(alg, k)
            .verify(text.as_bytes(), &sig)
            .is_ok()
    })
}

/// Parses the SNS envelope.
pub fn parse_sns(body: &[u8]) -> Result<SnsMessage, BadPayload> {
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|e| BadPayload::json(&e))?;
    let req = |k: &str| -> Result<String, BadPayload> {
        str_at(&v, k)
            .map(str::to_string)
            .ok_or_else(|| BadPayload::new(k, "missing or not a string (is this an SNS message?)"))
    };
    let kind = req("Type")?;
    let confirmation = kind != "Notification";
    Ok(SnsMessage {
        message_id: req("MessageId")?,
        topic_arn: req("TopicArn")?,
        subject: str_at(&v, "Subject").map(str::to_string),
        message: req("Message")?,
        timestamp: req("Timestamp")?,
        signature_version: req("SignatureVersion")?,
        signature: req("Signature")?,
        signing_cert_url: req("SigningCertURL").or_else(|_| req("SigningCertUrl"))?,
        subscribe_url: if confirmation {
            Some(req("SubscribeURL")?)
        } else {
            None
        },
        token: if confirmation {
            Some(req("Token")?)
        } else {
            None
        },
        kind,
    })
}

/// Parses the SES event inside a Notification; None for kinds we do not act on (Send,
/// Reject, Rendering Failure, Subscription).
pub fn parse_event(sns_id: &str, message: &str) -> Result<Option<ProviderEvent>, BadPayload> {
    let v: serde_json::Value = serde_json::from_str(message)
        .map_err(|e| BadPayload::new("Message", format!("the SES event is not valid JSON: {e}")))?;
    let Some(t) = str_at(&v, "eventType").or_else(|| str_at(&v, "notificationType")) else {
        return Err(BadPayload::new(
            "Message.eventType",
            "missing (neither eventType nor notificationType)",
        ));
    };
    let mut data = serde_json::Map::new();
    let Some((kind, to)) = event_kind(t, &v, &mut data) else {
        return Ok(None);
    };
    let Some(mail) = v.get("mail").filter(|m| m.is_object()) else {
        return Err(BadPayload::new("Message.mail", "missing or not an object"));
    };
    if let Some(id) = str_at(mail, "messageId") {
        data.insert("ses_message_id".into(), id.into());
    }
    let header = |name: &str| {
        mail.get("headers")
            .and_then(serde_json::Value::as_array)
            .into_iter()
            .flatten()
            .find(|h| str_at(h, "name").is_some_and(|n| n.eq_ignore_ascii_case(name)))
            .and_then(|h| str_at(h, "value"))
    };
    let mid = header(HEADER)
        .and_then(message_id)
        .or_else(|| header("Message-ID").and_then(message_id))
        .or_else(|| {
            mail.get("commonHeaders")
                .and_then(|c| str_at(c, "messageId"))
                .and_then(message_id)
        });
    let to = to.or_else(|| {
        mail.get("destination")
            .and_then(serde_json::Value::as_array)
            .and_then(|a| a.first())
            .and_then(serde_json::Value::as_str)
            .map(str::to_string)
    });
    Ok(Some(ProviderEvent {
        provider: "ses",
        event_id: sns_id.chars().take(200).collect(),
        kind,
        message_id: mid,
        recipient: to.as_deref().and_then(recipient),
        token: None,
        data: serde_json::Value::Object(data),
    }))
}

/// The kind of an SES event, with what else it tells in `data`, and the recipient a bounce
/// or complaint names; None for kinds we do not act on.
fn event_kind(
    t: &str,
    v: &serde_json::Value,
    data: &mut serde_json::Map<String, serde_json::Value>,
) -> Option<(ProviderKind, Option<String>)> {
    let first = |list: &str, key: &str| {
        v.get(list)
            .and_then(|b| b.get(key))
            .and_then(serde_json::Value::as_array)
            .and_then(|a| a.first())
            .and_then(|r| str_at(r, "emailAddress"))
            .map(str::to_string)
    };
    let mut to = None;
    let kind = match t {
        "Delivery" => ProviderKind::Delivered,
        "DeliveryDelay" => ProviderKind::Deferred,
        "Complaint" => {
            to = first("complaint", "complainedRecipients");
            ProviderKind::Complained
        }
        "Bounce" => {
            let b = v.get("bounce");
            let bt = b.and_then(|b| str_at(b, "bounceType")).unwrap_or("");
            data.insert("type".into(), bt.into());
            if let Some(s) = b.and_then(|b| str_at(b, "bounceSubType")) {
                data.insert("subtype".into(), s.into());
            }
            to = first("bounce", "bouncedRecipients");
            if bt == "Permanent" {
                ProviderKind::BounceHard
            } else {
                ProviderKind::BounceSoft
            }
        }
        "Open" => {
            if let Some(ua) = v.get("open").and_then(|o| str_at(o, "userAgent")) {
                data.insert("user_agent".into(), ua.into());
            }
            ProviderKind::Opened
        }
        "Click" => {
            if let Some(l) = v.get("click").and_then(|o| str_at(o, "link")) {
                data.insert("url".into(), l.into());
            }
            ProviderKind::Clicked
        }
        _ => return None,
    };
    Some((kind, to))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::rsa::KeySize;
    use aws_lc_rs::signature::{KeyPair, RSA_PKCS1_SHA256, RsaKeyPair};
    use proptest::prelude::*;

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!("tests/fixtures/providers/ses/{name}")).unwrap()
    }

    #[test]
    fn a_signature_over_the_canonical_string_verifies_and_a_changed_field_does_not() {
        let kp = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
        let key = kp.public_key().as_ref().to_vec();
        let mut m = parse_sns(&fixture("notification.json")).unwrap();
        m.signature_version = "2".into();
        let mut sig = vec![0; kp.public_modulus_len()];
        kp.sign(
            &RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            canonical(&m).as_bytes(),
            &mut sig,
        )
        .unwrap();
        m.signature = STANDARD.encode(&sig);
        assert!(verify(&m, std::slice::from_ref(&key)));
        let mut changed = m.clone();
        changed.message.push(' ');
        assert!(!verify(&changed, std::slice::from_ref(&key)));
        let mut v1 = m.clone();
        v1.signature_version = "1".into();
        assert!(!verify(&v1, std::slice::from_ref(&key)));
        let mut short = m.clone();
        short.signature.truncate(40);
        assert!(!verify(&short, &[key]));
    }

    #[test]
    fn the_canonical_string_follows_the_sns_field_order() {
        let m = parse_sns(&fixture("subscription-confirmation.json")).unwrap();
        let c = canonical(&m);
        let names: Vec<&str> = c.lines().step_by(2).collect();
        // The Message has a line break of its own: count field names instead.
        assert!(c.starts_with("Message\nYou have chosen"));
        for f in [
            "\nMessageId\n",
            "\nSubscribeURL\n",
            "\nTimestamp\n",
            "\nToken\n",
            "\nTopicArn\n",
            "\nType\nSubscriptionConfirmation\n",
        ] {
            assert!(c.contains(f), "{f:?} in {c}");
        }
        assert!(!names.is_empty());
    }

    #[test]
    fn only_sns_hosts_are_trusted_for_certificates_and_confirmations() {
        assert!(sns_url(
            "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-f3e.pem",
            true
        ));
        assert!(sns_url(
            "https://sns.cn-north-1.amazonaws.com.cn/x.pem",
            true
        ));
        assert!(sns_url(
            "https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription",
            false
        ));
        assert!(!sns_url("http://sns.us-west-2.amazonaws.com/x.pem", true));
        assert!(!sns_url(
            "https://sns.us-west-2.amazonaws.com.evil.com/x.pem",
            true
        ));
        assert!(!sns_url(
            "https://evil.com/sns.us-west-2.amazonaws.com/x.pem",
            true
        ));
        assert!(!sns_url(
            "https://sns.us-west-2.amazonaws.com:8443/x.pem",
            true
        ));
        assert!(!sns_url(
            "https://user@sns.us-west-2.amazonaws.com/x.pem",
            true
        ));
        assert!(!sns_url("https://sns.us-west-2.amazonaws.com/x.txt", true));
    }

    #[test]
    fn the_documented_ses_events_map_to_ours() {
        for (name, kind) in [
            ("bounce.json", "bounce-hard"),
            ("bounce-transient.json", "bounce-soft"),
            ("complaint.json", "complained"),
            ("delivery.json", "delivered"),
            ("open.json", "opened"),
            ("click.json", "clicked"),
        ] {
            let text = String::from_utf8(fixture(name)).unwrap();
            let e = parse_event("sns-1", &text).unwrap().unwrap();
            assert_eq!(e.kind.as_str(), kind, "{name}");
            assert_eq!(
                e.message_id.as_deref(),
                Some("<1700000000.abc.db@example.com>")
            );
            assert_eq!(e.recipient.as_deref(), Some("recipient@example.com"));
        }
        assert!(
            parse_event("x", r#"{"eventType":"Send","mail":{}}"#)
                .unwrap()
                .is_none()
        );
        assert_eq!(parse_event("x", "{").unwrap_err().field, "Message");
    }

    proptest! {
        #[test]
        fn parsers_and_checks_never_panic(body in proptest::collection::vec(any::<u8>(), 0..400), s in ".{0,80}") {
            let _ = parse_sns(&body);
            let _ = parse_event("id", &s);
            let _ = sns_url(&s, true);
            let _ = spki_of_pem(&body);
        }

        #[test]
        fn event_parser_never_panics_on_ses_shaped_json(t in "[A-Za-z]{0,12}", s in ".{0,40}") {
            let v = serde_json::json!({"eventType": t, "bounce": {"bounceType": s, "bouncedRecipients": [{"emailAddress": s}]},
                "mail": {"headers": [{"name": "Message-ID", "value": s}], "destination": [s], "commonHeaders": {"messageId": s}}});
            let _ = parse_event("id", &v.to_string());
        }
    }
}

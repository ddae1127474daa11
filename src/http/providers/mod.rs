//! Email providers' webhooks in: `POST /webhooks/sendgrid`, `/webhooks/mailgun`,
//! `/webhooks/postmark` and `/webhooks/ses` (Amazon SES through SNS). Each request is
//! authenticated the provider's way (a signature over the body or a one-time token, Basic
//! credentials for Postmark, an SNS message signature for SES), stale timestamps are refused,
//! and every event is committed to the store before the 2xx, once: a provider's retry of the
//! same event changes nothing.
//!
//! Events are matched to our touches by our Message-ID, which each provider echoes either
//! itself or through the custom arguments added at send time ([`tag_message`]).

mod mailgun;
mod postmark;
mod sendgrid;
mod ses;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::routing::post;
use serde::Serialize;

use super::{ApiError, AppState};
use crate::config::Secret;
use crate::store::{ProviderEvent, ProviderOutcome};

pub use crate::send::provider_tags::tag_message;

/// How old a signed timestamp may be (SendGrid, Mailgun), either way, in seconds.
pub const MAX_AGE: i64 = 5 * 60;

/// The provider routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/webhooks/sendgrid", post(sendgrid::handle))
        .route("/webhooks/mailgun", post(mailgun::handle))
        .route("/webhooks/postmark", post(postmark::handle))
        .route("/webhooks/ses", post(ses::handle))
}

/// What a webhook request did, for the provider's log and ours.
#[derive(Debug, Default, Serialize)]
pub struct Summary {
    /// Events recorded now.
    pub accepted: usize,
    /// Events already recorded (the provider's retries).
    pub duplicates: usize,
    /// Events of kinds drumbeat does not act on (processed, accepted, unsubscribed…).
    pub ignored: usize,
}

/// A webhook body that does not parse: what and where, for the 400.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadPayload {
    /// The JSON field at fault (`event-data.message.headers`), or `body`.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl BadPayload {
    pub(super) fn new(field: impl Into<String>, message: impl Into<String>) -> BadPayload {
        BadPayload {
            field: field.into(),
            message: message.into(),
        }
    }

    /// A body that is not JSON, with serde's line and column.
    pub(super) fn json(e: &serde_json::Error) -> BadPayload {
        BadPayload::new("body", format!("the body is not valid JSON: {e}"))
    }
}

impl From<BadPayload> for ApiError {
    fn from(b: BadPayload) -> ApiError {
        ApiError::field(b.field, b.message)
    }
}

/// The body, or a JSON 413/400 when it is too large or cannot be read.
pub(super) fn body(b: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    b.map_err(|e| {
        let status = e.status();
        let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
            format!(
                "the body is larger than {} bytes; ask the provider for smaller batches",
                super::BODY_LIMIT
            )
        } else {
            format!("cannot read the body: {e}")
        };
        ApiError::new(status, message)
    })
}

/// 404 for a provider that config.toml does not set up.
fn not_configured(provider: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!("the {provider} webhook is not configured ([providers.{provider}] in config.toml)"),
    )
}

/// A provider's key, read now; 503 when it cannot be (logged, never shown).
pub(super) fn secret(
    state: &AppState,
    what: &str,
    source: &crate::config::SecretSource,
) -> Result<Secret, ApiError> {
    source.resolve(&state.context().config().dir).map_err(|e| {
        tracing::error!("{what}: {e}");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{what} cannot be read; see the daemon's log"),
        )
    })
}

/// 401: the request does not prove it comes from the provider.
pub(super) fn unauthorized(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, message)
}

/// Refuses a signed timestamp (unix seconds) further than `max_age` from `now`.
pub(super) fn check_fresh(ts: i64, now: i64, max_age: i64) -> Result<(), ApiError> {
    let age = now.saturating_sub(ts);
    if age.saturating_abs() > max_age {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "the signed timestamp {ts} is {age}s away from now; more than {max_age}s is refused as a replay (check the server's clock)"
            ),
        ));
    }
    Ok(())
}

/// Records each event (each in its own committed transaction) and counts what happened.
async fn record(
    state: &AppState,
    events: Vec<ProviderEvent>,
    ignored: usize,
) -> Result<Json<Summary>, ApiError> {
    let mut summary = Summary {
        ignored,
        ..Summary::default()
    };
    let now = state.context().now().timestamp();
    for e in &events {
        match state
            .context()
            .store()
            .record_provider_event(e, now)
            .await
            .map_err(ApiError::store)?
        {
            ProviderOutcome::Recorded { touch, action } => {
                tracing::info!(
                    provider = e.provider,
                    kind = e.kind.as_str(),
                    touch,
                    action,
                    "provider event"
                );
                summary.accepted += 1;
            }
            ProviderOutcome::Duplicate => summary.duplicates += 1,
            ProviderOutcome::ReplayedToken => {
                tracing::warn!(
                    provider = e.provider,
                    "provider webhook refused: its one-time token was used before"
                );
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "this signature's token was already used by another event (a replay)",
                ));
            }
        }
    }
    Ok(Json(summary))
}

/// Our Message-ID as stored (`<id@domain>`) from what a provider echoes (with or without the
/// angle brackets); None when it cannot be one.
pub fn message_id(raw: &str) -> Option<String> {
    let s = raw.trim();
    let s = s.strip_prefix('<').unwrap_or(s);
    let s = s.strip_suffix('>').unwrap_or(s);
    let ok = !s.is_empty()
        && s.len() <= 900
        && s.contains('@')
        && s.chars()
            .all(|c| c.is_ascii_graphic() && !matches!(c, '<' | '>'));
    ok.then(|| format!("<{s}>"))
}

/// A recipient address as leads store it (lowercased), when it looks like one.
fn recipient(raw: &str) -> Option<String> {
    let s = raw.trim();
    (s.contains('@') && s.len() <= 320 && !s.contains(char::is_whitespace))
        .then(|| s.to_lowercase())
}

/// Lowercase hex to bytes; None on anything else.
pub(super) fn hex(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    if !b.len().is_multiple_of(2) {
        return None;
    }
    let nib = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    b.chunks(2)
        .map(|p| Some(nib(p[0])? << 4 | nib(p[1])?))
        .collect()
}

/// A string field of a JSON object, trimmed of nothing.
pub(super) fn str_at<'a>(v: &'a serde_json::Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(serde_json::Value::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_get_their_angle_brackets() {
        assert_eq!(message_id("a.b@x.com"), Some("<a.b@x.com>".into()));
        assert_eq!(message_id(" <a.b@x.com> "), Some("<a.b@x.com>".into()));
        assert_eq!(message_id("<>"), None);
        assert_eq!(message_id("no-at"), None);
        assert_eq!(message_id("a b@x"), None);
    }

    #[test]
    fn hex_decodes_and_refuses_odd_or_foreign_text() {
        assert_eq!(hex("00ff10"), Some(vec![0, 255, 16]));
        assert_eq!(hex("0"), None);
        assert_eq!(hex("zz"), None);
        assert_eq!(hex("é"), None);
    }

    #[test]
    fn timestamps_older_or_newer_than_five_minutes_are_refused() {
        assert!(check_fresh(1000, 1000 + MAX_AGE, MAX_AGE).is_ok());
        assert!(check_fresh(1000, 1001 + MAX_AGE, MAX_AGE).is_err());
        assert!(check_fresh(1001 + MAX_AGE, 1000, MAX_AGE).is_err());
        assert!(check_fresh(i64::MIN / 2, 0, MAX_AGE).is_err());
    }
}

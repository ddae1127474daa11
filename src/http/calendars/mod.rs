//! Scheduling tools' webhooks in: `POST /webhooks/calcom` (Cal.com `BOOKING_CREATED`) and
//! `POST /webhooks/calendly` (Calendly `invitee.created`). Each request is authenticated the
//! tool's way (an HMAC-SHA256 over the raw body, Calendly's also over a fresh timestamp), and a
//! booking whose attendee is a lead stops that lead with outcome `meeting-booked`, as
//! `POST /api/events/meeting-booked` does. The event's data names the source, the booking and
//! the meeting's start, so the tool's retry of the same booking records nothing again.

mod calcom;
mod calendly;

use axum::Json;
use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde::Serialize;

use super::providers::{body, secret, unauthorized};
use super::{ApiError, AppState};
use crate::lead::Email;

pub use calcom::{CalcomBooking, parse as parse_calcom, verify as verify_calcom};
pub use calendly::{CalendlyBooking, parse as parse_calendly, verify as verify_calendly};

/// The calendar routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/webhooks/calcom", post(calcom::handle))
        .route("/webhooks/calendly", post(calendly::handle))
}

/// A booking as the tools tell it: who, which booking, and when the meeting starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Booking {
    /// `calcom` or `calendly`.
    pub source: &'static str,
    /// The tool's id of the booking (Cal.com's uid, Calendly's invitee URI).
    pub id: String,
    /// The meeting's start (unix seconds), when given and readable.
    pub start: Option<i64>,
    /// The attendees' addresses, as given.
    pub emails: Vec<String>,
}

/// What a calendar webhook request did.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct Summary {
    /// Leads whose meeting was recorded now.
    pub recorded: usize,
    /// Leads whose meeting was already recorded (the tool's retry).
    pub duplicates: usize,
    /// Attendees who are no lead, or events drumbeat does not act on.
    pub ignored: usize,
    /// The sequences stopped.
    pub stopped: Vec<String>,
}

/// 404 for a tool that config.toml does not set up.
fn not_configured(tool: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!("the {tool} webhook is not configured ([calendars.{tool}] in config.toml)"),
    )
}

/// The signature header `name`, or 401 with `missing` (how to set the secret up) when the
/// request has none.
fn signature<'h>(headers: &'h HeaderMap, name: &str, missing: &str) -> Result<&'h str, ApiError> {
    match headers.get(name).and_then(|v| v.to_str().ok()) {
        Some(v) if !v.trim().is_empty() => Ok(v),
        _ => Err(unauthorized(missing)),
    }
}

/// Records a verified request's booking, or counts an event drumbeat does not act on.
async fn take(state: &AppState, booking: Option<Booking>) -> Result<Json<Summary>, ApiError> {
    match booking {
        Some(b) => record(state, b).await,
        None => Ok(Json(Summary {
            ignored: 1,
            ..Summary::default()
        })),
    }
}

/// An RFC 3339 time as unix seconds.
fn rfc3339(s: Option<&str>) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s?.trim())
        .ok()
        .map(|t| t.timestamp())
}

/// Records the booking for each attendee who is a lead; others are ignored (logged).
async fn record(state: &AppState, booking: Booking) -> Result<Json<Summary>, ApiError> {
    let ctx = state.context();
    let store = ctx.store();
    let now = ctx.now().timestamp();
    let mut data = serde_json::Map::new();
    data.insert("source".into(), booking.source.into());
    data.insert("booking".into(), booking.id.clone().into());
    if let Some(at) = booking.start {
        data.insert("at".into(), at.into());
    }
    let data = serde_json::Value::Object(data);
    let mut summary = Summary::default();
    for raw in &booking.emails {
        let lead = match Email::parse(raw) {
            Ok(email) => store.lead_by_email(&email).await.map_err(ApiError::store)?,
            Err(_) => None,
        };
        let Some(lead) = lead else {
            tracing::info!(
                source = booking.source,
                booking = booking.id,
                "a booking's attendee is no lead; ignored"
            );
            summary.ignored += 1;
            continue;
        };
        let done = store
            .record_meeting_booked(lead.id, &data, now)
            .await
            .map_err(ApiError::store)?;
        tracing::info!(
            source = booking.source,
            lead = lead.id.0,
            stopped = done.stopped.len(),
            recorded = done.recorded,
            "meeting booked"
        );
        if done.recorded {
            summary.recorded += 1;
        } else {
            summary.duplicates += 1;
        }
        summary.stopped.extend(done.stopped);
    }
    Ok(Json(summary))
}

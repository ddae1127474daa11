//! The API (`/api/…`, a bearer token from `[http] api_token`): new leads from web forms and
//! CRMs, a lead's whole story, and booked meetings from scheduling tools. Without a token in
//! config.toml the API does not exist (404). Bodies are JSON, at most [`API_BODY_LIMIT`];
//! every error is JSON naming the field at fault.

use std::collections::BTreeSet;

use axum::Json;
use axum::Router;
use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use serde_json::Value;

mod enrollment;

use enrollment::{EnrollmentResult, enrollment_result};

use super::{ApiError, AppState};
use crate::catalog::{Catalog, Sequence};
use crate::config::Config;
use crate::import::intake::{Arrival, Intake, TRIES, assign_owner, resolve_owner, retry_transient};
use crate::lead::{Email, LeadRecord, lead_from_named};
use crate::policy::EnrollRules;
use crate::store::{Admission, LeadId, Store, StoreError, UpsertOutcome};

/// The largest body the API takes: a batch of a few hundred leads.
pub const API_BODY_LIMIT: usize = 256 * 1024;

/// The most leads one request may carry.
pub const MAX_LEADS: usize = 1000;

/// Where API leads come from (`leads.source`).
const SOURCE: &str = "api";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/leads", post(post_leads))
        .route("/api/leads/{email}", get(get_lead))
        .route("/api/events/meeting-booked", post(meeting_booked))
        .layer(DefaultBodyLimit::max(API_BODY_LIMIT))
}

/// A request that carried the API's bearer token.
pub struct Authorized;

impl FromRequestParts<AppState> for Authorized {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let Some(token) = state.api_token() else {
            return Err(ApiError::new(StatusCode::NOT_FOUND, "no such endpoint").into_response());
        };
        let given = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim);
        let (message, challenge) = match given {
            None => (
                "this endpoint needs the API token: Authorization: Bearer <token>",
                "Bearer",
            ),
            Some(given)
                if aws_lc_rs::constant_time::verify_slices_are_equal(
                    given.as_bytes(),
                    token.expose().as_bytes(),
                )
                .is_ok() =>
            {
                return Ok(Authorized);
            }
            Some(_) => ("the API token is wrong", "Bearer error=\"invalid_token\""),
        };
        let mut r = ApiError::new(StatusCode::UNAUTHORIZED, message).into_response();
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(challenge),
        );
        Err(r)
    }
}

/// A JSON body whose every rejection is a JSON error: 415 without a JSON content type, 413
/// over the size limit, 400 for text that is not JSON.
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the body must be JSON, sent with Content-Type: application/json",
        ),
        JsonRejection::JsonSyntaxError(e) => ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("the body is not valid JSON: {}", e.body_text()),
        ),
        JsonRejection::JsonDataError(e) => ApiError::new(StatusCode::BAD_REQUEST, e.body_text()),
        JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "the body is larger than {} KiB; send fewer leads per request",
                    API_BODY_LIMIT / 1024
                ),
            )
        }
        other => ApiError::new(other.status(), other.body_text()),
    }
}

/// A lead as sent: the prefix of its fields in messages (`leads[3].`) and its fields.
type RawLead = (String, serde_json::Map<String, Value>);

/// A lead read, with its position in the request.
type Numbered = (usize, LeadRecord);

/// One lead's answer to `POST /api/leads`.
#[derive(Debug, Serialize)]
struct LeadResult {
    id: Option<LeadId>,
    email: String,
    /// created, updated, unchanged, or forgotten (the person asked to be forgotten: not stored).
    lead: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    enrollment: Option<EnrollmentResult>,
    /// An owner that names no mailbox (kept as written, as an import does).
    #[serde(skip_serializing_if = "Option::is_none")]
    warning: Option<String>,
    /// The field that says the person opted out (`unsubscribed`, `Do Not Email`, …): the
    /// address went on the suppression list and is never emailed.
    #[serde(skip_serializing_if = "Option::is_none")]
    opted_out: Option<String>,
}

/// `POST /api/leads`: one lead (`{"email": …, "first_name": …, "sequence": …}`) or a batch
/// (`{"leads": [{…}, …], "sequence": …, "owner": …}`). Fields are read as a CSV import reads
/// its columns; the first bad one fails the request and nothing is stored. The leads then go
/// through the import's lead intake.
async fn post_leads(
    _: Authorized,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Response, ApiError> {
    let ctx = state.context();
    let config = ctx.config();
    let store = ctx.store();
    let Value::Object(mut body) = body else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "the body must be a JSON object: one lead, or {\"leads\": [...]}",
        ));
    };
    let catalog = ctx.catalog();
    let seq = match optional_string(&mut body, "sequence")? {
        None => None,
        Some(id) => Some(find_sequence(&catalog, &id)?),
    };
    let force = force(&mut body)?;
    let (batch, raw, owner) = split_leads(body)?;
    let owner = option_owner(config, owner)?;
    let (mut results, mut leads) = read_leads(config, raw, owner.as_deref())?;
    let opted_out: Vec<(Email, String)> = leads
        .iter()
        .filter_map(|(i, lead)| Some((lead.email.clone(), results[*i].opted_out.clone()?)))
        .collect();
    // Concurrent requests lock leads in one order (by address), so they never deadlock.
    leads.sort_by(|a, b| a.1.email.as_str().cmp(b.1.email.as_str()));
    let (positions, leads): (Vec<usize>, Vec<LeadRecord>) = leads.into_iter().unzip();
    let now = ctx.now().timestamp();
    let rules = EnrollRules::new(&config.enrollment, &catalog);
    let intake = Intake {
        store,
        config,
        source: SOURCE,
        sequence: seq,
        admission: Admission {
            rules: &rules,
            force,
            by: SOURCE,
        },
        dry_run: false,
        tries: TRIES,
        now,
    };
    intake
        .suppress_opted_out(opted_out, ("field", "an API request"))
        .await
        .map_err(ApiError::store)?;
    let taken = intake.take(leads).await.map_err(ApiError::store)?;
    if !batch && matches!(taken.leads.first(), Some(Arrival::Forgotten(_))) {
        return Err(ApiError {
            status: StatusCode::CONFLICT,
            message: "this person asked to be forgotten; the lead is not stored".into(),
            field: Some("email".into()),
        });
    }
    let (created, woke) =
        fill_results(store, seq, now, positions, taken.leads, &mut results).await?;
    if woke {
        // The first step is due now or within the scheduler's longest sleep: wake it.
        state.wake();
    }
    Ok(leads_response(batch, created, results))
}

/// Writes what became of each stored lead into its answer (by its position in the request);
/// says whether a lead or an enrollment was created, and whether a first step is due soon
/// enough to wake the scheduler.
async fn fill_results(
    store: &Store,
    seq: Option<&Sequence>,
    now: i64,
    positions: Vec<usize>,
    arrivals: Vec<Arrival>,
    results: &mut [LeadResult],
) -> Result<(bool, bool), ApiError> {
    let mut created = false;
    let mut woke = false;
    for (pos, arrival) in positions.into_iter().zip(arrivals) {
        let Arrival::Stored(stored) = arrival else {
            continue;
        };
        let r = &mut results[pos];
        r.id = Some(stored.id);
        r.lead = match stored.lead {
            UpsertOutcome::New => "created",
            UpsertOutcome::Updated => "updated",
            UpsertOutcome::Unchanged => "unchanged",
        };
        created |= stored.lead == UpsertOutcome::New;
        let (Some(seq), Some((outcome, due))) = (seq, stored.enrollment) else {
            continue;
        };
        if outcome.enrollment().is_some() {
            created = true;
            woke |= due <= now + crate::context::MAX_SLEEP.as_secs() as i64;
        }
        r.enrollment = Some(enrollment_result(store, seq, stored.id, outcome, due).await?);
    }
    Ok((created, woke))
}

/// The body's `force` (enroll even where a rule of `[enrollment]` refuses), taken out of it.
fn force(body: &mut serde_json::Map<String, Value>) -> Result<bool, ApiError> {
    match body.remove("force") {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(b),
        Some(_) => Err(ApiError::field("force", "force must be true or false")),
    }
}

/// An optional string field of the body, taken out of it (null is no value).
fn optional_string(
    body: &mut serde_json::Map<String, Value>,
    key: &str,
) -> Result<Option<String>, ApiError> {
    match body.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApiError::field(key, format!("{key} must be a string"))),
    }
}

/// The sequence a request names, with a did-you-mean (or the list) when there is none.
fn find_sequence<'a>(catalog: &'a Catalog, id: &str) -> Result<&'a Sequence, ApiError> {
    catalog.sequence(id).ok_or_else(|| {
        let ids: Vec<&str> = catalog.sequences.keys().map(String::as_str).collect();
        let mut msg = format!("unknown sequence {id:?}");
        match crate::diag::did_you_mean(id, ids.iter().copied()) {
            Some(s) => msg.push_str(&format!("; did you mean {s:?}?")),
            None => msg.push_str(&format!(" (sequences: {})", ids.join(", "))),
        }
        ApiError::field("sequence", msg)
    })
}

/// The leads of a body (its `sequence` taken out already): whether it is a batch, its leads,
/// and the owner option: a batch's `owner`, or a single lead's own `owner` field.
fn split_leads(
    mut body: serde_json::Map<String, Value>,
) -> Result<(bool, Vec<RawLead>, Option<String>), ApiError> {
    if !body.contains_key("leads") {
        let owner = match body.get("owner") {
            Some(Value::String(o)) => Some(o.clone()),
            _ => None,
        };
        return Ok((false, vec![(String::new(), body)], owner));
    }
    let owner = optional_string(&mut body, "owner")?;
    if let Some(k) = body.keys().find(|k| *k != "leads") {
        return Err(ApiError::field(
            k.clone(),
            format!("unknown field {k:?} next to \"leads\" (expected sequence, owner, force)"),
        ));
    }
    let Some(Value::Array(items)) = body.remove("leads") else {
        return Err(ApiError::field(
            "leads",
            "leads must be an array of objects",
        ));
    };
    if items.is_empty() || items.len() > MAX_LEADS {
        return Err(ApiError::field(
            "leads",
            format!("leads must hold 1 to {MAX_LEADS} leads"),
        ));
    }
    let mut raw = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let Value::Object(map) = item else {
            return Err(ApiError::field(
                format!("leads[{i}]"),
                "each lead must be a JSON object",
            ));
        };
        raw.push((format!("leads[{i}]."), map));
    }
    Ok((true, raw, owner))
}

/// The owner option as a mailbox name; it must name a mailbox (as `leads import --owner`
/// must).
fn option_owner(config: &Config, owner: Option<String>) -> Result<Option<String>, ApiError> {
    let Some(o) = owner else {
        return Ok(None);
    };
    let mut unknown = BTreeSet::new();
    let name = resolve_owner(config, &o, &mut unknown);
    if !unknown.is_empty() {
        let names: Vec<&str> = config.mailboxes.iter().map(|m| m.name.as_str()).collect();
        return Err(ApiError::field(
            "owner",
            format!(
                "owner {o:?} is not a mailbox in config.toml (mailboxes: {})",
                names.join(", ")
            ),
        ));
    }
    Ok(Some(name))
}

/// Every lead of a request, read in order: each with its position, and a result for each
/// that says "forgotten" until the intake stores the lead.
fn read_leads(
    config: &Config,
    raw: Vec<RawLead>,
    owner: Option<&str>,
) -> Result<(Vec<LeadResult>, Vec<Numbered>), ApiError> {
    let mut results = Vec::with_capacity(raw.len());
    let mut leads = Vec::with_capacity(raw.len());
    for (i, (prefix, map)) in raw.into_iter().enumerate() {
        let (lead, warning, opted_out) = read_lead(config, &prefix, map, owner)?;
        results.push(LeadResult {
            id: None,
            email: lead.email.to_string(),
            lead: "forgotten",
            enrollment: None,
            warning,
            opted_out,
        });
        leads.push((i, lead));
    }
    Ok((results, leads))
}

/// One lead's fields, read as a CSV row is, with its owner read as a mailbox (`owner`, the
/// option, wins); the warning tells of an owner that names no mailbox, and the last value
/// names the field that says the person opted out.
fn read_lead(
    config: &Config,
    prefix: &str,
    map: serde_json::Map<String, Value>,
    owner: Option<&str>,
) -> Result<(LeadRecord, Option<String>, Option<String>), ApiError> {
    let mut values = Vec::with_capacity(map.len());
    for (k, v) in map {
        let text = match v {
            Value::Null => String::new(),
            Value::String(s) => s,
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Array(_) | Value::Object(_) => {
                return Err(ApiError::field(
                    format!("{prefix}{k}"),
                    format!("{k} must be a string, a number or null"),
                ));
            }
        };
        values.push((k, text));
    }
    let (mut lead, opted_out) = lead_from_named(&values)
        .map_err(|p| ApiError::field(format!("{prefix}{}", p.field), p.reason))?;
    let mut unknown = BTreeSet::new();
    assign_owner(config, &mut lead, owner, &mut unknown);
    let warning = unknown
        .first()
        .map(|o| format!("owner {o:?} is not a mailbox in config.toml; kept as written"));
    Ok((lead, warning, opted_out))
}

/// The answer: 201 when a lead or an enrollment was created, else 200; a batch's results
/// under `leads`, a single lead's as the body.
fn leads_response(batch: bool, created: bool, mut results: Vec<LeadResult>) -> Response {
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    if batch {
        (status, Json(serde_json::json!({ "leads": results }))).into_response()
    } else {
        let one = results.pop().expect("a single-lead request has one result");
        (status, Json(one)).into_response()
    }
}

/// Runs a store transaction again while the store aborts it for contention.
async fn retry<T, F, Fut>(f: F) -> Result<T, ApiError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    retry_transient(TRIES, f).await.map_err(ApiError::store)
}

fn rfc3339(t: Option<i64>) -> Option<String> {
    t.and_then(|t| chrono::DateTime::<chrono::Utc>::from_timestamp(t, 0))
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

fn parse_email(text: &str) -> Result<Email, ApiError> {
    Email::parse(text).map_err(|e| ApiError::field("email", e.to_string()))
}

async fn find_lead(store: &Store, email: &Email) -> Result<LeadId, ApiError> {
    match store.lead_by_email(email).await.map_err(ApiError::store)? {
        Some(l) => Ok(l.id),
        None => Err(no_lead(email)),
    }
}

fn no_lead(email: &Email) -> ApiError {
    ApiError {
        status: StatusCode::NOT_FOUND,
        message: format!("no lead {email}"),
        field: Some("email".into()),
    }
}

/// `GET /api/leads/{email}`: what `drumbeat leads show EMAIL --json` prints.
async fn get_lead(
    _: Authorized,
    State(state): State<AppState>,
    Path(email): Path<String>,
) -> Result<Response, ApiError> {
    let email = parse_email(&email)?;
    match state
        .context()
        .store()
        .lead_view(&email)
        .await
        .map_err(ApiError::store)?
    {
        Some(view) => Ok(Json(view).into_response()),
        None => Err(no_lead(&email)),
    }
}

/// `POST /api/events/meeting-booked`: `{"email": …, "at"?: RFC 3339 or unix seconds,
/// "source"?: …}`. The lead's open enrollments stop (outcome meeting-booked) and the event is
/// recorded; the same report again changes nothing.
async fn meeting_booked(
    _: Authorized,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Response, ApiError> {
    let Value::Object(body) = body else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "the body must be a JSON object: {\"email\": \"...\"}",
        ));
    };
    if let Some(k) = body
        .keys()
        .find(|k| !matches!(k.as_str(), "email" | "at" | "source"))
    {
        return Err(ApiError::field(
            k.clone(),
            format!("unknown field {k:?} (expected email, at, source)"),
        ));
    }
    let email = match body.get("email") {
        Some(Value::String(s)) => parse_email(s)?,
        None | Some(Value::Null) => return Err(ApiError::field("email", "email is missing")),
        Some(_) => return Err(ApiError::field("email", "email must be a string")),
    };
    let at = meeting_at(body.get("at"))?;
    let source = match body.get("source") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.len() <= 200 => Some(s.clone()),
        Some(_) => {
            return Err(ApiError::field(
                "source",
                "source must be a string of at most 200 bytes",
            ));
        }
    };
    let ctx = state.context();
    let store = ctx.store();
    let lead = find_lead(store, &email).await?;
    let now = ctx.now().timestamp();
    let mut data = serde_json::Map::new();
    if let Some(at) = at {
        data.insert("at".into(), at.into());
    }
    if let Some(s) = source {
        data.insert("source".into(), s.into());
    }
    let data = Value::Object(data);
    let done = retry(|| store.record_meeting_booked(lead, &data, now)).await?;
    tracing::info!(
        lead = lead.0,
        stopped = done.stopped.len(),
        "meeting booked"
    );
    Ok(Json(serde_json::json!({
        "id": lead,
        "email": email.to_string(),
        "stopped": done.stopped,
        "recorded": done.recorded,
    }))
    .into_response())
}

/// A booked meeting's `at`: unix seconds or an RFC 3339 time (absent or null: not given).
fn meeting_at(at: Option<&Value>) -> Result<Option<i64>, ApiError> {
    let wrong = || ApiError::field("at", "at must be unix seconds or an RFC 3339 time");
    match at {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(wrong),
        Some(Value::String(s)) => chrono::DateTime::parse_from_rfc3339(s.trim())
            .map(|t| Some(t.timestamp()))
            .map_err(|e| {
                ApiError::field(
                    "at",
                    format!("at {s:?} is not an RFC 3339 time (e.g. 2026-12-02T15:30:00Z): {e}"),
                )
            }),
        Some(_) => Err(wrong()),
    }
}

//! The daemon's HTTP side (one axum server, `[http]` in config.toml): one-click unsubscribe,
//! click and open tracking, email providers' webhooks, the API for new leads and booked
//! meetings, and the health and metrics endpoints. Every handler is stateless beyond the
//! store, so several daemons can serve behind any load balancer (DESIGN.md, Scale).
//!
//! Errors are JSON, `{"error": "...", "field": "..."}` with a 4xx or 5xx status; bodies are
//! limited in size everywhere ([`BODY_LIMIT`]).

pub mod api;
pub mod calendars;
pub mod health;
pub mod links;
pub mod metrics;
pub mod providers;
pub mod recorder;
pub mod server;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tokio::sync::{mpsc, watch};

use crate::config::Secret;
use crate::context::Context;
pub use crate::send::tokens::{self, Token, TokenError, TokenKey, TokenKind};

/// The largest request body any endpoint takes (a provider's batch of events stays well
/// under it; the API's JSON is far smaller).
pub const BODY_LIMIT: usize = 1024 * 1024;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    context: Arc<Context>,
    tokens: TokenKey,
    api_token: Option<Secret>,
    wake: mpsc::Sender<()>,
    recorder: recorder::Recorder,
}

impl AppState {
    /// What the daemon's tasks share (config, catalog, store, clock).
    pub fn context(&self) -> &Context {
        &self.inner.context
    }

    /// The key of unsubscribe and tracking links.
    pub fn tokens(&self) -> &TokenKey {
        &self.inner.tokens
    }

    /// The API's bearer token, when config.toml names one.
    pub fn api_token(&self) -> Option<&Secret> {
        self.inner.api_token.as_ref()
    }

    /// Records clicks and opens (group commit).
    pub fn recorder(&self) -> &recorder::Recorder {
        &self.inner.recorder
    }

    /// Wakes the scheduler (a new enrollment is due now).
    pub fn wake(&self) {
        let _ = self.inner.wake.try_send(());
    }
}

/// An error answer: a status and a JSON body naming what is wrong.
#[derive(Debug)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// What is wrong, for a person.
    pub message: String,
    /// The request field at fault, when one is.
    pub field: Option<String>,
}

impl ApiError {
    /// An error with `status` and `message`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            field: None,
        }
    }

    /// 400 about one field of the request.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            field: Some(field.into()),
        }
    }

    /// 500 for a store failure (logged; the client learns nothing of the store).
    pub fn store(e: crate::store::StoreError) -> ApiError {
        tracing::error!("HTTP: store error: {e}");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the store is not reachable; try again",
        )
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(ErrorBody {
                error: &self.message,
                field: self.field.as_deref(),
            }),
        )
            .into_response()
    }
}

/// Every route.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(health::routes())
        .merge(links::routes())
        .merge(api::routes())
        .merge(metrics::routes())
        .merge(providers::routes())
        .merge(calendars::routes())
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "no such endpoint") })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

/// Binds `[http] listen` and serves until `stop` turns true. Fails at once when the address
/// cannot be bound (in use, not ours) or a key cannot be read.
pub async fn start(
    context: Arc<Context>,
    wake: mpsc::Sender<()>,
    stop: watch::Receiver<bool>,
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>), String> {
    let config = context.config();
    let tokens =
        crate::send::tokens::key_from(config, context.store(), context.now().timestamp()).await?;
    let api_token = match &config.http.api_token {
        Some(source) => Some(
            source
                .resolve(&config.dir)
                .map_err(|e| format!("http.api_token: {e}"))?,
        ),
        None => None,
    };
    let listen = config.http.listen;
    let max_connections = server::connection_cap(config.http.max_connections);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen} ([http] listen): {e}"))?;
    let local = listener
        .local_addr()
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let (recorder, recorded) = recorder::Recorder::start(context.store().clone());
    let state = AppState {
        inner: Arc::new(Inner {
            recorder,
            context,
            tokens,
            api_token,
            wake,
        }),
    };
    let app = router(state);
    let task = tokio::spawn(async move {
        server::serve(listener, app, max_connections, stop).await;
        // The router and every connection are gone, so is every `Recorder`: the writer ends
        // once the hits still queued are committed.
        if recorded.await.is_err() {
            tracing::error!("the click and open writer failed; queued hits may be lost");
        }
    });
    tracing::info!(%local, max_connections, "HTTP listening");
    Ok((local, task))
}

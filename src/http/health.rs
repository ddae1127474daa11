//! `GET /healthz`: is this daemon fit to serve? The store answers, the catalog is loaded (a
//! broken edit keeps the previous one running, and says so), and how each inbox watcher is.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use serde::Serialize;

use super::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/healthz", get(healthz))
}

#[derive(Serialize)]
struct Health {
    /// ok, or degraded (the store does not answer).
    status: &'static str,
    store: &'static str,
    catalog: Catalog,
    inbox_watchers: Vec<Watcher>,
}

#[derive(Serialize)]
struct Catalog {
    sequences: usize,
    /// The last reload's errors (the previous catalog still runs).
    #[serde(skip_serializing_if = "Option::is_none")]
    reload_error: Option<String>,
}

#[derive(Serialize)]
struct Watcher {
    mailbox: String,
    state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
    updated_at: i64,
}

async fn healthz(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let ctx = state.context();
    let catalog = Catalog {
        sequences: ctx.catalog().sequences().count(),
        reload_error: ctx.catalog_error(),
    };
    let (store, inbox_watchers) = match ctx.store().watcher_states().await {
        Ok(rows) => (
            "ok",
            rows.into_iter()
                .map(
                    |(mailbox, _owner, state, detail, updated_at, _until)| Watcher {
                        mailbox,
                        state,
                        detail,
                        updated_at,
                    },
                )
                .collect(),
        ),
        Err(e) => {
            tracing::warn!("healthz: store error: {e}");
            ("unreachable", Vec::new())
        }
    };
    let ok = store == "ok";
    (
        if ok {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        },
        Json(Health {
            status: if ok { "ok" } else { "degraded" },
            store,
            catalog,
            inbox_watchers,
        }),
    )
}

//! The links in every email: one-click unsubscribe (RFC 8058), tracked clicks and the open
//! pixel. Each URL carries a signed token (see `tokens`); a forged, altered or truncated one
//! gets a 4xx and changes nothing.
//!
//! - `GET /u/TOKEN` shows a page with a confirm button: mail scanners fetch links, so a GET
//!   alone never unsubscribes. `POST /u/TOKEN` (the button, or a mail client's one-click POST
//!   with `List-Unsubscribe=One-Click`) suppresses the address and ends the lead's sequences.
//! - `GET|HEAD /c/TOKEN` redirects (302) to the URL the token was signed for, and nowhere
//!   else, and records the click; a HEAD, a known security scanner, or several links clicked
//!   within seconds of delivery are recorded as a scanner's, not a person's.
//! - `GET /o/TOKEN.gif` answers a 1×1 GIF and records the open, flagging image proxies and
//!   privacy prefetches (Apple Mail Privacy Protection) that no person caused.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use super::{AppState, TokenKind};
use crate::store::{Hit, TouchInfo};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/u/{token}", get(unsubscribe_page).post(unsubscribe))
        .route("/c/{token}", get(click).head(click))
        .route("/o/{file}", get(open))
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\"><title>{title}</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#222}}\
         button{{font-size:1rem;padding:.6rem 1.2rem;cursor:pointer}}</style></head>\
         <body><h1>{title}</h1>{body}</body></html>"
    );
    (
        status,
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        Html(html),
    )
        .into_response()
}

fn invalid_link() -> Response {
    page(
        StatusCode::BAD_REQUEST,
        "This link is not valid",
        "<p>It may have been cut short when it was copied. Open it from the email again, or reply to the email and ask to be removed.</p>",
    )
}

/// The email a token belongs to, when the token is good and of `kind`'s sort.
async fn touch_for(
    state: &AppState,
    token: &str,
    want: fn(&TokenKind) -> bool,
) -> Result<(TokenKind, Option<TouchInfo>), Response> {
    let t = state.tokens().verify(token).map_err(|_| invalid_link())?;
    if !want(&t.kind) {
        return Err(invalid_link());
    }
    let touch = state
        .context()
        .store()
        .touch_by_message_id(&t.message_id)
        .await
        .map_err(|e| super::ApiError::store(e).into_response())?;
    Ok((t.kind, touch))
}

async fn unsubscribe_page(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    // Only a page: the signed token is enough, the store is not asked (the POST does that).
    match state.tokens().verify(&token) {
        Ok(t) if matches!(t.kind, TokenKind::Unsubscribe) => page(
            StatusCode::OK,
            "Unsubscribe",
            "<p>Stop receiving these emails? One click and you will not hear from us again.</p>\
             <form method=\"post\"><button type=\"submit\">Unsubscribe</button></form>",
        ),
        _ => invalid_link(),
    }
}

fn gone() -> Response {
    page(
        StatusCode::NOT_FOUND,
        "This email is no longer known",
        "<p>Reply to the email and ask to be removed; it will be honoured.</p>",
    )
}

async fn unsubscribe(
    State(state): State<AppState>,
    Path(token): Path<String>,
    body: Bytes,
) -> Response {
    let touch = match touch_for(&state, &token, |k| matches!(k, TokenKind::Unsubscribe)).await {
        Err(r) => return r,
        Ok((_, None)) => return gone(),
        Ok((_, Some(t))) => t,
    };
    // RFC 8058: a mail client's one-click POST carries this body; our page's button does not.
    let how = if String::from_utf8_lossy(&body).contains("List-Unsubscribe=One-Click") {
        "one-click"
    } else {
        "unsubscribe page"
    };
    let now = state.context().now().timestamp();
    match state
        .context()
        .store()
        .unsubscribe_touch(&touch, how, now)
        .await
    {
        Ok(_) => {
            tracing::info!(touch = touch.id, via = how, "unsubscribed");
            page(
                StatusCode::OK,
                "You are unsubscribed",
                "<p>You will not receive any more of these emails.</p>",
            )
        }
        Err(e) => super::ApiError::store(e).into_response(),
    }
}

/// Why a click is not a person's, if it is not.
fn scanner(method: &Method, headers: &HeaderMap) -> Option<&'static str> {
    if method == Method::HEAD {
        return Some("HEAD request");
    }
    let ua = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if ua.is_empty() {
        return Some("no user agent");
    }
    const SCANNERS: [&str; 14] = [
        "barracuda",
        "proofpoint",
        "mimecast",
        "safelinks",
        "bingpreview",
        "google-safety",
        "symantec",
        "trendmicro",
        "forcepoint",
        "sophos",
        "fireeye",
        "python-requests",
        "go-http-client",
        "curl/",
    ];
    SCANNERS
        .iter()
        .find(|s| ua.contains(*s))
        .map(|_| "security scanner user agent")
}

async fn click(
    State(state): State<AppState>,
    Path(token): Path<String>,
    request: Request,
) -> Response {
    let (method, headers) = (request.method(), request.headers());
    let Ok(t) = state.tokens().verify(&token) else {
        return invalid_link();
    };
    let TokenKind::Click(link, url) = t.kind else {
        return invalid_link();
    };
    // Signed by us for an http(s) link in the email; checked again all the same.
    let lower = url.get(..8).unwrap_or(&url).to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        return invalid_link();
    }
    let hit = Hit {
        message_id: t.message_id,
        link: Some(link),
        url: Some(url.clone()),
        why: scanner(method, headers),
        at: state.context().now().timestamp(),
    };
    // Queued for the next group commit (see `recorder`), not awaited: the reader goes on.
    state.recorder().record(hit).await;
    (
        StatusCode::FOUND,
        [
            (header::LOCATION, url.as_str()),
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
    )
        .into_response()
}

/// A transparent 1×1 GIF.
const PIXEL: &[u8] = &[
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
];

/// Why an open is not a person's: a provider's image proxy or a privacy prefetch.
fn proxy(headers: &HeaderMap) -> Option<&'static str> {
    let ua = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if ua.contains("GoogleImageProxy") {
        Some("gmail image proxy")
    } else if ua.contains("YahooMailProxy") {
        Some("yahoo image proxy")
    } else if ua.trim() == "Mozilla/5.0" {
        // Apple Mail Privacy Protection fetches every image with this bare user agent.
        Some("apple mail privacy protection")
    } else {
        None
    }
}

async fn open(
    State(state): State<AppState>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Response {
    let t = match file.strip_suffix(".gif").map(|t| state.tokens().verify(t)) {
        Some(Ok(t)) if matches!(t.kind, TokenKind::Open) => t,
        _ => return invalid_link(),
    };
    let hit = Hit {
        message_id: t.message_id,
        link: None,
        url: None,
        why: proxy(&headers),
        at: state.context().now().timestamp(),
    };
    state.recorder().record(hit).await;
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "image/gif"),
            (header::CACHE_CONTROL, "no-store, max-age=0"),
        ],
        PIXEL,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ua(s: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::USER_AGENT, HeaderValue::from_str(s).expect("ascii"));
        h
    }

    #[test]
    fn scanners_are_told_from_browsers() {
        let safari = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15";
        assert_eq!(scanner(&Method::GET, &ua(safari)), None);
        assert_eq!(scanner(&Method::HEAD, &ua(safari)), Some("HEAD request"));
        assert_eq!(
            scanner(&Method::GET, &HeaderMap::new()),
            Some("no user agent")
        );
        for bot in [
            "Mozilla/5.0 (compatible; Proofpoint URL Defense)",
            "Barracuda Sentinel (EE)",
            "python-requests/2.31.0",
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) BingPreview/1.0b",
        ] {
            assert_eq!(
                scanner(&Method::GET, &ua(bot)),
                Some("security scanner user agent"),
                "{bot}"
            );
        }
    }

    #[test]
    fn image_proxies_and_privacy_prefetch_are_not_people() {
        assert_eq!(
            proxy(&ua(
                "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
            )),
            Some("gmail image proxy")
        );
        assert_eq!(
            proxy(&ua(
                "YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html"
            )),
            Some("yahoo image proxy")
        );
        assert_eq!(
            proxy(&ua("Mozilla/5.0")),
            Some("apple mail privacy protection")
        );
        assert_eq!(
            proxy(&ua(
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148"
            )),
            None
        );
    }
}

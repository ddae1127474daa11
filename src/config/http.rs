//! `[http]` and `[tracking]`: where the daemon serves its HTTP side, how links in emails reach
//! it, and which links it tracks.

use std::net::SocketAddr;

use serde::Deserialize;
use toml::Spanned;

use super::SecretSource;
use super::problems::Problems;

/// Where the daemon listens and how links to it are written.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Listen address, e.g. `127.0.0.1:8025`.
    pub listen: SocketAddr,
    /// Public base URL used in unsubscribe and tracking links, without a trailing `/`.
    pub base_url: String,
    /// The key that signs unsubscribe and tracking links. Without one, the daemons make a
    /// random key at the first start and share it through the store.
    pub token_key: Option<SecretSource>,
    /// The bearer token of the API (`/api/…`). Without one, the API answers 404.
    pub api_token: Option<SecretSource>,
    /// Which links are tracked (`[tracking]`).
    pub tracking: Tracking,
    /// At most this many client connections open at once; more wait until one closes.
    pub max_connections: usize,
}

/// `[http] max_connections` when not given: room for a busy tracking domain behind a proxy,
/// far below what exhausts memory or file descriptors.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;

/// `[tracking]`: click and open tracking defaults (a sequence can turn them off).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tracking {
    /// Rewrite the links of the HTML part to `BASE/c/TOKEN` (on by default).
    pub clicks: bool,
    /// Rewrite the links of the plain-text part too (off by default: they show as long URLs).
    pub text_clicks: bool,
    /// Add an open pixel (off by default: it hurts deliverability, and Apple Mail Privacy
    /// Protection fetches every image, so opens are mostly noise).
    pub opens: bool,
}

impl Default for Tracking {
    fn default() -> Self {
        Tracking {
            clicks: true,
            text_clicks: false,
            opens: false,
        }
    }
}

const DEFAULT_LISTEN: &str = "127.0.0.1:8025";
const DEFAULT_BASE_URL: &str = "http://127.0.0.1:8025";

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: DEFAULT_LISTEN.parse().expect("a socket address"),
            base_url: DEFAULT_BASE_URL.into(),
            token_key: None,
            api_token: None,
            tracking: Tracking::default(),
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// `[http]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHttp {
    listen: Option<Spanned<String>>,
    base_url: Option<Spanned<String>>,
    token_key: Option<SecretSource>,
    api_token: Option<SecretSource>,
    max_connections: Option<Spanned<i64>>,
}

/// `[tracking]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTracking {
    clicks: Option<bool>,
    text_clicks: Option<bool>,
    opens: Option<bool>,
}

/// Checks `[http]` and `[tracking]`: a listen address, an http(s) base URL with a host.
pub(super) fn resolve(
    raw: Option<RawHttp>,
    tracking: Option<RawTracking>,
) -> (HttpConfig, Problems) {
    let mut out = HttpConfig::default();
    let mut problems = Vec::new();
    if let Some(t) = tracking {
        out.tracking = Tracking {
            clicks: t.clicks.unwrap_or(out.tracking.clicks),
            text_clicks: t.text_clicks.unwrap_or(out.tracking.text_clicks),
            opens: t.opens.unwrap_or(out.tracking.opens),
        };
    }
    let Some(raw) = raw else {
        return (out, problems);
    };
    if let Some(l) = &raw.listen {
        match l.get_ref().trim().parse::<SocketAddr>() {
            Ok(a) => out.listen = a,
            Err(_) => problems.push((
                Some(l.span()),
                format!(
                    "http.listen {:?} is not an address and port (e.g. \"127.0.0.1:8025\" or \"[::1]:8025\")",
                    l.get_ref()
                ),
            )),
        }
    }
    if let Some(b) = &raw.base_url {
        match check_base_url(b.get_ref()) {
            Ok(url) => out.base_url = url,
            Err(msg) => problems.push((Some(b.span()), format!("http.base_url: {msg}"))),
        }
    }
    if let Some(m) = &raw.max_connections {
        match usize::try_from(*m.get_ref()) {
            Ok(n) if (16..=1_000_000).contains(&n) => out.max_connections = n,
            _ => problems.push((
                Some(m.span()),
                format!(
                    "http.max_connections = {} is out of range (16 to 1000000; default {DEFAULT_MAX_CONNECTIONS})",
                    m.get_ref()
                ),
            )),
        }
    }
    out.token_key = raw.token_key;
    out.api_token = raw.api_token;
    (out, problems)
}

/// An `http://` or `https://` URL with a host and no query or fragment; returned without its
/// trailing `/`.
fn check_base_url(url: &str) -> Result<String, String> {
    let url = url.trim();
    let Some(rest) = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
    else {
        return Err(format!(
            "{url:?} must start with https:// (or http:// for a test)"
        ));
    };
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() || host.contains(['@', ' ']) {
        return Err(format!("{url:?} has no host"));
    }
    if rest.contains(['?', '#']) {
        return Err(format!("{url:?} must not have a query or fragment"));
    }
    Ok(url.trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_checked_and_lose_their_trailing_slash() {
        assert_eq!(
            check_base_url("https://t.example.com/"),
            Ok("https://t.example.com".into())
        );
        assert_eq!(
            check_base_url("https://example.com/drumbeat/"),
            Ok("https://example.com/drumbeat".into())
        );
        assert!(check_base_url("ftp://x").is_err());
        assert!(check_base_url("https://").is_err());
        assert!(check_base_url("https://x.com/?a=1").is_err());
        assert!(check_base_url("https://user@x.com").is_err());
    }
}

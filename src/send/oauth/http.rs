//! The token endpoint's side of OAuth2: form-encoded POSTs and their JSON answers (RFC 6749
//! §5.1 and §5.2), and keeping a refresh token in a file only its owner reads.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::config::Secret;

/// The HTTP client for token endpoints: bounded in time, no redirects (a token request is
/// never replayed elsewhere).
pub(super) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_default()
}

/// A granted token (RFC 6749 §5.1).
pub(crate) struct Granted {
    pub(crate) access_token: Secret,
    pub(crate) expires_in: u64,
    pub(crate) refresh_token: Option<Secret>,
}

/// What a token endpoint answered.
pub(crate) enum Answer {
    /// Tokens.
    Granted(Granted),
    /// An error (RFC 6749 §5.2; RFC 8628 §3.5): its code, and `: description` when given.
    Refused { error: String, description: String },
}

#[derive(Deserialize)]
struct RawAnswer {
    access_token: Option<String>,
    expires_in: Option<serde_json::Value>,
    refresh_token: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `application/x-www-form-urlencoded` of `fields`.
pub fn form(fields: &[(&str, &str)]) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    (b as char).to_string()
                }
                b' ' => "+".to_string(),
                b => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// POSTs `fields` to `url` and reads the answer. The error never holds a token.
pub(crate) async fn post(
    client: &reqwest::Client,
    url: &str,
    fields: &[(&str, &str)],
) -> Result<Answer, String> {
    let resp = client
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/json")
        .body(form(fields))
        .send()
        .await
        .map_err(|e| format!("token endpoint {url}: {}", e.without_url()))?;
    let status = resp.status();
    let body = resp
        .bytes()
        .await
        .map_err(|e| format!("token endpoint {url}: {}", e.without_url()))?;
    let raw: RawAnswer = serde_json::from_slice(&body)
        .map_err(|_| format!("token endpoint {url} answered {status} without a JSON body"))?;
    if let Some(error) = raw.error {
        let description = raw
            .error_description
            .map(|d| format!(": {}", d.lines().next().unwrap_or_default()))
            .unwrap_or_default();
        return Ok(Answer::Refused { error, description });
    }
    match (status.is_success(), raw.access_token) {
        (true, Some(token)) if !token.is_empty() => Ok(Answer::Granted(Granted {
            access_token: Secret::new(token),
            // Seconds, as a number (some servers send a string); an hour when absent.
            expires_in: match raw.expires_in {
                Some(serde_json::Value::Number(n)) => n.as_u64().unwrap_or(3600),
                Some(serde_json::Value::String(s)) => s.parse().unwrap_or(3600),
                _ => 3600,
            },
            refresh_token: raw.refresh_token.filter(|t| !t.is_empty()).map(Secret::new),
        })),
        _ => Err(format!(
            "token endpoint {url} answered {status} without an access token"
        )),
    }
}

/// Writes `value` to `path`: a new file readable by its owner only (0600), renamed into place,
/// so a reader never sees half a token and a crash never loses the old one.
pub fn write_secret_file(path: &Path, value: &str) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let mut open = std::fs::OpenOptions::new();
    open.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
    let mut f = open.open(&tmp)?;
    #[cfg(unix)]
    std::fs::set_permissions(&tmp, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    f.write_all(value.as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)
}

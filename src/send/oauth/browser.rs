//! The authorization code grant with PKCE and a loopback redirect (RFC 6749 §4.1, RFC 7636,
//! RFC 8252 §7.3) behind `drumbeat auth MAILBOX --browser`: the flow Google allows for Gmail's
//! scope (its device flow does not), and Microsoft's alternative to the device flow. The person
//! opens the sign-in address in a browser; the provider sends the browser back to
//! `http://127.0.0.1:PORT/` where drumbeat listens. On a server, either forward the port
//! (`ssh -L PORT:127.0.0.1:PORT`) or paste the address the browser ended on (it does not load
//! there, but holds the code).

use std::path::Path;
use std::time::Duration;

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Url;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc::UnboundedReceiver;

use super::http::{self, Answer};
use crate::config::{OAuthProvider, OAuthSettings, Secret};

/// How long the person has to sign in.
const SIGN_IN_TIME: Duration = Duration::from_secs(600);

/// The longest request head read from the browser.
const MAX_HEAD: usize = 16 * 1024;

/// What the person must do: open `url`; the provider then sends the browser to `redirect`.
#[derive(Debug, Clone)]
pub struct Prompt {
    /// The sign-in address.
    pub url: String,
    /// Where drumbeat listens (`http://127.0.0.1:PORT`).
    pub redirect: String,
    /// The port, for `ssh -L`.
    pub port: u16,
}

/// One sign-in: the secrets that tie the answer to the request.
struct Attempt {
    /// PKCE's code verifier (RFC 7636 §4.1).
    verifier: String,
    /// The `state` the answer must carry back.
    state: String,
    redirect: String,
}

/// Runs the flow: listens on 127.0.0.1:`port` (0: any free port), hands the prompt to `show`,
/// then waits for the browser's redirect, or for its address pasted (lines on `pasted`), for
/// 10 minutes. Exchanges the code for tokens and gives the refresh token.
pub async fn authorize(
    settings: &OAuthSettings,
    config_dir: &Path,
    port: u16,
    pasted: UnboundedReceiver<String>,
    show: impl FnOnce(&Prompt),
) -> Result<Secret, String> {
    let Some(auth_url) = &settings.auth_url else {
        return Err(
            "no auth_url: the browser sign-in needs the provider's authorization endpoint \
             (set provider, or auth_url in [mailbox.oauth]); or use --device"
                .into(),
        );
    };
    let client_secret = match &settings.client_secret {
        Some(s) => Some(
            s.resolve(config_dir)
                .map_err(|e| format!("oauth client_secret: {e}"))?,
        ),
        None => None,
    };
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?;
    let port = listener
        .local_addr()
        .map_err(|e| format!("cannot listen on 127.0.0.1: {e}"))?
        .port();
    let attempt = Attempt {
        verifier: random_text()?,
        state: random_text()?,
        redirect: format!("http://127.0.0.1:{port}"),
    };
    let url = sign_in_url(auth_url, settings, &attempt)?;
    show(&Prompt {
        url,
        redirect: attempt.redirect.clone(),
        port,
    });
    let code = tokio::time::timeout(SIGN_IN_TIME, wait_for_code(&listener, pasted, &attempt))
        .await
        .map_err(|_| {
            "nobody signed in within 10 minutes; run `drumbeat auth` again".to_string()
        })??;
    let mut fields = vec![
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", attempt.redirect.as_str()),
        ("client_id", settings.client_id.as_str()),
        ("code_verifier", attempt.verifier.as_str()),
    ];
    if let Some(s) = &client_secret {
        fields.push(("client_secret", s.expose()));
    }
    match http::post(&http::client(), &settings.token_url, &fields).await? {
        Answer::Granted(g) => g.refresh_token.ok_or_else(|| {
            "signed in, but the provider gave no refresh token (Google gives one with \
             access_type=offline and prompt=consent; Microsoft needs the offline_access scope)"
                .to_string()
        }),
        Answer::Refused { error, description } => Err(format!(
            "the token endpoint refused the code: {error}{description}"
        )),
    }
}

/// 32 random bytes, base64url: a PKCE verifier (43 characters) or a `state`.
fn random_text() -> Result<String, String> {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| "the system's random number generator failed".to_string())?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// The authorization request (RFC 6749 §4.1.1 with PKCE's S256 challenge). Google gives a
/// refresh token only with `access_type=offline`, and again on a second sign-in only with
/// `prompt=consent`.
fn sign_in_url(
    auth_url: &str,
    settings: &OAuthSettings,
    attempt: &Attempt,
) -> Result<String, String> {
    let mut url =
        Url::parse(auth_url).map_err(|e| format!("auth_url {auth_url:?} is not a URL: {e}"))?;
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(attempt.verifier.as_bytes()));
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("client_id", &settings.client_id)
            .append_pair("redirect_uri", &attempt.redirect)
            .append_pair("response_type", "code")
            .append_pair("state", &attempt.state)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256")
            .append_pair("prompt", "consent");
        if !settings.scope.is_empty() {
            q.append_pair("scope", &settings.scope);
        }
        if settings.provider == Some(OAuthProvider::Google) {
            q.append_pair("access_type", "offline");
        }
    }
    Ok(url.into())
}

/// What came back to the redirect address.
enum Callback {
    /// The code, for this sign-in.
    Code(String),
    /// The provider's refusal (`access_denied` when the person declined).
    Refused(String),
    /// Not an answer to this sign-in (another request, or another sign-in's `state`).
    Stray(&'static str),
}

/// Reads the answer from a redirect's query (`code`, `state`, or `error`).
fn callback(query: &str, attempt: &Attempt) -> Callback {
    let pairs: Vec<(String, String)> = Url::parse(&format!("http://127.0.0.1/?{query}"))
        .map(|u| u.query_pairs().into_owned().collect())
        .unwrap_or_default();
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    if get("state") != Some(attempt.state.as_str()) {
        return Callback::Stray(if get("state").is_some() {
            "that address answers another sign-in (its state differs); use the newest one"
        } else {
            "that address holds no answer to the sign-in (no code and state in it)"
        });
    }
    match (get("code"), get("error")) {
        (_, Some(e)) => Callback::Refused(match get("error_description") {
            Some(d) => format!("{e}: {}", d.lines().next().unwrap_or_default()),
            None => e.to_string(),
        }),
        (Some(code), None) if !code.is_empty() => Callback::Code(code.to_string()),
        _ => Callback::Stray("that address holds no code"),
    }
}

/// Waits for the browser's redirect on `listener` or a pasted address on `pasted`, whichever
/// comes first with this sign-in's answer; strays are answered (or told) and skipped.
async fn wait_for_code(
    listener: &TcpListener,
    mut pasted: UnboundedReceiver<String>,
    attempt: &Attempt,
) -> Result<String, String> {
    let mut stdin_open = true;
    loop {
        let got = tokio::select! {
            conn = listener.accept() => match conn {
                Ok((stream, _)) => answer_browser(stream, attempt).await,
                Err(_) => continue,
            },
            line = pasted.recv(), if stdin_open => match line {
                None => {
                    stdin_open = false;
                    continue;
                }
                Some(line) => pasted_answer(line.trim(), attempt),
            },
        };
        match got {
            Callback::Code(code) => return Ok(code),
            Callback::Refused(e) if e.starts_with("access_denied") => {
                return Err(format!("the sign-in was declined ({e})"));
            }
            Callback::Refused(e) => return Err(format!("the provider refused the sign-in: {e}")),
            Callback::Stray(_) => {}
        }
    }
}

/// A pasted address: the query of `http://127.0.0.1:PORT/?code=…&state=…` (or the bare
/// query); anything else is told and skipped.
fn pasted_answer(text: &str, attempt: &Attempt) -> Callback {
    if text.is_empty() {
        return Callback::Stray("empty line");
    }
    let query = text.split_once('?').map_or(text, |(_, q)| q);
    let query = query.split('#').next().unwrap_or_default();
    let c = callback(query, attempt);
    if let Callback::Stray(why) = &c {
        eprintln!("{why}; paste the whole address the browser ended on, or press Ctrl-C");
    }
    c
}

/// Reads one request from the browser and answers it with a short plain-text page: signed in, declined,
/// or not this sign-in (a favicon, a stale tab).
async fn answer_browser(mut stream: TcpStream, attempt: &Attempt) -> Callback {
    let head = match tokio::time::timeout(Duration::from_secs(10), read_head(&mut stream)).await {
        Ok(Some(head)) => head,
        _ => return Callback::Stray("no request"),
    };
    let target = head
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("GET "))
        .and_then(|l| l.split(' ').next())
        .unwrap_or_default();
    let query = target.split_once('?').map_or("", |(_, q)| q);
    let c = callback(query, attempt);
    let (status, text) = match &c {
        Callback::Code(_) => (
            "200 OK",
            "Signed in. drumbeat has what it needs; you can close this tab.".to_string(),
        ),
        Callback::Refused(e) => ("200 OK", format!("The sign-in did not happen: {e}.")),
        Callback::Stray(why) => ("404 Not Found", format!("{why}.")),
    };
    let body = format!("drumbeat: {text}\n");
    let reply = format!(
        "HTTP/1.1 {status}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\n\
         connection: close\r\ncache-control: no-store\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(reply.as_bytes()).await;
    let _ = stream.shutdown().await;
    c
}

/// The request head (up to the blank line), at most [`MAX_HEAD`] bytes.
async fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while buf.len() < MAX_HEAD {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    Some(String::from_utf8_lossy(&buf).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt() -> Attempt {
        Attempt {
            verifier: "v".repeat(43),
            state: "s-1".into(),
            redirect: "http://127.0.0.1:5000".into(),
        }
    }

    #[test]
    fn an_answer_counts_only_with_this_sign_ins_state() {
        let a = attempt();
        assert!(matches!(callback("code=abc&state=s-1", &a), Callback::Code(c) if c == "abc"));
        assert!(matches!(
            callback("code=abc&state=s-2", &a),
            Callback::Stray(_)
        ));
        assert!(matches!(callback("code=abc", &a), Callback::Stray(_)));
        assert!(matches!(callback("", &a), Callback::Stray(_)));
        assert!(matches!(
            callback("error=access_denied&state=s-1", &a),
            Callback::Refused(e) if e == "access_denied"
        ));
        assert!(matches!(
            pasted_answer("http://127.0.0.1:5000/?state=s-1&code=4%2F0Ab&scope=x#frag", &a),
            Callback::Code(c) if c == "4/0Ab"
        ));
    }

    #[test]
    fn the_sign_in_address_carries_pkce_and_keeps_the_endpoints_own_query() {
        let settings = OAuthSettings {
            provider: Some(OAuthProvider::Google),
            token_url: "https://oauth2.googleapis.com/token".into(),
            device_url: None,
            auth_url: Some("https://accounts.google.com/o/oauth2/v2/auth?hd=acme.com".into()),
            scope: "https://mail.google.com/".into(),
            client_id: "id-1".into(),
            client_secret: None,
            refresh_token: crate::config::SecretSource::File("rt".into()),
        };
        let a = attempt();
        let url = sign_in_url(settings.auth_url.as_deref().unwrap(), &settings, &a).unwrap();
        let url = Url::parse(&url).unwrap();
        let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(q["hd"], "acme.com");
        assert_eq!(q["redirect_uri"], "http://127.0.0.1:5000");
        assert_eq!(q["code_challenge_method"], "S256");
        // RFC 7636 appendix B: the challenge is base64url(SHA-256(verifier)), no padding.
        assert_eq!(
            q["code_challenge"],
            URL_SAFE_NO_PAD.encode(Sha256::digest("v".repeat(43).as_bytes()))
        );
        assert_eq!(q["access_type"], "offline");
        assert_eq!(q["scope"], "https://mail.google.com/");
    }
}

//! The device authorization grant (RFC 8628) behind `drumbeat auth MAILBOX`: a person signs in
//! on any device with a browser, while drumbeat, on a server without one, polls for the tokens.

use std::path::Path;
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::http::{self, Answer};
use crate::config::{OAuthSettings, Secret};

/// What the person must do: open `verification_uri` and type `user_code`.
#[derive(Debug, Clone)]
pub struct Prompt {
    /// Where to sign in.
    pub verification_uri: String,
    /// The code to type there.
    pub user_code: String,
    /// How long the code is good for.
    pub expires_in: Duration,
}

#[derive(Deserialize)]
struct DeviceAnswer {
    device_code: Option<String>,
    user_code: Option<String>,
    verification_uri: Option<String>,
    /// Google's name for `verification_uri`.
    verification_url: Option<String>,
    expires_in: Option<u64>,
    interval: Option<u64>,
    error: Option<String>,
}

/// Runs the flow: asks for a device code, hands the prompt to `show`, then polls the token
/// endpoint at the server's `interval` (5 s when it names none; 5 s more on each `slow_down`)
/// until the person approves, denies, or the code expires. Gives the refresh token.
pub async fn authorize(
    settings: &OAuthSettings,
    config_dir: &Path,
    show: impl FnOnce(&Prompt),
) -> Result<Secret, String> {
    let client = http::client();
    let client_secret = match &settings.client_secret {
        Some(s) => Some(
            s.resolve(config_dir)
                .map_err(|e| format!("oauth client_secret: {e}"))?,
        ),
        None => None,
    };
    let mut fields = vec![("client_id", settings.client_id.as_str())];
    if !settings.scope.is_empty() {
        fields.push(("scope", settings.scope.as_str()));
    }
    let Some(url) = &settings.device_url else {
        return Err(
            "no device_url: the provider's device authorization endpoint is not configured; use --browser"
                .into(),
        );
    };
    let resp = client
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(http::form(&fields))
        .send()
        .await
        .map_err(|e| format!("device endpoint {url}: {}", e.without_url()))?;
    let status = resp.status();
    let d: DeviceAnswer = resp
        .json()
        .await
        .map_err(|_| format!("device endpoint {url} answered {status} without a JSON body"))?;
    let (Some(device_code), Some(user_code), Some(verification_uri)) = (
        d.device_code,
        d.user_code,
        d.verification_uri.or(d.verification_url),
    ) else {
        return Err(format!(
            "device endpoint {url} answered {status}{}",
            d.error.map(|e| format!(" ({e})")).unwrap_or_default()
        ));
    };
    let expires_in = Duration::from_secs(d.expires_in.unwrap_or(900));
    show(&Prompt {
        verification_uri,
        user_code,
        expires_in,
    });
    let interval = Duration::from_secs(d.interval.unwrap_or(5));
    let poll = Poll {
        device_code: &device_code,
        client_secret: client_secret.as_ref(),
        expires_in,
        interval,
    };
    poll_for_token(&client, settings, poll).await
}

/// What the token endpoint is polled with.
struct Poll<'a> {
    device_code: &'a str,
    client_secret: Option<&'a Secret>,
    expires_in: Duration,
    interval: Duration,
}

/// Polls the token endpoint until the person approves (the refresh token), denies, or the
/// code expires.
async fn poll_for_token(
    client: &reqwest::Client,
    settings: &OAuthSettings,
    poll: Poll<'_>,
) -> Result<Secret, String> {
    let mut fields = vec![
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ("device_code", poll.device_code),
        ("client_id", settings.client_id.as_str()),
    ];
    if let Some(s) = poll.client_secret {
        fields.push(("client_secret", s.expose()));
    }
    let (expires_in, mut interval) = (poll.expires_in, poll.interval);
    let deadline = Instant::now() + expires_in;
    loop {
        tokio::time::sleep(interval).await;
        match http::post(client, &settings.token_url, &fields).await? {
            Answer::Granted(g) => {
                return g.refresh_token.ok_or_else(|| {
                    "signed in, but the provider gave no refresh token (Microsoft needs the offline_access scope)".to_string()
                });
            }
            Answer::Refused { error, .. } if error == "authorization_pending" => {}
            Answer::Refused { error, .. } if error == "slow_down" => {
                interval += Duration::from_secs(5);
            }
            Answer::Refused { error, .. } if error == "expired_token" => {
                return Err(
                    "the code expired before anyone signed in; run `drumbeat auth` again".into(),
                );
            }
            Answer::Refused { error, .. } if error == "access_denied" => {
                return Err("the sign-in was declined (access_denied)".into());
            }
            Answer::Refused { error, description } => {
                return Err(format!("the token endpoint refused: {error}{description}"));
            }
        }
        if Instant::now() >= deadline {
            return Err(
                "the code expired before anyone signed in; run `drumbeat auth` again".into(),
            );
        }
    }
}

//! OAuth2 access tokens for SMTP and IMAP XOAUTH2 (`[mailbox.oauth]`): one cache per mailbox
//! in the process, shared by its SMTP pool and its IMAP connections, so they refresh once
//! between them (single-flight). A token is refreshed ahead of its expiry (5 minutes, or a
//! tenth of its lifetime when that is shorter), with the refresh-token grant (RFC 6749 §6); a
//! refresh token the server rotates is written back to its file. Tokens are never logged.

pub mod browser;
pub mod device;
mod http;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex as StdMutex, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use crate::config::{Mailbox, OAuthSettings, Secret, SecretSource};
pub use http::{form, write_secret_file};

/// The longest margin before expiry at which a token is refreshed.
const MARGIN: Duration = Duration::from_secs(300);

/// Why no access token could be had.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum OAuthError {
    /// The provider refused the refresh token (`invalid_grant`: revoked, expired, or the
    /// password changed): a person must run `drumbeat auth MAILBOX` again. Until the refresh
    /// token changes, the provider is not asked again.
    #[error("{0}")]
    NeedsAuth(String),
    /// Anything else (network, a secret that cannot be read, an unexpected answer): retried.
    #[error("{0}")]
    Failed(String),
}

/// A mailbox's access tokens.
pub struct TokenCache {
    mailbox: String,
    settings: OAuthSettings,
    config_dir: PathBuf,
    client: reqwest::Client,
    state: Mutex<State>,
    /// The last refusal's message, until a token is had again (see [`needs_auth`]).
    refused_note: StdMutex<Option<String>>,
}

#[derive(Default)]
struct State {
    /// The current access token and when it is to be replaced.
    current: Option<(Secret, Instant)>,
    /// The refresh token the provider refused, and what it said.
    refused: Option<(Secret, String)>,
    /// Refreshes done (for tests and logs).
    refreshes: u64,
}

/// Every mailbox's cache in this process, by mailbox name.
fn caches() -> std::sync::MutexGuard<'static, HashMap<String, Arc<TokenCache>>> {
    static CACHES: OnceLock<StdMutex<HashMap<String, Arc<TokenCache>>>> = OnceLock::new();
    CACHES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The cache of `mailbox`'s tokens in this process (None without `[mailbox.oauth]`). A config
/// reload that changes the OAuth settings starts a new cache.
pub fn for_mailbox(mailbox: &Mailbox, config_dir: &Path) -> Option<Arc<TokenCache>> {
    let settings = mailbox.oauth.as_ref()?;
    let mut caches = caches();
    let cache = caches
        .entry(mailbox.name.clone())
        .or_insert_with(|| TokenCache::new(&mailbox.name, settings.clone(), config_dir));
    if cache.settings != *settings || cache.config_dir != config_dir {
        *cache = TokenCache::new(&mailbox.name, settings.clone(), config_dir);
    }
    Some(cache.clone())
}

/// Why `mailbox` needs `drumbeat auth`, when its provider refused its refresh token in this
/// process and no token was had since.
pub fn needs_auth(mailbox: &str) -> Option<String> {
    let cache = caches().get(mailbox)?.clone();
    cache
        .refused_note
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
}

impl TokenCache {
    /// A cache with no token yet.
    pub fn new(mailbox: &str, settings: OAuthSettings, config_dir: &Path) -> Arc<TokenCache> {
        Arc::new(TokenCache {
            mailbox: mailbox.to_string(),
            settings,
            config_dir: config_dir.to_path_buf(),
            client: http::client(),
            state: Mutex::new(State::default()),
            refused_note: StdMutex::new(None),
        })
    }

    /// An access token good for a while yet: the cached one, or a fresh one.
    pub async fn access_token(&self) -> Result<Secret, OAuthError> {
        let got = self.access_token_at(Instant::now()).await;
        let note = match &got {
            Err(OAuthError::NeedsAuth(why)) => Some(why.clone()),
            Err(OAuthError::Failed(_)) => return got,
            Ok(_) => None,
        };
        *self
            .refused_note
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = note;
        got
    }

    /// Refreshes done so far.
    pub async fn refreshes(&self) -> u64 {
        self.state.lock().await.refreshes
    }

    /// [`TokenCache::access_token`] at `now`. Holding the lock across the refresh is the
    /// single flight: whoever waits gets the token the first caller fetched.
    pub async fn access_token_at(&self, now: Instant) -> Result<Secret, OAuthError> {
        let mut state = self.state.lock().await;
        if let Some((token, renew_at)) = &state.current
            && now < *renew_at
        {
            return Ok(token.clone());
        }
        let refresh = self
            .settings
            .refresh_token
            .resolve(&self.config_dir)
            .map_err(|e| self.needs_auth(&format!("its refresh token cannot be read: {e}")))?;
        if let Some((old, why)) = &state.refused
            && *old == refresh
        {
            return Err(self.needs_auth(why));
        }
        let client_secret = match &self.settings.client_secret {
            Some(s) => Some(s.resolve(&self.config_dir).map_err(|e| {
                OAuthError::Failed(format!(
                    "mailbox {:?}: oauth client_secret: {e}",
                    self.mailbox
                ))
            })?),
            None => None,
        };
        let mut fields = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.expose()),
            ("client_id", self.settings.client_id.as_str()),
        ];
        if let Some(s) = &client_secret {
            fields.push(("client_secret", s.expose()));
        }
        let answer = http::post(&self.client, &self.settings.token_url, &fields)
            .await
            .map_err(|e| OAuthError::Failed(format!("mailbox {:?}: {e}", self.mailbox)))?;
        state.refreshes += 1;
        let granted = match answer {
            http::Answer::Granted(g) => g,
            http::Answer::Refused { error, description } if error == "invalid_grant" => {
                let why =
                    format!("the provider refused its refresh token (invalid_grant{description})");
                state.refused = Some((refresh, why.clone()));
                state.current = None;
                tracing::warn!(mailbox = %self.mailbox, "OAuth2: {why}; run `drumbeat auth {}`", self.mailbox);
                return Err(self.needs_auth(&why));
            }
            http::Answer::Refused { error, description } => {
                return Err(OAuthError::Failed(format!(
                    "mailbox {:?}: the token endpoint refused the refresh ({error}{description})",
                    self.mailbox
                )));
            }
        };
        if let Some(rotated) = &granted.refresh_token
            && rotated.expose() != refresh.expose()
        {
            self.keep_rotated(rotated);
        }
        let lifetime = Duration::from_secs(granted.expires_in);
        let renew_at = now + lifetime - MARGIN.min(lifetime / 10);
        tracing::debug!(mailbox = %self.mailbox, expires_in = granted.expires_in, "OAuth2 access token refreshed");
        state.current = Some((granted.access_token.clone(), renew_at));
        Ok(granted.access_token)
    }

    /// A refresh token the provider rotated: written back to its file (0600, atomically), or,
    /// for a source drumbeat cannot write, logged as a warning to store it.
    fn keep_rotated(&self, rotated: &Secret) {
        match &self.settings.refresh_token {
            SecretSource::File(p) => {
                let path = self.config_dir.join(p);
                if let Err(e) = write_secret_file(&path, rotated.expose()) {
                    tracing::warn!(mailbox = %self.mailbox, "OAuth2: cannot keep the rotated refresh token in {}: {e}", path.display());
                }
            }
            other => tracing::warn!(
                mailbox = %self.mailbox,
                "OAuth2: the provider rotated the refresh token, but {other} cannot be written; run `drumbeat auth {} --print` to store a new one", self.mailbox
            ),
        }
    }

    fn needs_auth(&self, why: &str) -> OAuthError {
        OAuthError::NeedsAuth(format!(
            "mailbox {:?} needs `drumbeat auth {}`: {why}",
            self.mailbox, self.mailbox
        ))
    }
}

#[cfg(test)]
mod tests;

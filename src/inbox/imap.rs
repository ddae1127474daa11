//! The IMAP connection of a watched mailbox (async-imap over tokio, rustls with the platform's
//! certificate verifier): implicit TLS, STARTTLS, or plain only where the config says so for
//! loopback; password (LOGIN) or XOAUTH2. Folders are opened with EXAMINE and messages fetched
//! with BODY.PEEK, so watching never changes the rep's mailbox (nothing marked read).

use std::fmt::Debug;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_imap::{Client, Session};
use futures_util::TryStreamExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::config::{AuthMethod, ImapSettings, Mailbox, Secret, Security};
use crate::send::oauth::TokenCache;

/// A byte stream IMAP runs over (plain TCP or TLS).
pub trait ImapStream: AsyncRead + AsyncWrite + Unpin + Send + Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Debug> ImapStream for T {}

/// A logged-in IMAP session.
pub type ImapSession = Session<Box<dyn ImapStream>>;

/// Time allowed to connect, and for each command.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// Why the watcher could not talk to the server.
#[derive(Debug, thiserror::Error)]
pub enum ImapError {
    /// Network, TLS or protocol trouble: reconnect with backoff.
    #[error("{0}")]
    Connection(String),
    /// The server refused the login: the credentials are wrong (retried slowly).
    #[error("login refused: {0}")]
    Auth(String),
    /// The password or token could not be read, so no login was tried (retried slowly).
    #[error("no login tried: {0}")]
    Secret(String),
}

impl From<async_imap::error::Error> for ImapError {
    fn from(e: async_imap::error::Error) -> Self {
        ImapError::Connection(e.to_string())
    }
}

impl From<std::io::Error> for ImapError {
    fn from(e: std::io::Error) -> Self {
        ImapError::Connection(e.to_string())
    }
}

/// One fetched message.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// Its UID.
    pub uid: u32,
    /// The whole message.
    pub raw: Vec<u8>,
    /// When the server received it (INTERNALDATE), unix seconds.
    pub received_at: Option<i64>,
}

/// A folder opened read-only.
#[derive(Debug, Clone, Copy)]
pub struct Opened {
    /// UIDVALIDITY.
    pub uidvalidity: u32,
    /// UIDNEXT, when the server said.
    pub uid_next: Option<u32>,
    /// Messages in it.
    pub exists: u32,
}

struct XOAuth2 {
    user: String,
    token: String,
}

impl async_imap::Authenticator for &XOAuth2 {
    type Response = String;
    fn process(&mut self, _challenge: &[u8]) -> String {
        format!("user={}\x01auth=Bearer {}\x01\x01", self.user, self.token)
    }
}

/// TLS with the system's trust store (rustls-platform-verifier), plus the certificates of
/// `ca_file` when the config names one.
fn tls_config(ca_file: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, ImapError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let setup = |e: String| ImapError::Connection(format!("TLS setup: {e}"));
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut extra = Vec::new();
    if let Some(path) = ca_file {
        for cert in CertificateDer::pem_file_iter(path)
            .map_err(|e| setup(format!("cannot read ca_file {}: {e}", path.display())))?
        {
            extra.push(cert.map_err(|e| setup(format!("ca_file {}: {e}", path.display())))?);
        }
        if extra.is_empty() {
            return Err(setup(format!(
                "ca_file {} holds no certificate",
                path.display()
            )));
        }
    }
    let verifier =
        rustls_platform_verifier::Verifier::new_with_extra_roots(extra, provider.clone())
            .map_err(|e| setup(e.to_string()))?;
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| setup(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok(Arc::new(config))
}

async fn tls_wrap(
    stream: TcpStream,
    host: &str,
    ca_file: Option<&Path>,
) -> Result<Box<dyn ImapStream>, ImapError> {
    let name = rustls::pki_types::ServerName::try_from(host.to_string()).map_err(|e| {
        ImapError::Connection(format!("{host:?} is not a valid TLS server name: {e}"))
    })?;
    let tls = tokio_rustls::TlsConnector::from(tls_config(ca_file)?)
        .connect(name, stream)
        .await
        .map_err(|e| ImapError::Connection(format!("TLS with {host}: {e}")))?;
    Ok(Box::new(tls))
}

pub(super) async fn timed<T>(
    what: &str,
    f: impl std::future::Future<Output = Result<T, ImapError>>,
) -> Result<T, ImapError> {
    tokio::time::timeout(TIMEOUT, f).await.map_err(|_| {
        ImapError::Connection(format!("{what}: no answer in {}s", TIMEOUT.as_secs()))
    })?
}

/// Connects and logs in as `mailbox` (its From address unless the settings name a login),
/// with its OAuth2 tokens when it has `[mailbox.oauth]`.
pub async fn connect_for(
    mailbox: &Mailbox,
    settings: &ImapSettings,
    config_dir: &Path,
) -> Result<ImapSession, ImapError> {
    let oauth = crate::send::oauth::for_mailbox(mailbox, config_dir);
    connect(
        settings,
        mailbox.from.as_str(),
        config_dir,
        oauth.as_deref(),
    )
    .await
}

/// Connects and logs in. `default_user` is the login when the settings name none; `oauth`,
/// the mailbox's OAuth2 tokens when it has `[mailbox.oauth]` (then XOAUTH2 with them).
pub async fn connect(
    settings: &ImapSettings,
    default_user: &str,
    config_dir: &Path,
    oauth: Option<&TokenCache>,
) -> Result<ImapSession, ImapError> {
    let host = settings.host.as_str();
    let port = settings.port.unwrap_or(match settings.security {
        Security::Tls => 993,
        _ => 143,
    });
    let tcp = timed("connect", async {
        Ok(TcpStream::connect((host, port)).await?)
    })
    .await?;
    let ca = settings.ca_file.as_ref().map(|p| config_dir.join(p));
    let ca = ca.as_deref();
    let stream: Box<dyn ImapStream> = match settings.security {
        Security::Tls => tls_wrap(tcp, host, ca).await?,
        Security::Starttls => {
            let mut client = Client::new(tcp);
            timed("greeting", async { Ok(client.read_response().await?) }).await?;
            timed("STARTTLS", async {
                Ok(client.run_command_and_check_ok("STARTTLS", None).await?)
            })
            .await?;
            tls_wrap(client.into_inner(), host, ca).await?
        }
        Security::None => Box::new(tcp),
    };
    let mut client = Client::new(stream);
    if settings.security != Security::Starttls {
        timed("greeting", async { Ok(client.read_response().await?) }).await?;
    }
    let user = settings
        .username
        .clone()
        .unwrap_or_else(|| default_user.to_string());
    let (secret, auth) = login_secret(settings, config_dir, oauth).await?;
    let login = async {
        match auth {
            AuthMethod::Password => client
                .login(&user, secret.expose())
                .await
                .map_err(|(e, _)| ImapError::Auth(e.to_string())),
            AuthMethod::Xoauth2 => {
                let auth = XOAuth2 {
                    user: user.clone(),
                    token: secret.expose().to_string(),
                };
                client
                    .authenticate("XOAUTH2", &auth)
                    .await
                    .map_err(|(e, _)| ImapError::Auth(e.to_string()))
            }
        }
    };
    tokio::time::timeout(TIMEOUT, login)
        .await
        .map_err(|_| ImapError::Connection("login: no answer".into()))?
}

/// What to log in with: the mailbox's OAuth2 access token, or the configured password or token.
async fn login_secret(
    settings: &ImapSettings,
    config_dir: &Path,
    oauth: Option<&TokenCache>,
) -> Result<(Secret, AuthMethod), ImapError> {
    if let Some(tokens) = oauth {
        let token = tokens
            .access_token()
            .await
            .map_err(|e| ImapError::Secret(e.to_string()))?;
        return Ok((token, AuthMethod::Xoauth2));
    }
    match &settings.password {
        Some(src) => Ok((
            src.resolve(config_dir)
                .map_err(|e| ImapError::Secret(format!("cannot read the IMAP password: {e}")))?,
            settings.auth,
        )),
        None => Err(ImapError::Secret(
            "no IMAP password or token configured".into(),
        )),
    }
}

/// Whether the server offers IDLE.
pub async fn has_idle(session: &mut ImapSession) -> Result<bool, ImapError> {
    let caps = timed("CAPABILITY", async { Ok(session.capabilities().await?) }).await?;
    Ok(caps.has_str("IDLE"))
}

/// Opens a folder read-only.
pub async fn examine(session: &mut ImapSession, folder: &str) -> Result<Opened, ImapError> {
    let m = timed("EXAMINE", async { Ok(session.examine(folder).await?) }).await?;
    Ok(Opened {
        uidvalidity: m.uid_validity.unwrap_or(0),
        uid_next: m.uid_next,
        exists: m.exists,
    })
}

/// UIDs above `after` in the open folder, ascending.
pub async fn uids_after(session: &mut ImapSession, after: u32) -> Result<Vec<u32>, ImapError> {
    let query = format!("UID {}:*", after.saturating_add(1));
    let set = timed("UID SEARCH", async {
        Ok(session.uid_search(&query).await?)
    })
    .await?;
    // "N:*" always matches the last message, even when its UID is below N.
    let mut uids: Vec<u32> = set.into_iter().filter(|u| *u > after).collect();
    uids.sort_unstable();
    Ok(uids)
}

/// UIDs of messages received since `date` (for re-reading a renumbered folder).
pub async fn uids_since(
    session: &mut ImapSession,
    date: chrono::NaiveDate,
) -> Result<Vec<u32>, ImapError> {
    let query = format!("SINCE {}", date.format("%d-%b-%Y"));
    let set = timed("UID SEARCH", async {
        Ok(session.uid_search(&query).await?)
    })
    .await?;
    let mut uids: Vec<u32> = set.into_iter().collect();
    uids.sort_unstable();
    Ok(uids)
}

/// Fetches whole messages by UID without marking them read.
pub async fn fetch(session: &mut ImapSession, uids: &[u32]) -> Result<Vec<Fetched>, ImapError> {
    if uids.is_empty() {
        return Ok(Vec::new());
    }
    let set = uids
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let out = tokio::time::timeout(TIMEOUT * 5, async {
        let stream = session
            .uid_fetch(&set, "(UID INTERNALDATE BODY.PEEK[])")
            .await?;
        let fetched: Vec<_> = stream.try_collect().await?;
        Ok::<_, async_imap::error::Error>(fetched)
    })
    .await
    .map_err(|_| ImapError::Connection("FETCH: no answer".into()))??;
    let mut msgs: Vec<Fetched> = out
        .iter()
        .filter_map(|f| {
            Some(Fetched {
                uid: f.uid?,
                raw: f.body()?.to_vec(),
                received_at: f.internal_date().map(|d| d.timestamp()),
            })
        })
        .collect();
    msgs.sort_by_key(|m| m.uid);
    Ok(msgs)
}

/// Whether the open folder holds a message with this Message-ID.
pub async fn has_message_id(
    session: &mut ImapSession,
    message_id: &str,
) -> Result<bool, ImapError> {
    let query = format!("HEADER Message-ID {}", quoted(message_id));
    let set = timed("UID SEARCH", async {
        Ok(session.uid_search(&query).await?)
    })
    .await?;
    Ok(!set.is_empty())
}

/// `s` as an IMAP quoted string (the ids and addresses it quotes are ours, but be safe:
/// quotes, backslashes and line breaks are dropped).
pub(super) fn quoted(s: &str) -> String {
    let s: String = s
        .chars()
        .filter(|c| !matches!(c, '"' | '\\' | '\r' | '\n'))
        .collect();
    format!("\"{s}\"")
}

/// The name of the mailbox's Sent folder: the one marked `\Sent` (RFC 6154), else a folder
/// with a usual name.
pub async fn sent_folder(session: &mut ImapSession) -> Result<Option<String>, ImapError> {
    let names = timed("LIST", async {
        let stream = session.list(Some(""), Some("*")).await?;
        let names: Vec<_> = stream.try_collect().await?;
        Ok(names)
    })
    .await?;
    if let Some(n) = names.iter().find(|n| {
        n.attributes()
            .iter()
            .any(|a| matches!(a, async_imap::types::NameAttribute::Sent))
    }) {
        return Ok(Some(n.name().to_string()));
    }
    const USUAL: [&str; 6] = [
        "Sent",
        "Sent Items",
        "Sent Messages",
        "[Gmail]/Sent Mail",
        "INBOX.Sent",
        "Gesendet",
    ];
    Ok(names
        .iter()
        .find(|n| USUAL.iter().any(|u| n.name().eq_ignore_ascii_case(u)))
        .map(|n| n.name().to_string()))
}

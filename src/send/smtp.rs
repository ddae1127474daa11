//! SMTP delivery for one mailbox: a small pool of lettre connections driven one SMTP phase at
//! a time, so every failure is classified by *when* it happened. Before the message body is
//! handed over (connect, AUTH, MAIL, RCPT, DATA), a failure means the server does not have the
//! message: a 4xx or a network error is retried, a 5xx fails. Once the body is on the wire,
//! the server's final answer decides; without one (the connection dropped, a timeout) nobody
//! knows, and the touch becomes `uncertain` instead of risking a second copy.
//!
//! Where the server offers PIPELINING (RFC 2920; Gmail, Microsoft 365, Postfix and Exim all
//! do), MAIL, RCPT and DATA go out in one write and their answers are read in order; the body
//! and its final dot go out in one write. A message then costs two round trips, not four,
//! which is what a distant server's latency multiplies.

mod answer;
#[cfg(test)]
mod bcc_tests;

use std::path::PathBuf;
use std::time::Duration;

use lettre::Address;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::commands::{Data, Ehlo, Mail, Rcpt};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::{Mutex, Semaphore};

use super::transport::{Delivery, HandOver};
use crate::config::{AuthMethod, Security, SmtpSettings};
use answer::answer_delivery;

pub use answer::enhanced_code;

/// Time allowed to connect and for each command's answer.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
/// Time allowed for the answer to the end of the message (RFC 5321 §4.5.3.2.6 says 10 min).
const DATA_TIMEOUT: Duration = Duration::from_secs(300);

/// A mailbox's SMTP connections.
pub struct SmtpPool {
    settings: SmtpSettings,
    /// The login when the settings name none: the From address.
    default_user: String,
    config_dir: PathBuf,
    hello: ClientId,
    #[allow(
        clippy::vec_box,
        reason = "connections move between the pool and an attempt as boxes"
    )]
    idle: Mutex<Vec<Box<Conn>>>,
    slots: Semaphore,
    /// A server was ready for a body since the last connection that could not be set up
    /// (see [`SmtpPool::ready`]).
    ready: AtomicBool,
    /// With `[mailbox.oauth]`: where AUTH XOAUTH2 gets its access tokens.
    oauth: Option<std::sync::Arc<super::oauth::TokenCache>>,
}

/// One connection, set up and logged in.
struct Conn {
    smtp: AsyncSmtpConnection,
    /// The server offers PIPELINING.
    pipelining: bool,
}

/// Why a connection could not be set up (nothing was sent).
struct SetupError(String, Option<bool>);

impl SmtpPool {
    /// A pool of up to `connections` connections.
    pub fn new(
        settings: SmtpSettings,
        default_user: String,
        config_dir: PathBuf,
        connections: usize,
    ) -> SmtpPool {
        SmtpPool {
            settings,
            default_user,
            config_dir,
            hello: ClientId::default(),
            idle: Mutex::new(Vec::new()),
            slots: Semaphore::new(connections.max(1)),
            ready: AtomicBool::new(false),
            oauth: None,
        }
    }

    /// The pool logging in with XOAUTH2 and the access tokens of `tokens`.
    pub fn with_oauth(mut self, tokens: std::sync::Arc<super::oauth::TokenCache>) -> SmtpPool {
        self.oauth = Some(tokens);
        self
    }

    /// Whether the server took a body since this pool last failed to set up a connection
    /// (false at start). A message claimed while it is false is known unsent until the first
    /// body goes out (see [`HandOver`]), so an outage and a crash invent no uncertainty.
    pub fn ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// A connection could not be set up: the server is not ready for anything now.
    fn not_ready(&self, e: SetupError) -> Delivery {
        self.ready.store(false, Ordering::Release);
        setup_delivery(e)
    }

    fn port(&self) -> u16 {
        self.settings.port.unwrap_or(match self.settings.security {
            Security::Tls => 465,
            Security::Starttls => 587,
            Security::None => 25,
        })
    }

    async fn connect(&self) -> Result<Conn, SetupError> {
        let target = format!("{}:{}", self.settings.host, self.port());
        let mut conn = self.open(&target).await?;
        if self.settings.security == Security::Starttls {
            self.starttls(&mut conn).await?;
        }
        let pipelining = offers_pipelining(&mut conn, &self.hello).await?;
        self.login(&mut conn).await?;
        tracing::debug!(server = %target, pipelining, "SMTP connection ready");
        Ok(Conn {
            smtp: conn,
            pipelining,
        })
    }

    fn tls(&self) -> Result<TlsParameters, SetupError> {
        let host = &self.settings.host;
        TlsParameters::new(host.clone())
            .map_err(|e| SetupError(format!("TLS setup for {host}: {e}"), Some(false)))
    }

    /// The connection to `target` (the host and port), greeted, and over TLS from the start
    /// with `security = "tls"`.
    async fn open(&self, target: &str) -> Result<AsyncSmtpConnection, SetupError> {
        let host = self.settings.host.as_str();
        let implicit = match self.settings.security {
            Security::Tls => Some(self.tls()?),
            _ => None,
        };
        let connecting = async {
            match implicit {
                // Implicit TLS: lettre opens the socket itself (Nagle's algorithm stays on).
                Some(tls) => AsyncSmtpConnection::connect_tokio1(
                    (host, self.port()),
                    Some(COMMAND_TIMEOUT),
                    &self.hello,
                    Some(tls),
                    None,
                )
                .await
                .map_err(|e| smtp_setup_error(&format!("connecting to {target}"), &e)),
                None => {
                    let tcp = tokio::net::TcpStream::connect((host, self.port()))
                        .await
                        .map_err(|e| SetupError(format!("connecting to {target}: {e}"), None))?;
                    // Every write is a whole command group or a whole body, and the next
                    // waits for the server's answer: nothing gains from Nagle's algorithm.
                    let _ = tcp.set_nodelay(true);
                    AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &self.hello)
                        .await
                        .map_err(|e| smtp_setup_error(&format!("connecting to {target}"), &e))
                }
            }
        };
        tokio::time::timeout(COMMAND_TIMEOUT, connecting)
            .await
            .map_err(|_| SetupError(format!("connecting to {target} timed out"), None))?
    }

    /// STARTTLS, which a server that does not offer it fails for good.
    async fn starttls(&self, conn: &mut AsyncSmtpConnection) -> Result<(), SetupError> {
        if !conn.can_starttls() {
            return Err(SetupError(
                format!(
                    "{} does not offer STARTTLS; refusing to send in the clear (set security = \"tls\" or, on loopback only, \"none\")",
                    self.settings.host
                ),
                Some(false),
            ));
        }
        conn.starttls(self.tls()?, &self.hello)
            .await
            .map_err(|e| smtp_setup_error("STARTTLS", &e))?;
        Ok(())
    }

    /// AUTH, when the settings name a password or token, or the mailbox has OAuth2.
    async fn login(&self, conn: &mut AsyncSmtpConnection) -> Result<(), SetupError> {
        // Read at each connect: a token file or command may have been refreshed.
        let (secret, auth) = match (&self.oauth, &self.settings.password) {
            (Some(tokens), _) => (
                tokens
                    .access_token()
                    .await
                    .map_err(|e| SetupError(e.to_string(), None))?,
                AuthMethod::Xoauth2,
            ),
            (None, Some(source)) => (
                source
                    .resolve(&self.config_dir)
                    .map_err(|e| SetupError(format!("SMTP secret: {e}"), None))?,
                self.settings.auth,
            ),
            (None, None) => return Ok(()),
        };
        let user = self
            .settings
            .username
            .clone()
            .unwrap_or_else(|| self.default_user.clone());
        let mechanisms: &[Mechanism] = match auth {
            AuthMethod::Password => &[Mechanism::Plain, Mechanism::Login],
            AuthMethod::Xoauth2 => &[Mechanism::Xoauth2],
        };
        let creds = Credentials::new(user, secret.expose().to_string());
        tokio::time::timeout(COMMAND_TIMEOUT, conn.auth(mechanisms, &creds))
            .await
            .map_err(|_| SetupError("AUTH timed out".into(), None))?
            .map_err(|e| smtp_setup_error("AUTH", &e))?;
        Ok(())
    }

    /// Sends one message to one recipient, and to `bcc` as a second envelope recipient when
    /// given (a refusal of `bcc` alone is logged and does not hold the email back).
    /// `hand_over`, when given, is asked just before the body goes out; when it says no,
    /// nothing is sent.
    pub async fn deliver(
        &self,
        (from, to, bcc): (&str, &str, Option<&str>),
        message: &[u8],
        hand_over: Option<&dyn HandOver>,
    ) -> Delivery {
        let Ok(_slot) = self.slots.acquire().await else {
            return Delivery::Retry {
                reason: "the SMTP pool is closed".into(),
            };
        };
        let bcc = bcc.map(str::parse::<Address>).transpose();
        let (from, to) = match (from.parse::<Address>(), to.parse::<Address>(), bcc) {
            (Ok(f), Ok(t), Ok(b)) => (f, Envelope { to: t, bcc: b }),
            (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
                return Delivery::Rejected {
                    reason: format!("address not usable in SMTP: {e}"),
                    code: None,
                    bounce: None,
                };
            }
        };
        // A pooled connection may have been closed by the server while idle; then one fresh
        // connection gets a second chance, before anything of this message was handed over.
        let pooled = self.idle.lock().await.pop();
        let reused = pooled.is_some();
        let conn = match pooled {
            Some(c) => c,
            None => match self.connect().await {
                Ok(c) => Box::new(c),
                Err(e) => return self.not_ready(e),
            },
        };
        match self.transact(conn, &from, &to, message, hand_over).await {
            Attempt::Done(d, keep) => {
                if let Some(c) = keep {
                    self.idle.lock().await.push(c);
                }
                d
            }
            Attempt::StaleConnection(_) if reused => {
                let conn = match self.connect().await {
                    Ok(c) => Box::new(c),
                    Err(e) => return self.not_ready(e),
                };
                match self.transact(conn, &from, &to, message, hand_over).await {
                    Attempt::Done(d, keep) => {
                        if let Some(c) = keep {
                            self.idle.lock().await.push(c);
                        }
                        d
                    }
                    Attempt::StaleConnection(reason) => Delivery::Retry { reason },
                }
            }
            Attempt::StaleConnection(reason) => Delivery::Retry { reason },
        }
    }

    async fn transact(
        &self,
        mut conn: Box<Conn>,
        from: &Address,
        to: &Envelope,
        message: &[u8],
        hand_over: Option<&dyn HandOver>,
    ) -> Attempt {
        let params = match conn.mail_parameters(from, to, message) {
            Ok(p) => p,
            Err(refused) => {
                conn.smtp.abort().await;
                return Attempt::Done(refused, None);
            }
        };
        if let Err(failed) = conn.envelope(from, to, params).await {
            return failed;
        }
        // The server is ready for the body: from here on it may have the message, which the
        // store must know before it happens.
        if let Some(h) = hand_over
            && !h.before_body().await
        {
            conn.smtp.abort().await;
            return Attempt::Done(
                Delivery::Retry {
                    reason: "the claim could not be marked handed over; nothing was sent".into(),
                },
                None,
            );
        }
        self.ready.store(true, Ordering::Release);
        conn.body(message).await
    }

    /// Closes idle connections politely.
    pub async fn close(&self) {
        let mut idle = self.idle.lock().await;
        for mut c in idle.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(5), c.smtp.quit()).await;
        }
    }
}

impl Conn {
    /// MAIL FROM's parameters for this message: 8BITMIME for a body that is not ASCII (a
    /// server without it refuses the message for good), SMTPUTF8 for an address that is not.
    fn mail_parameters(
        &self,
        from: &Address,
        to: &Envelope,
        message: &[u8],
    ) -> Result<Vec<MailParameter>, Delivery> {
        let mut params = Vec::new();
        if !message.is_ascii() {
            if !self
                .smtp
                .server_info()
                .supports_feature(Extension::EightBitMime)
            {
                return Err(Delivery::Rejected {
                    reason: "the message has 8-bit content and the server does not offer 8BITMIME"
                        .into(),
                    code: None,
                    bounce: None,
                });
            }
            params.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }
        let bcc = to.bcc.as_ref().map(Address::to_string).unwrap_or_default();
        if from
            .to_string()
            .chars()
            .chain(to.to.to_string().chars())
            .chain(bcc.chars())
            .any(|c| !c.is_ascii())
        {
            params.push(MailParameter::SmtpUtfEight);
        }
        Ok(params)
    }

    /// MAIL, RCPT (and the bcc's RCPT), DATA: nothing is handed over yet. Pipelined, they go
    /// out together and their answers are read in order; the first one that is not a success
    /// decides, and is the `Err` (the connection then aborted), except a refused bcc, which
    /// is logged and skipped.
    async fn envelope(
        &mut self,
        from: &Address,
        to: &Envelope,
        params: Vec<MailParameter>,
    ) -> Result<(), Attempt> {
        let mut steps: Vec<(&str, String)> = vec![
            (
                "MAIL FROM",
                Mail::new(Some(from.clone()), params).to_string(),
            ),
            ("RCPT TO", Rcpt::new(to.to.clone(), vec![]).to_string()),
        ];
        if let Some(bcc) = &to.bcc {
            steps.push((BCC_RCPT, Rcpt::new(bcc.clone(), vec![]).to_string()));
        }
        steps.push(("DATA", Data.to_string()));
        let together: String = steps.iter().map(|(_, c)| c.as_str()).collect();
        for (i, (what, cmd)) in steps.iter().enumerate() {
            let answer = if !self.pipelining {
                tokio::time::timeout(COMMAND_TIMEOUT, self.smtp.command(cmd)).await
            } else if i == 0 {
                tokio::time::timeout(COMMAND_TIMEOUT, self.smtp.command(&together)).await
            } else {
                tokio::time::timeout(COMMAND_TIMEOUT, self.smtp.read_response()).await
            };
            let failed = match answer {
                Ok(Ok(_)) => continue,
                Ok(Err(e)) if *what == BCC_RCPT && e.status().is_some() => {
                    tracing::warn!(answer = %e, "the server refused the mailbox's bcc address; the email goes to the lead without it");
                    continue;
                }
                Err(_) => Attempt::Done(
                    Delivery::Retry {
                        reason: format!("{what}: no answer in {}s", COMMAND_TIMEOUT.as_secs()),
                    },
                    None,
                ),
                // No SMTP answer at all: a dropped (possibly stale) connection.
                Ok(Err(e)) if e.status().is_none() && i == 0 => {
                    Attempt::StaleConnection(format!("{what}: {e}"))
                }
                Ok(Err(e)) if e.status().is_none() => Attempt::Done(
                    Delivery::Retry {
                        reason: format!("{what}: {e}"),
                    },
                    None,
                ),
                Ok(Err(e)) => Attempt::Done(answer_delivery(what, &e), None),
            };
            self.smtp.abort().await;
            return Err(failed);
        }
        Ok(())
    }

    /// The body: from here on, a missing answer means the server may have the message.
    /// In one write with its final dot (lettre's `message` writes the dot apart).
    async fn body(mut self: Box<Self>, message: &[u8]) -> Attempt {
        let sent = match std::str::from_utf8(message) {
            Ok(text) => {
                tokio::time::timeout(DATA_TIMEOUT, self.smtp.command(data_text(text))).await
            }
            Err(_) => tokio::time::timeout(DATA_TIMEOUT, self.smtp.message(message)).await,
        };
        let delivery = match sent {
            Ok(Ok(resp)) => {
                let response = format!(
                    "{} {}",
                    resp.code(),
                    resp.message().collect::<Vec<_>>().join(" ")
                );
                return Attempt::Done(Delivery::Accepted { response }, Some(self));
            }
            Err(_) => Delivery::Uncertain {
                reason: format!(
                    "no answer to the end of the message in {}s",
                    DATA_TIMEOUT.as_secs()
                ),
            },
            Ok(Err(e)) if e.status().is_some() => answer_delivery("end of DATA", &e),
            Ok(Err(e)) => Delivery::Uncertain {
                reason: format!("the connection broke while sending the message: {e}"),
            },
        };
        self.smtp.abort().await;
        Attempt::Done(delivery, None)
    }
}

/// Whether the server offers PIPELINING. lettre keeps only the EHLO keywords it uses itself;
/// this asks again (a second EHLO only resets the empty transaction, RFC 5321 §4.1.4), before
/// AUTH.
async fn offers_pipelining(
    conn: &mut AsyncSmtpConnection,
    hello: &ClientId,
) -> Result<bool, SetupError> {
    match tokio::time::timeout(COMMAND_TIMEOUT, conn.command(Ehlo::new(hello.clone()))).await {
        Ok(Ok(answer)) => Ok(answer.message().any(|line| {
            line.split_whitespace()
                .next()
                .is_some_and(|k| k.eq_ignore_ascii_case("PIPELINING"))
        })),
        Ok(Err(e)) => Err(smtp_setup_error("EHLO", &e)),
        Err(_) => Err(SetupError("EHLO: no answer".into(), None)),
    }
}

/// The envelope's recipients: the lead, and the mailbox's logging address.
struct Envelope {
    to: Address,
    bcc: Option<Address>,
}

/// The step name of the bcc's RCPT.
const BCC_RCPT: &str = "RCPT TO (bcc)";

enum Attempt {
    /// The outcome, and the connection when it can be reused.
    Done(Delivery, Option<Box<Conn>>),
    /// The connection was dead before anything was said about this message.
    StaleConnection(String),
}

fn smtp_setup_error(what: &str, e: &lettre::transport::smtp::Error) -> SetupError {
    SetupError(format!("{what}: {e}"), e.status().map(|_| e.is_transient()))
}

/// The body as it goes on the wire after DATA's 354 (RFC 5321 §4.5.2): a line that starts
/// with a dot gets a second one, and CRLF.CRLF ends it. Byte for byte what lettre's `message`
/// writes, in one piece, except that a bare CR or a bare LF (which RFC 5321 §2.3.8 forbids,
/// and which some servers take for a line end: SMTP smuggling) becomes CRLF, and NUL is
/// dropped. The renderer already sends none; this is where the wire is written.
fn data_text(message: &str) -> String {
    let mut out = String::with_capacity(message.len() + 16);
    let mut line_start = true;
    let mut chars = message.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' | '\n' => {
                if c == '\r' && chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push_str("\r\n");
                line_start = true;
            }
            '\0' => {}
            c => {
                if c == '.' && line_start {
                    out.push('.');
                }
                out.push(c);
                line_start = false;
            }
        }
    }
    out.push_str("\r\n.\r\n");
    out
}

/// A connection that could not be set up: retry, unless the server said no for good (a 5xx to
/// AUTH means the password is wrong; retrying every minute would lock the account).
fn setup_delivery(e: SetupError) -> Delivery {
    match e.1 {
        Some(false) => Delivery::Rejected {
            reason: e.0,
            code: None,
            bounce: None,
        },
        _ => Delivery::Retry { reason: e.0 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_text_stuffs_leading_dots_and_ends_with_a_dot_line() {
        assert_eq!(data_text("a\r\n.b\r\n"), "a\r\n..b\r\n\r\n.\r\n");
        assert_eq!(data_text(".x"), "..x\r\n.\r\n");
        // Mid-line a dot stays single.
        assert_eq!(data_text("b c.d"), "b c.d\r\n.\r\n");
        assert_eq!(data_text("a\r\n\r\n."), "a\r\n\r\n..\r\n.\r\n");
    }

    #[test]
    fn data_text_never_sends_a_bare_cr_lf_or_nul() {
        // The SMTP smuggling payload from a lead field: every line end is CRLF and its dot
        // line is stuffed, so it cannot end the message early on any server.
        assert_eq!(
            data_text("x\r.\r\nMAIL FROM:<evil@x>\r\n"),
            "x\r\n..\r\nMAIL FROM:<evil@x>\r\n\r\n.\r\n"
        );
        assert_eq!(data_text("a\n.b"), "a\r\n..b\r\n.\r\n");
        assert_eq!(data_text("n\0ul"), "nul\r\n.\r\n");
    }
}

//! config.toml: where the store, sequences and templates are, the default time zone, the
//! mailboxes that send, and the HTTP settings. Typed; unknown keys are rejected with a
//! suggestion; every problem names `config.toml:LINE:COL`.

mod digest;
mod http;
mod notify;
mod providers;
mod routing;
mod secret;
mod sending;
mod webhooks;

use std::collections::HashSet;
use std::ops::Range;
use std::path::{Path, PathBuf};

use chrono_tz::Tz;
use serde::Deserialize;
use toml::Spanned;

use crate::diag::{Diagnostic, did_you_mean, line_col};
use crate::lead::Email;

pub use digest::DigestSchedule;
pub use http::{HttpConfig, Tracking};
pub use notify::{Notify, rep_endpoint, rep_endpoints};
pub use providers::{
    MailgunConfig, PostmarkConfig, Provider, ProvidersConfig, SendgridConfig, SesConfig,
};
pub use routing::{Condition, Group, Member, Routing, Rule, Target};
pub use secret::{Secret, SecretError, SecretSource};
pub use sending::{DkimAlgorithm, DkimSettings, Pacing, Sending, Warmup, parse_duration};
pub use webhooks::{
    DEFAULT_RETRY, SigningKey, Webhook, WebhookFormat, WebhookSettings, WebhookUrl, signing_key,
};

/// The loaded configuration, with paths made absolute against the config file's folder.
#[derive(Debug, Clone)]
pub struct Config {
    /// The config file as given.
    pub path: PathBuf,
    /// Its folder: relative paths in the file are relative to it.
    pub dir: PathBuf,
    /// The store URL: `sqlite://…` or `postgres://…` (sqlite paths made absolute).
    pub store_url: String,
    /// Folder of sequence YAML files.
    pub sequences_dir: PathBuf,
    /// Folder of templates.
    pub templates_dir: PathBuf,
    /// Time zone for leads without one, when the sequence names none.
    pub timezone: Tz,
    /// HTTP endpoint settings.
    pub http: HttpConfig,
    /// Daemon-wide sending rules (`[sending]`).
    pub sending: Sending,
    /// Email providers' webhooks (`[providers.*]`).
    pub providers: ProvidersConfig,
    /// The sending identities, in file order.
    pub mailboxes: Vec<Mailbox>,
    /// The endpoints that hear about events (`[[webhook]]`), in file order.
    pub webhooks: Vec<Webhook>,
    /// Retry schedule and timeout of outgoing webhooks (`[webhooks]`).
    pub webhook_settings: WebhookSettings,
    /// Which rep owns a new lead (`[[route]]`, `[groups]`).
    pub routing: Routing,
}

/// One sending identity: a rep's own mailbox.
#[derive(Debug, Clone)]
pub struct Mailbox {
    /// Short name used in sequences and on the command line (`ana`).
    pub name: String,
    /// The From address.
    pub from: Email,
    /// The From display name (`Ana López`).
    pub display_name: Option<String>,
    /// Plain-text signature, available to templates as `sender.signature`.
    pub signature: Option<String>,
    /// Most emails this mailbox sends in one day.
    pub daily_cap: u32,
    /// How messages leave.
    pub transport: Transport,
    /// Where replies arrive, when watched.
    pub imap: Option<ImapSettings>,
    /// Warm-up, minimum gap, parallel connections.
    pub pacing: Pacing,
    /// DKIM signing, when configured.
    pub dkim: Option<DkimSettings>,
    /// The email provider this mailbox's SMTP server belongs to, when it is one: messages
    /// then carry our Message-ID in that provider's custom-arguments header, so its webhook
    /// events name the touch.
    pub provider: Option<Provider>,
    /// How the rep behind this mailbox hears about replies and gets the daily digest
    /// (`[mailbox.notify]`); None: nobody is notified.
    pub notify: Option<Notify>,
}

/// How a mailbox sends.
#[derive(Debug, Clone)]
pub enum Transport {
    /// Write each message as an `.eml` file into a folder (for trying drumbeat without a server).
    Outbox {
        /// The folder.
        dir: PathBuf,
    },
    /// Send over SMTP.
    Smtp(SmtpSettings),
}

/// Transport security of a mail connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// Implicit TLS (SMTP 465, IMAP 993).
    Tls,
    /// Plain connection upgraded with STARTTLS (SMTP 587, IMAP 143).
    Starttls,
    /// No TLS: only for servers on loopback.
    None,
}

/// How to authenticate to a mail server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMethod {
    /// Username and password (SASL PLAIN or LOGIN, whichever the server offers).
    Password,
    /// OAuth2 bearer token (Gmail, Microsoft 365): the secret is the access token.
    Xoauth2,
}

/// SMTP settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSettings {
    /// Server host name.
    pub host: String,
    /// Port; defaults by security (465 for tls, 587 for starttls, 25 for none).
    pub port: Option<u16>,
    /// Transport security.
    #[serde(default = "default_security")]
    pub security: Security,
    /// Login name; defaults to the From address.
    pub username: Option<String>,
    /// Password or token method.
    #[serde(default = "default_auth")]
    pub auth: AuthMethod,
    /// Where the password (or OAuth token) comes from.
    pub password: Option<SecretSource>,
}

/// IMAP settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImapSettings {
    /// Server host name.
    pub host: String,
    /// Port; defaults by security (993 for tls, 143 otherwise).
    pub port: Option<u16>,
    /// Transport security.
    #[serde(default = "default_security")]
    pub security: Security,
    /// Login name; defaults to the From address.
    pub username: Option<String>,
    /// Password or token method.
    #[serde(default = "default_auth")]
    pub auth: AuthMethod,
    /// Where the password (or OAuth token) comes from.
    pub password: Option<SecretSource>,
    /// Folders watched besides INBOX (e.g. a spam folder where bounces land).
    #[serde(default)]
    pub folders: Vec<String>,
    /// Extra trusted CA certificates (PEM), for a server whose certificate comes from a
    /// private CA; relative to config.toml. The system's trust store is always used.
    pub ca_file: Option<PathBuf>,
}

fn default_security() -> Security {
    Security::Starttls
}
fn default_auth() -> AuthMethod {
    AuthMethod::Password
}

/// config.toml as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    store: Option<Spanned<String>>,
    sequences: Option<String>,
    templates: Option<String>,
    timezone: Option<Spanned<String>>,
    http: Option<http::RawHttp>,
    tracking: Option<http::RawTracking>,
    sending: Option<sending::RawSending>,
    providers: Option<providers::RawProviders>,
    #[serde(default, rename = "mailbox")]
    mailboxes: Vec<RawMailbox>,
    #[serde(default, rename = "webhook")]
    webhook: Vec<webhooks::RawWebhook>,
    webhooks: Option<webhooks::RawWebhookSettings>,
    #[serde(default, rename = "route")]
    routes: Vec<routing::RawRoute>,
    groups: Option<routing::RawGroups>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMailbox {
    name: Spanned<String>,
    from: Spanned<String>,
    display_name: Option<String>,
    signature: Option<String>,
    daily_cap: Option<Spanned<u32>>,
    outbox: Option<Spanned<String>>,
    smtp: Option<Spanned<SmtpSettings>>,
    imap: Option<ImapSettings>,
    min_gap: Option<Spanned<String>>,
    warmup: Option<Warmup>,
    connections: Option<Spanned<usize>>,
    dkim: Option<DkimSettings>,
    provider: Option<Provider>,
    notify: Option<Spanned<notify::RawNotify>>,
}

/// The default daily cap: what a warmed-up personal mailbox sends without hurting its reputation.
pub const DEFAULT_DAILY_CAP: u32 = 50;

impl Config {
    /// Loads and checks config.toml. Every problem found comes back, each as `file:line:col`.
    pub fn load(path: &Path) -> Result<Config, Vec<Diagnostic>> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| {
            vec![
                Diagnostic::error(&shown, None, None, format!("cannot read the config: {e}"))
                    .with_hint("pass --config PATH or set DRUMBEAT_CONFIG"),
            ]
        })?;
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        Config::parse(&text, &shown, path, &dir)
    }

    /// Parses config text; `shown` names the file in diagnostics.
    pub fn parse(
        text: &str,
        shown: &str,
        path: &Path,
        dir: &Path,
    ) -> Result<Config, Vec<Diagnostic>> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| vec![toml_error(text, shown, &e)])?;
        let at = |span: Range<usize>, msg: String| {
            let (line, col) = line_col(text, span.start);
            Diagnostic::error(shown, Some(line), Some(col), msg)
        };
        let mut problems = Vec::new();

        let store_url = match &raw.store {
            None => sqlite_url(dir, "data/drumbeat.db"),
            Some(s) => {
                let v = s.get_ref();
                if let Some(rest) = v
                    .strip_prefix("sqlite://")
                    .or_else(|| v.strip_prefix("sqlite:"))
                {
                    sqlite_url(dir, rest)
                } else if v.starts_with("postgres://") || v.starts_with("postgresql://") {
                    v.clone()
                } else {
                    problems.push(
                        at(s.span(), format!("store {v:?} is neither a sqlite:// nor a postgres:// URL"))
                            .with_hint("e.g. store = \"sqlite://data/drumbeat.db\" or \"postgres://drumbeat@localhost/drumbeat\""),
                    );
                    String::new()
                }
            }
        };

        let timezone = match &raw.timezone {
            None => Tz::UTC,
            Some(s) => match parse_tz(s.get_ref()) {
                Ok(tz) => tz,
                Err(msg) => {
                    problems.push(at(s.span(), msg));
                    Tz::UTC
                }
            },
        };

        let sending = match raw.sending.map(sending::RawSending::resolve) {
            None => Sending::default(),
            Some(Ok(s)) => s,
            Some(Err(ps)) => {
                for (span, msg) in ps {
                    problems.push(match span {
                        Some(span) => at(span, msg),
                        None => Diagnostic::error(shown, None, None, msg),
                    });
                }
                Sending::default()
            }
        };

        let (http, http_problems) = http::resolve(raw.http, raw.tracking);
        for (span, msg) in http_problems {
            problems.push(match span {
                Some(span) => at(span, msg),
                None => Diagnostic::error(shown, None, None, msg),
            });
        }

        let (webhooks, webhook_settings, webhook_problems) =
            webhooks::resolve(raw.webhook, raw.webhooks);
        let (providers, provider_problems) = providers::resolve(raw.providers, dir);
        for (span, msg) in webhook_problems.into_iter().chain(provider_problems) {
            problems.push(match span {
                Some(span) => at(span, msg),
                None => Diagnostic::error(shown, None, None, msg),
            });
        }

        let mut mailboxes = Vec::new();
        let mut names = HashSet::new();
        for m in raw.mailboxes {
            let name = m.name.get_ref().trim().to_string();
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            {
                problems.push(at(
                    m.name.span(),
                    format!("mailbox name {name:?} must be letters, digits, '-', '_' or '.'"),
                ));
            } else if !names.insert(name.clone()) {
                problems.push(at(
                    m.name.span(),
                    format!("mailbox {name:?} is defined twice"),
                ));
            }
            let from = match Email::parse(m.from.get_ref()) {
                Ok(e) => Some(e),
                Err(e) => {
                    problems.push(at(m.from.span(), format!("mailbox {name:?}: from: {e}")));
                    None
                }
            };
            let daily_cap = match &m.daily_cap {
                None => DEFAULT_DAILY_CAP,
                Some(c) if *c.get_ref() == 0 => {
                    problems.push(at(
                        c.span(),
                        format!("mailbox {name:?}: daily_cap must be at least 1"),
                    ));
                    1
                }
                Some(c) => *c.get_ref(),
            };
            let transport = match (m.outbox, m.smtp) {
                (Some(dirname), None) => Some(Transport::Outbox {
                    dir: dir.join(dirname.get_ref()),
                }),
                (None, Some(smtp)) => Some(Transport::Smtp(smtp.into_inner())),
                (Some(o), Some(_)) => {
                    problems.push(at(
                        o.span(),
                        format!("mailbox {name:?} has both outbox and smtp; keep one"),
                    ));
                    None
                }
                (None, None) => {
                    problems.push(
                        at(m.name.span(), format!("mailbox {name:?} has no transport"))
                            .with_hint("add outbox = \"data/outbox\" to write .eml files, or an [mailbox.smtp] table"),
                    );
                    None
                }
            };
            let mut pacing = Pacing {
                warmup: m.warmup,
                ..Pacing::default()
            };
            if let Some(g) = &m.min_gap {
                match parse_duration(g.get_ref()) {
                    Ok(v) => pacing.min_gap = v,
                    Err(e) => {
                        problems.push(at(g.span(), format!("mailbox {name:?}: min_gap: {e}")))
                    }
                }
            }
            if let Some(c) = &m.connections {
                if !(1..=16).contains(c.get_ref()) {
                    problems.push(at(
                        c.span(),
                        format!("mailbox {name:?}: connections must be between 1 and 16"),
                    ));
                } else {
                    pacing.connections = *c.get_ref();
                }
            }
            if let Some(w) = &m.warmup
                && w.start == 0
            {
                problems.push(at(
                    m.name.span(),
                    format!("mailbox {name:?}: warmup.start must be at least 1"),
                ));
            }
            let notify = m.notify.and_then(|n| {
                let span = n.span();
                let (notify, ps) =
                    notify::resolve(n.into_inner(), span, &name, from.as_ref(), timezone);
                for (span, msg) in ps {
                    problems.push(match span {
                        Some(span) => at(span, msg),
                        None => Diagnostic::error(shown, None, None, msg),
                    });
                }
                notify
            });
            if let (Some(from), Some(transport)) = (from, transport) {
                mailboxes.push(Mailbox {
                    name,
                    from,
                    display_name: m.display_name.filter(|s| !s.trim().is_empty()),
                    signature: m.signature.filter(|s| !s.trim().is_empty()),
                    daily_cap,
                    transport,
                    imap: m.imap,
                    pacing,
                    dkim: m.dkim,
                    provider: m.provider,
                    notify,
                });
            }
        }
        let (routing, routing_problems) = routing::resolve(raw.routes, raw.groups, &names);
        for (span, msg) in routing_problems {
            problems.push(match span {
                Some(span) => at(span, msg),
                None => Diagnostic::error(shown, None, None, msg),
            });
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Config {
            path: path.to_path_buf(),
            dir: dir.to_path_buf(),
            store_url,
            sequences_dir: dir.join(raw.sequences.as_deref().unwrap_or("sequences")),
            templates_dir: dir.join(raw.templates.as_deref().unwrap_or("templates")),
            timezone,
            http,
            sending,
            providers,
            mailboxes,
            webhooks,
            webhook_settings,
            routing,
        })
    }

    /// The mailbox with this name.
    pub fn mailbox(&self, name: &str) -> Option<&Mailbox> {
        self.mailboxes.iter().find(|m| m.name == name)
    }

    /// Checks that every secret the mailboxes name can be read now; one warning per secret
    /// that cannot (the daemon may run where the CLI does not, so this does not fail).
    pub fn check_secrets(&self) -> Vec<Diagnostic> {
        let shown = self.path.display().to_string();
        let mut out = Vec::new();
        for m in &self.mailboxes {
            let sources = [
                (
                    "smtp password",
                    match &m.transport {
                        Transport::Smtp(s) => s.password.as_ref(),
                        Transport::Outbox { .. } => None,
                    },
                ),
                (
                    "imap password",
                    m.imap.as_ref().and_then(|i| i.password.as_ref()),
                ),
                ("dkim key", m.dkim.as_ref().map(|d| &d.key)),
            ];
            for (what, src) in sources {
                if let Some(src) = src
                    && let Err(e) = src.resolve(&self.dir)
                {
                    out.push(Diagnostic::warning(
                        &shown,
                        None,
                        None,
                        format!("mailbox {:?}: {what}: {e}", m.name),
                    ));
                }
            }
        }
        for m in &self.mailboxes {
            if let Some(url @ WebhookUrl::Secret(_)) =
                m.notify.as_ref().and_then(|n| n.webhook.as_ref())
                && let Err(e) = url.resolve(&self.dir)
            {
                out.push(Diagnostic::warning(
                    &shown,
                    None,
                    None,
                    format!("mailbox {:?}: notify.webhook: {e}", m.name),
                ));
            }
        }
        for w in &self.webhooks {
            if let webhooks::WebhookUrl::Secret(_) = &w.url
                && let Err(e) = w.url.resolve(&self.dir)
            {
                out.push(Diagnostic::warning(
                    &shown,
                    None,
                    None,
                    format!("webhook {:?}: url: {e}", w.name),
                ));
            }
            if let Some(src) = &w.secret
                && let Err(e) = webhooks::signing_key(src, &self.dir)
            {
                out.push(Diagnostic::warning(
                    &shown,
                    None,
                    None,
                    format!("webhook {:?}: secret: {e}", w.name),
                ));
            }
        }
        // The keys that check providers' webhooks, and the HTTP side's own secrets.
        let p = &self.providers;
        let http = [
            (
                "providers.sendgrid.public_key",
                p.sendgrid.as_ref().map(|c| &c.public_key),
            ),
            (
                "providers.mailgun.signing_key",
                p.mailgun.as_ref().map(|c| &c.signing_key),
            ),
            (
                "providers.postmark.password",
                p.postmark.as_ref().map(|c| &c.password),
            ),
            ("http.token_key", self.http.token_key.as_ref()),
            ("http.api_token", self.http.api_token.as_ref()),
        ];
        for (what, src) in http {
            if let Some(src) = src
                && let Err(e) = src.resolve(&self.dir)
            {
                out.push(Diagnostic::warning(
                    &shown,
                    None,
                    None,
                    format!("{what}: {e}"),
                ));
            }
        }
        out
    }
}

/// Parses an IANA zone name, accepting any letter case, with a suggestion when close.
pub fn parse_tz(name: &str) -> Result<Tz, String> {
    if let Ok(tz) = name.parse::<Tz>() {
        return Ok(tz);
    }
    if let Some(tz) = chrono_tz::TZ_VARIANTS
        .iter()
        .find(|t| t.name().eq_ignore_ascii_case(name))
    {
        return Ok(*tz);
    }
    let mut msg =
        format!("{name:?} is not an IANA time zone (e.g. Europe/Berlin, America/New_York)");
    if let Some(s) = did_you_mean(name, chrono_tz::TZ_VARIANTS.iter().map(|t| t.name())) {
        msg.push_str(&format!("; did you mean {s:?}?"));
    }
    Err(msg)
}

fn sqlite_url(dir: &Path, rest: &str) -> String {
    let (file, query) = rest.split_once('?').unwrap_or((rest, ""));
    let path = if file == ":memory:" {
        PathBuf::from(file)
    } else {
        dir.join(file)
    };
    let mut url = format!("sqlite://{}", path.display());
    if !query.is_empty() {
        url.push('?');
        url.push_str(query);
    }
    url
}

/// A TOML error as `file:line:col: message`, with a did-you-mean for unknown keys.
fn toml_error(text: &str, shown: &str, e: &toml::de::Error) -> Diagnostic {
    let (line, col) = e.span().map_or((None, None), |s| {
        let (l, c) = line_col(text, s.start);
        (Some(l), Some(c))
    });
    let message = e.message().trim().to_string();
    let mut d = Diagnostic::error(shown, line, col, message.clone());
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let mut parts = rest.split('`');
        let field = parts.next().unwrap_or_default();
        let expected: Vec<&str> = parts.skip(1).step_by(2).collect();
        if let Some(s) = did_you_mean(field, expected.iter().copied()) {
            d.message = format!("unknown key `{field}`; did you mean `{s}`?");
        } else {
            d.message = format!(
                "unknown key `{field}` (expected one of {})",
                expected.join(", ")
            );
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, Vec<Diagnostic>> {
        Config::parse(
            text,
            "config.toml",
            Path::new("config.toml"),
            Path::new("/srv/db"),
        )
    }

    const MAILBOX: &str =
        "[[mailbox]]\nname = \"ana\"\nfrom = \"Ana@Example.com\"\noutbox = \"data/outbox\"\n";

    #[test]
    fn empty_config_uses_sqlite_in_data() {
        let c = parse("").unwrap();
        assert_eq!(c.store_url, "sqlite:///srv/db/data/drumbeat.db");
        assert_eq!(c.timezone, Tz::UTC);
        assert!(c.mailboxes.is_empty());
    }

    #[test]
    fn unknown_key_is_rejected_with_suggestion_and_position() {
        let err = parse("timezone = \"UTC\"\nstor = \"x\"\n").unwrap_err();
        assert_eq!(err.len(), 1);
        assert_eq!(
            err[0].to_string(),
            "config.toml:2:1: unknown key `stor`; did you mean `store`?"
        );
    }

    #[test]
    fn invalid_timezone_names_line_and_suggests() {
        let err = parse("timezone = \"Europe/Berln\"\n").unwrap_err();
        let s = err[0].to_string();
        assert!(
            s.starts_with("config.toml:1:12: \"Europe/Berln\" is not an IANA time zone"),
            "{s}"
        );
        assert!(s.contains("did you mean \"Europe/Berlin\""), "{s}");
    }

    #[test]
    fn inline_secret_is_rejected() {
        let text = "[[mailbox]]\nname = \"ana\"\nfrom = \"ana@example.com\"\n[mailbox.smtp]\nhost = \"smtp.example.com\"\npassword = \"hunter2\"\n";
        let err = parse(text).unwrap_err();
        let s = err[0].to_string();
        assert!(s.starts_with("config.toml:6:"), "{s}");
        assert!(s.contains("not written inline"), "{s}");
        assert!(!s.contains("hunter2"), "secret leaked into the error: {s}");
    }

    #[test]
    fn mailbox_is_typed_and_normalized() {
        let c = parse(MAILBOX).unwrap();
        let m = &c.mailboxes[0];
        assert_eq!(m.from.as_str(), "ana@example.com");
        assert_eq!(m.daily_cap, DEFAULT_DAILY_CAP);
        assert!(
            matches!(&m.transport, Transport::Outbox { dir } if dir == Path::new("/srv/db/data/outbox"))
        );
    }

    #[test]
    fn every_mailbox_problem_is_reported() {
        let text = "[[mailbox]]\nname = \"ana\"\nfrom = \"nope\"\noutbox = \"o\"\n[[mailbox]]\nname = \"ana\"\nfrom = \"b@example.com\"\n";
        let err = parse(text).unwrap_err();
        let all: Vec<String> = err.iter().map(ToString::to_string).collect();
        assert_eq!(all.len(), 3, "{all:#?}");
        assert!(
            all[0].starts_with("config.toml:3:8: mailbox \"ana\": from:"),
            "{all:#?}"
        );
        assert!(
            all[1].starts_with("config.toml:6:8: mailbox \"ana\" is defined twice"),
            "{all:#?}"
        );
        assert!(all[2].contains("has no transport"), "{all:#?}");
    }

    #[test]
    fn wrong_type_names_position() {
        let err = parse("[[mailbox]]\nname = \"ana\"\nfrom = \"a@example.com\"\noutbox = \"o\"\ndaily_cap = \"forty\"\n").unwrap_err();
        assert!(
            err[0].to_string().starts_with("config.toml:5:13:"),
            "{}",
            err[0]
        );
    }
}

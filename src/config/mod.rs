//! config.toml: where the store, sequences and templates are, the default time zone, the
//! mailboxes that send, and the HTTP settings. Typed; unknown keys are rejected with a
//! suggestion; every problem names `config.toml:LINE:COL`.

mod calendars;
mod crm;
mod digest;
mod dns;
mod enrollment;
mod health;
mod http;
mod mailbox;
mod notify;
mod oauth;
mod problems;
mod providers;
mod routing;
mod secret;
mod sending;
mod store;
mod webhooks;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use chrono_tz::Tz;
use serde::Deserialize;
use toml::Spanned;

use crate::diag::{Diagnostic, did_you_mean, line_col};
use problems::Report;

pub use calendars::{CalcomConfig, CalendarsConfig, CalendlyConfig};
pub use crm::{CrmConfig, CrmSettings, HUBSPOT_API};
pub use digest::DigestSchedule;
pub use dns::{DEFAULT_DNS_TIMEOUT, DnsSettings, parse_resolver};
pub use enrollment::Enrollment;
pub use health::Health;
pub use http::{HttpConfig, Tracking};
pub use mailbox::{
    AuthMethod, DEFAULT_DAILY_CAP, ImapSettings, Mailbox, Security, SmtpSettings, Transport,
    WorkingHours,
};
pub use notify::{Notify, rep_endpoint, rep_endpoints};
pub use oauth::{OAuthProvider, OAuthSettings};
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
    /// The most connections to the store at once, per process (None: the engine's default).
    pub store_connections: Option<u32>,
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
    /// Scheduling tools' webhooks (`[calendars.*]`).
    pub calendars: CalendarsConfig,
    /// The CRMs kept in step (`[crm.*]`).
    pub crm: CrmConfig,
    /// The sending identities, in file order.
    pub mailboxes: Vec<Mailbox>,
    /// The endpoints that hear about events (`[[webhook]]`), in file order.
    pub webhooks: Vec<Webhook>,
    /// Retry schedule and timeout of outgoing webhooks (`[webhooks]`).
    pub webhook_settings: WebhookSettings,
    /// Which rep owns a new lead (`[[route]]`, `[groups]`).
    pub routing: Routing,
    /// When a sending mailbox pauses for its health (`[health]`).
    pub health: Health,
    /// The DNS servers `doctor` and the mail-host checks ask (`[dns]`).
    pub dns: DnsSettings,
    /// Who may join a sequence (`[enrollment]`).
    pub enrollment: Enrollment,
}

/// config.toml as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    store: Option<Spanned<String>>,
    store_connections: Option<Spanned<i64>>,
    sequences: Option<String>,
    templates: Option<String>,
    timezone: Option<Spanned<String>>,
    http: Option<http::RawHttp>,
    tracking: Option<http::RawTracking>,
    sending: Option<sending::RawSending>,
    dns: Option<dns::RawDns>,
    providers: Option<providers::RawProviders>,
    calendars: Option<calendars::RawCalendars>,
    crm: Option<crm::RawCrm>,
    #[serde(default, rename = "mailbox")]
    mailboxes: Vec<mailbox::RawMailbox>,
    #[serde(default, rename = "webhook")]
    webhook: Vec<webhooks::RawWebhook>,
    webhooks: Option<webhooks::RawWebhookSettings>,
    #[serde(default, rename = "route")]
    routes: Vec<routing::RawRoute>,
    groups: Option<routing::RawGroups>,
    health: Option<health::RawHealth>,
    enrollment: Option<enrollment::RawEnrollment>,
}

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
        let mut report = Report::new(text, shown);
        let store_url = store::url(raw.store.as_ref(), dir, &mut report);
        let store_connections = store::connections(raw.store_connections.as_ref(), &mut report);
        let timezone = match &raw.timezone {
            None => Tz::UTC,
            Some(s) => parse_tz(s.get_ref()).unwrap_or_else(|msg| {
                report.error(Some(s.span()), msg);
                Tz::UTC
            }),
        };
        let sending = match raw.sending.map(sending::RawSending::resolve) {
            None => Sending::default(),
            Some(Ok(s)) => s,
            Some(Err(ps)) => {
                report.extend(ps);
                Sending::default()
            }
        };
        let dns = match raw.dns.map(dns::RawDns::resolve) {
            None => DnsSettings::default(),
            Some(Ok(d)) => d,
            Some(Err(ps)) => {
                report.extend(ps);
                DnsSettings::default()
            }
        };
        let (http, ps) = http::resolve(raw.http, raw.tracking);
        report.extend(ps);
        let (webhooks, webhook_settings, ps) = webhooks::resolve(raw.webhook, raw.webhooks);
        report.extend(ps);
        let (providers, ps) = providers::resolve(raw.providers, dir);
        report.extend(ps);
        let (crm, ps) = crm::resolve(raw.crm);
        report.extend(ps);
        let mut names = HashSet::new();
        let mailboxes = raw
            .mailboxes
            .into_iter()
            .filter_map(|m| mailbox::resolve(m, dir, timezone, &mut names, &mut report))
            .collect();
        let (routing, ps) = routing::resolve(raw.routes, raw.groups, &names);
        report.extend(ps);
        let (health, ps) = raw
            .health
            .map_or_else(Default::default, health::RawHealth::resolve);
        report.extend(ps);
        let (enrollment, ps) = raw
            .enrollment
            .map_or_else(Default::default, enrollment::RawEnrollment::resolve);
        report.extend(ps);
        report.finish()?;
        Ok(Config {
            path: path.to_path_buf(),
            dir: dir.to_path_buf(),
            store_url,
            store_connections,
            sequences_dir: dir.join(raw.sequences.as_deref().unwrap_or("sequences")),
            templates_dir: dir.join(raw.templates.as_deref().unwrap_or("templates")),
            timezone,
            http,
            sending,
            providers,
            calendars: calendars::resolve(raw.calendars),
            crm,
            mailboxes,
            webhooks,
            webhook_settings,
            routing,
            health,
            dns,
            enrollment,
        })
    }

    /// The mailbox with this name.
    pub fn mailbox(&self, name: &str) -> Option<&Mailbox> {
        self.mailboxes.iter().find(|m| m.name == name)
    }

    /// Checks that every secret config.toml names can be read now. A mailbox's SMTP or IMAP
    /// password that cannot is an error: the daemon would not start (see
    /// [`Config::unreadable_mail_secrets`]). The others are warnings, and so is a systemd
    /// credential checked outside the service, where `$CREDENTIALS_DIRECTORY` is not set.
    pub fn check_secrets(&self) -> Vec<Diagnostic> {
        let shown = self.path.display().to_string();
        let outside_service = std::env::var_os("CREDENTIALS_DIRECTORY").is_none();
        let mut out: Vec<Diagnostic> = self
            .mail_secrets()
            .filter_map(|(m, what, src)| {
                let e = src.resolve(&self.dir).err()?;
                let msg = format!("mailbox {:?}: {what}: {e}", m.name);
                Some(match src {
                    SecretSource::Credential(_) if outside_service => {
                        Diagnostic::warning(&shown, None, None, msg)
                    }
                    _ => Diagnostic::error(&shown, None, None, msg).with_hint(
                        "drumbeat run refuses to start without it: set it, or remove the setting",
                    ),
                })
            })
            .collect();
        let mut problems = self.mailbox_secret_problems();
        problems.extend(self.webhook_secret_problems());
        problems.extend(self.http_secret_problems());
        problems.extend(self.crm_secret_problems());
        out.extend(
            problems
                .into_iter()
                .map(|msg| Diagnostic::warning(&shown, None, None, msg)),
        );
        out
    }

    /// The mailboxes' SMTP and IMAP passwords that cannot be read where this runs, each as
    /// `mailbox "ana": imap password: environment variable ANA_IMAP_PASSWORD is not set`. The
    /// daemon refuses to start on any: a watcher without its password would never read the
    /// inbox, and follow-ups would go out blind.
    pub fn unreadable_mail_secrets(&self) -> Vec<String> {
        self.mail_secrets()
            .filter_map(|(m, what, src)| {
                let e = src.resolve(&self.dir).err()?;
                Some(format!("mailbox {:?}: {what}: {e}", m.name))
            })
            .collect()
    }

    /// Each mailbox's SMTP and IMAP password sources and OAuth2 secrets, with what they are for.
    fn mail_secrets(&self) -> impl Iterator<Item = (&Mailbox, &'static str, &SecretSource)> {
        self.mailboxes.iter().flat_map(|m| {
            let smtp = match &m.transport {
                Transport::Smtp(s) => s.password.as_ref(),
                Transport::Outbox { .. } => None,
            };
            let imap = m.imap.as_ref().and_then(|i| i.password.as_ref());
            let refresh = m.oauth.as_ref().map(|o| &o.refresh_token);
            let client = m.oauth.as_ref().and_then(|o| o.client_secret.as_ref());
            [
                ("smtp password", smtp),
                ("imap password", imap),
                (
                    "oauth refresh_token (run `drumbeat auth` for this mailbox)",
                    refresh,
                ),
                ("oauth client_secret", client),
            ]
            .into_iter()
            .filter_map(move |(what, src)| Some((m, what, src?)))
        })
    }

    /// The mailboxes' DKIM keys that cannot be read, then the reps' notification webhooks.
    fn mailbox_secret_problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        for m in &self.mailboxes {
            if let Some(d) = &m.dkim
                && let Err(e) = d.key.resolve(&self.dir)
            {
                out.push(format!("mailbox {:?}: dkim key: {e}", m.name));
            }
        }
        for m in &self.mailboxes {
            if let Some(url @ WebhookUrl::Secret(_)) =
                m.notify.as_ref().and_then(|n| n.webhook.as_ref())
                && let Err(e) = url.resolve(&self.dir)
            {
                out.push(format!("mailbox {:?}: notify.webhook: {e}", m.name));
            }
        }
        out
    }

    /// The CRMs' tokens that cannot be read (the sync waits for them; sending does not).
    fn crm_secret_problems(&self) -> Vec<String> {
        [
            ("hubspot", &self.crm.hubspot),
            ("pipedrive", &self.crm.pipedrive),
        ]
        .into_iter()
        .filter_map(|(name, c)| {
            let e = c.as_ref()?.token.resolve(&self.dir).err()?;
            Some(format!("crm.{name}.token: {e}"))
        })
        .collect()
    }

    /// The `[[webhook]]` URLs and signing secrets that cannot be read.
    fn webhook_secret_problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        for w in &self.webhooks {
            if let webhooks::WebhookUrl::Secret(_) = &w.url
                && let Err(e) = w.url.resolve(&self.dir)
            {
                out.push(format!("webhook {:?}: url: {e}", w.name));
            }
            if let Some(src) = &w.secret
                && let Err(e) = webhooks::signing_key(src, &self.dir)
            {
                out.push(format!("webhook {:?}: secret: {e}", w.name));
            }
        }
        out
    }

    /// The keys that check providers' webhooks, and the HTTP side's own secrets, that cannot
    /// be read.
    fn http_secret_problems(&self) -> Vec<String> {
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
            (
                "calendars.calcom.secret",
                self.calendars.calcom.as_ref().map(|c| &c.secret),
            ),
            (
                "calendars.calendly.signing_key",
                self.calendars.calendly.as_ref().map(|c| &c.signing_key),
            ),
            ("http.token_key", self.http.token_key.as_ref()),
            ("http.api_token", self.http.api_token.as_ref()),
        ];
        http.into_iter()
            .filter_map(|(what, src)| {
                let e = src?.resolve(&self.dir).err()?;
                Some(format!("{what}: {e}"))
            })
            .collect()
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
    fn store_connections_is_a_bounded_count() {
        assert_eq!(parse("").unwrap().store_connections, None);
        assert_eq!(
            parse("store_connections = 3\n").unwrap().store_connections,
            Some(3)
        );
        for bad in ["0", "1", "101", "-4"] {
            let err =
                parse(&format!("timezone = \"UTC\"\nstore_connections = {bad}\n")).unwrap_err();
            assert_eq!(
                err[0].to_string(),
                format!(
                    "config.toml:2:21: store_connections = {bad}: must be 2 to 100\n  hint: \
                     connections per daemon; PostgreSQL's max_connections must cover every daemon's"
                ),
            );
        }
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
    fn dns_table_problems_name_the_field_and_position() {
        let c =
            parse("[dns]\nresolver = [\"127.0.0.1:5353\", \"::1\"]\ntimeout = \"2s\"\n").unwrap();
        assert_eq!(c.dns.resolvers.len(), 2);
        assert_eq!(c.dns.timeout, std::time::Duration::from_secs(2));
        let err = parse("[dns]\nresolver = \"resolver.local\"\ntimeout = \"0\"\n").unwrap_err();
        let all: Vec<String> = err.iter().map(ToString::to_string).collect();
        assert!(
            all[0].starts_with("config.toml:2:12: dns.resolver:"),
            "{all:#?}"
        );
        assert!(
            all[1].starts_with("config.toml:3:11: dns.timeout:"),
            "{all:#?}"
        );
        let err = parse("[dns]\nresolvers = \"1.1.1.1\"\n").unwrap_err();
        assert!(
            err[0].to_string().contains("did you mean `resolver`"),
            "{}",
            err[0]
        );
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

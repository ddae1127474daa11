//! `[[mailbox]]`: the sending identities, each a rep's own mailbox: its From, how messages
//! leave (an outbox folder or SMTP), where replies arrive (IMAP), its pace and caps, and how
//! its rep is notified.

use std::collections::HashSet;
use std::ops::Range;
use std::path::{Path, PathBuf};

use chrono::NaiveTime;
use chrono_tz::Tz;
use serde::Deserialize;
use toml::Spanned;

use super::notify::{self, Notify, RawNotify};
use super::oauth::{self, OAuthSettings, RawOAuth};
use super::problems::Report;
use super::{DkimSettings, Pacing, Provider, SecretSource, Warmup, parse_duration};
use crate::lead::Email;

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
    /// The rep's time zone (`timezone`; config.toml's top-level one by default): the zone of
    /// the rep's working hours and of dates given for this mailbox (`pause --mailbox`).
    pub timezone: Tz,
    /// The rep's working hours, Monday to Friday in `timezone` (`working_hours`, 09:00–17:00 by
    /// default): tasks for the rep come due inside them, wherever the lead is.
    pub working_hours: WorkingHours,
    /// A logging address (`bcc`: HubSpot's BCC address, Pipedrive's Smart BCC,
    /// Email-to-Salesforce): every email to a lead from this mailbox is also delivered there,
    /// as an envelope recipient only (no Bcc: header, so the lead never sees it).
    pub bcc: Option<Email>,
    /// OAuth2 (`[mailbox.oauth]`): SMTP and IMAP log in with XOAUTH2, with access tokens
    /// drumbeat gets itself from the refresh token.
    pub oauth: Option<OAuthSettings>,
}

/// A rep's working hours: from `start` (inclusive) to `end` (exclusive), local times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkingHours {
    /// When the rep's day starts.
    pub start: NaiveTime,
    /// When it ends; after `start`.
    pub end: NaiveTime,
}

impl Default for WorkingHours {
    /// 09:00–17:00.
    fn default() -> Self {
        WorkingHours {
            start: NaiveTime::from_hms_opt(9, 0, 0).expect("09:00 is a time"),
            end: NaiveTime::from_hms_opt(17, 0, 0).expect("17:00 is a time"),
        }
    }
}

impl WorkingHours {
    /// Reads `"08:30-17:00"` (24-hour times, start before end).
    pub fn parse(text: &str) -> Result<WorkingHours, String> {
        let bad = || format!(r#""{text}" is not a range of 24-hour times such as "09:00-17:00""#);
        let (start, end) = text.split_once('-').ok_or_else(bad)?;
        let time = |t: &str| NaiveTime::parse_from_str(t.trim(), "%H:%M").map_err(|_| bad());
        let (start, end) = (time(start)?, time(end)?);
        if start >= end {
            return Err(format!(
                r#""{text}" does not end after it starts (working hours stay within one day)"#
            ));
        }
        Ok(WorkingHours { start, end })
    }
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
    /// Whether each email sent over SMTP is put into the Sent folder too (IMAP APPEND, flagged
    /// `\Seen`). None: yes, except on Gmail, which files sent mail itself.
    pub save_sent: Option<bool>,
    /// The Sent folder's name; None: the one the server marks `\Sent` (RFC 6154), else a usual name.
    pub sent_folder: Option<String>,
}

/// Hosts whose servers file the mail sent through them in Sent themselves.
const FILES_SENT_ITSELF: [&str; 2] = ["gmail.com", "googlemail.com"];

impl Mailbox {
    /// Whether the emails this mailbox sends are copied into its Sent folder: it sends over
    /// SMTP, has IMAP, and `save_sent` is not false (by default, not on Gmail).
    pub fn saves_sent(&self) -> bool {
        let (Transport::Smtp(smtp), Some(imap)) = (&self.transport, &self.imap) else {
            return false;
        };
        imap.save_sent.unwrap_or_else(|| {
            let files_itself = |host: &str| {
                let host = host.trim_end_matches('.').to_ascii_lowercase();
                FILES_SENT_ITSELF
                    .iter()
                    .any(|d| host == *d || host.ends_with(&format!(".{d}")))
            };
            !(files_itself(&smtp.host) || files_itself(&imap.host))
        })
    }
}

fn default_security() -> Security {
    Security::Starttls
}
fn default_auth() -> AuthMethod {
    AuthMethod::Password
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMailbox {
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
    notify: Option<Spanned<RawNotify>>,
    timezone: Option<Spanned<String>>,
    working_hours: Option<Spanned<String>>,
    bcc: Option<Spanned<String>>,
    oauth: Option<Spanned<RawOAuth>>,
}

/// The default daily cap: what a warmed-up personal mailbox sends without hurting its reputation.
pub const DEFAULT_DAILY_CAP: u32 = 50;

/// Checks one `[[mailbox]]`, adding its problems to `report` and its name to `names` (the
/// names taken so far). The mailbox comes back when it can send: a valid From and one
/// transport.
pub(super) fn resolve(
    m: RawMailbox,
    dir: &Path,
    timezone: Tz,
    names: &mut HashSet<String>,
    report: &mut Report,
) -> Option<Mailbox> {
    let name = mailbox_name(&m.name, names, report);
    let from = match Email::parse(m.from.get_ref()) {
        Ok(e) => Some(e),
        Err(e) => {
            report.error(Some(m.from.span()), format!("mailbox {name:?}: from: {e}"));
            None
        }
    };
    let daily_cap = match &m.daily_cap {
        None => DEFAULT_DAILY_CAP,
        Some(c) if *c.get_ref() == 0 => {
            report.error(
                Some(c.span()),
                format!("mailbox {name:?}: daily_cap must be at least 1"),
            );
            1
        }
        Some(c) => *c.get_ref(),
    };
    let oauth = m.oauth.and_then(|o| oauth::resolve(&name, o, report));
    logins(
        &name,
        m.name.span(),
        oauth.is_some(),
        (m.smtp.as_ref(), m.imap.as_ref()),
        report,
    );
    let transport = transport(&name, m.name.span(), m.outbox, m.smtp, dir, report);
    let pacing = pacing(
        &name,
        m.name.span(),
        m.warmup,
        m.min_gap.as_ref(),
        m.connections.as_ref(),
        report,
    );
    let notify = m.notify.and_then(|n| {
        let span = n.span();
        let (notify, ps) = notify::resolve(n.into_inner(), span, &name, from.as_ref(), timezone);
        report.extend(ps);
        notify
    });
    let (rep_zone, working_hours) =
        rep_hours(&name, (&m.timezone, &m.working_hours), timezone, report);
    let bcc = m.bcc.and_then(|b| logging_address(&name, &b, report));
    let (Some(from), Some(transport)) = (from, transport) else {
        return None;
    };
    Some(Mailbox {
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
        timezone: rep_zone,
        working_hours,
        bcc,
        oauth,
    })
}

/// How SMTP and IMAP log in. With `[mailbox.oauth]` (`oauth`), with its tokens: a password
/// beside it is a mistake (which one would be used?). Without, IMAP needs a password.
fn logins(
    name: &str,
    at: Range<usize>,
    oauth: bool,
    (smtp, imap): (Option<&Spanned<SmtpSettings>>, Option<&ImapSettings>),
    report: &mut Report,
) {
    if !oauth {
        return check_imap(name, at, imap, report);
    }
    let smtp = smtp.and_then(|s| s.get_ref().password.as_ref().map(|_| s.span()));
    for (what, span) in [
        ("smtp", smtp),
        (
            "imap",
            imap.and_then(|i| i.password.as_ref()).map(|_| at.clone()),
        ),
    ] {
        if let Some(span) = span {
            report.error(
                Some(span),
                format!("mailbox {name:?}: {what}.password and [mailbox.oauth] are both given; with oauth, drumbeat gets the tokens itself: remove {what}.password"),
            );
        }
    }
}

/// A mailbox's name, checked: letters, digits, '-', '_' or '.', and not taken yet in `names`.
fn mailbox_name(
    given: &Spanned<String>,
    names: &mut HashSet<String>,
    report: &mut Report,
) -> String {
    let name = given.get_ref().trim().to_string();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        report.error(
            Some(given.span()),
            format!("mailbox name {name:?} must be letters, digits, '-', '_' or '.'"),
        );
    } else if !names.insert(name.clone()) {
        report.error(
            Some(given.span()),
            format!("mailbox {name:?} is defined twice"),
        );
    }
    name
}

/// A mailbox's `bcc`: a valid address, or an error at its place.
fn logging_address(name: &str, bcc: &Spanned<String>, report: &mut Report) -> Option<Email> {
    Email::parse(bcc.get_ref())
        .map_err(|e| report.error(Some(bcc.span()), format!("mailbox {name:?}: bcc: {e}")))
        .ok()
}

/// The rep's zone (config.toml's `timezone` by default) and working hours of a mailbox.
fn rep_hours(
    name: &str,
    (zone, hours): (&Option<Spanned<String>>, &Option<Spanned<String>>),
    timezone: Tz,
    report: &mut Report,
) -> (Tz, WorkingHours) {
    let zone = match zone {
        None => timezone,
        Some(tz) => super::parse_tz(tz.get_ref()).unwrap_or_else(|e| {
            report.error(Some(tz.span()), format!("mailbox {name:?}: timezone: {e}"));
            timezone
        }),
    };
    let hours = match hours {
        None => WorkingHours::default(),
        Some(h) => WorkingHours::parse(h.get_ref()).unwrap_or_else(|e| {
            report.error(
                Some(h.span()),
                format!("mailbox {name:?}: working_hours: {e}"),
            );
            WorkingHours::default()
        }),
    };
    (zone, hours)
}

/// An `[mailbox.imap]` table without a password is an error: its inbox could never be read,
/// and follow-ups from the mailbox wait for a read (DESIGN.md invariant 7).
fn check_imap(name: &str, at: Range<usize>, imap: Option<&ImapSettings>, report: &mut Report) {
    if imap.is_some_and(|i| i.password.is_none()) {
        report.error(
            Some(at),
            format!(
                "mailbox {name:?}: [mailbox.imap] has no password: its inbox could never be read, \
                 so its follow-ups would wait forever (add password = {{ env = \"…\" }} or {{ credential = \"…\" }})"
            ),
        );
    }
}

/// A mailbox's one transport: an outbox folder (relative to `dir`) or SMTP. `at` is the
/// mailbox's name, where a missing transport is reported.
fn transport(
    name: &str,
    at: Range<usize>,
    outbox: Option<Spanned<String>>,
    smtp: Option<Spanned<SmtpSettings>>,
    dir: &Path,
    report: &mut Report,
) -> Option<Transport> {
    match (outbox, smtp) {
        (Some(dirname), None) => Some(Transport::Outbox {
            dir: dir.join(dirname.get_ref()),
        }),
        (None, Some(smtp)) => Some(Transport::Smtp(smtp.into_inner())),
        (Some(o), Some(_)) => {
            report.error(
                Some(o.span()),
                format!("mailbox {name:?} has both outbox and smtp; keep one"),
            );
            None
        }
        (None, None) => {
            let d = report
                .at(at, format!("mailbox {name:?} has no transport"))
                .with_hint(
                    "add outbox = \"data/outbox\" to write .eml files, or an [mailbox.smtp] table",
                );
            report.push(d);
            None
        }
    }
}

/// A mailbox's pace: warm-up, minimum gap and parallel connections. `at` is the mailbox's
/// name, where a bad warm-up is reported.
fn pacing(
    name: &str,
    at: Range<usize>,
    warmup: Option<Warmup>,
    min_gap: Option<&Spanned<String>>,
    connections: Option<&Spanned<usize>>,
    report: &mut Report,
) -> Pacing {
    let mut pacing = Pacing {
        warmup,
        ..Pacing::default()
    };
    if let Some(g) = min_gap {
        match parse_duration(g.get_ref()) {
            Ok(v) => pacing.min_gap = v,
            Err(e) => report.error(Some(g.span()), format!("mailbox {name:?}: min_gap: {e}")),
        }
    }
    if let Some(c) = connections {
        if !(1..=16).contains(c.get_ref()) {
            report.error(
                Some(c.span()),
                format!("mailbox {name:?}: connections must be between 1 and 16"),
            );
        } else {
            pacing.connections = *c.get_ref();
        }
    }
    if let Some(w) = &warmup
        && w.start == 0
    {
        report.error(
            Some(at),
            format!("mailbox {name:?}: warmup.start must be at least 1"),
        );
    }
    pacing
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::Config;

    /// Whether mailbox `ana` with this SMTP host and IMAP table keeps copies in Sent.
    fn saves(smtp_host: &str, imap: &str) -> bool {
        let text = format!(
            "[[mailbox]]\nname = \"ana\"\nfrom = \"ana@example.com\"\n\
             [mailbox.smtp]\nhost = \"{smtp_host}\"\n{imap}"
        );
        let c = Config::parse(
            &text,
            "config.toml",
            Path::new("config.toml"),
            Path::new("/srv"),
        )
        .unwrap_or_else(|e| panic!("{e:?}"));
        c.mailboxes[0].saves_sent()
    }

    const IMAP: &str = "[mailbox.imap]\nhost = \"imap.example.com\"\npassword = { env = \"P\" }\n";

    #[test]
    fn sent_copies_are_on_where_imap_is_configured_except_gmail_unless_forced() {
        assert!(saves("smtp.example.com", IMAP));
        assert!(
            !saves("smtp.example.com", ""),
            "no IMAP, nowhere to put them"
        );
        assert!(!saves(
            "smtp.example.com",
            &format!("{IMAP}save_sent = false\n")
        ));
        assert!(
            !saves("smtp.gmail.com", IMAP),
            "Gmail files sent mail itself"
        );
        assert!(!saves(
            "smtp.example.com",
            "[mailbox.imap]\nhost = \"IMAP.GoogleMail.com.\"\npassword = { env = \"P\" }\n"
        ));
        assert!(saves(
            "smtp.gmail.com",
            &format!("{IMAP}save_sent = true\n")
        ));
        assert!(saves("notgmail.com", IMAP));
    }
}

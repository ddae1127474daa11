//! `[[webhook]]` and `[webhooks]`: the endpoints that hear about events (a CRM, a Slack
//! channel) and how long a failing delivery is retried.

use std::fmt;
use std::path::Path;

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use serde::Deserialize;
use toml::Spanned;

use super::problems::Problems;
use super::{SecretSource, parse_duration};
use crate::diag::did_you_mean;
use crate::domain::EventKind;

/// One endpoint that receives events.
#[derive(Debug, Clone)]
pub struct Webhook {
    /// Its name in config.toml: what `status` shows (never the URL, which may hold a token).
    pub name: String,
    /// Where deliveries are posted (`http://` or `https://`).
    pub url: WebhookUrl,
    /// The event kinds it wants.
    pub events: Vec<EventKind>,
    /// The signing secret (`whsec_…`); required for the standard format.
    pub secret: Option<SecretSource>,
    /// What the body looks like.
    pub format: WebhookFormat,
}

/// Where an endpoint's deliveries go: written in config.toml, or, for a URL that holds a
/// token (Slack's incoming webhooks), read from a secret source when a delivery is made.
#[derive(Debug, Clone)]
pub enum WebhookUrl {
    /// The URL itself.
    Plain(String),
    /// A secret holding the URL (`{ credential = … }`, `{ env = … }`, …).
    Secret(SecretSource),
}

impl WebhookUrl {
    /// The URL, read now; a secret's URL is checked like a written one.
    pub fn resolve(&self, dir: &std::path::Path) -> Result<String, String> {
        match self {
            WebhookUrl::Plain(url) => Ok(url.clone()),
            WebhookUrl::Secret(source) => {
                let secret = source.resolve(dir).map_err(|e| e.to_string())?;
                let url = secret.expose().trim().to_string();
                check_url(&url).map_err(|m| format!("the URL in the secret: {m}"))?;
                Ok(url)
            }
        }
    }
}

/// `url` as written: a string or a secret source.
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum RawUrl {
    Plain(String),
    Secret(SecretSource),
}

impl Webhook {
    /// True when this endpoint wants events of `kind`.
    pub fn wants(&self, kind: &str) -> bool {
        self.events.iter().any(|k| k.as_str() == kind)
    }
}

/// The body of a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookFormat {
    /// Standard Webhooks: `{ "type", "timestamp", "data" }`, signed.
    Standard,
    /// A Slack-style incoming webhook: `{ "text": "…" }` (signed too when a secret is given).
    Slack,
}

/// `[webhooks]`: settings shared by every endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSettings {
    /// The waits after each failed attempt, in seconds; after the last one fails, the delivery
    /// is `failed`.
    pub retry: Vec<i64>,
    /// How long one attempt may take, in seconds (connect, send, answer).
    pub timeout: i64,
}

/// The default retry schedule: the Standard Webhooks example, cut to about a day (8 attempts
/// over 23 h 35 min).
pub const DEFAULT_RETRY: [i64; 7] = [5, 300, 1800, 7200, 18_000, 28_800, 28_800];

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            retry: DEFAULT_RETRY.to_vec(),
            timeout: 10,
        }
    }
}

/// `[[webhook]]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWebhook {
    name: Spanned<String>,
    url: Spanned<RawUrl>,
    events: Spanned<Vec<Spanned<String>>>,
    secret: Option<SecretSource>,
    format: Option<Spanned<String>>,
}

/// `[webhooks]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWebhookSettings {
    retry: Option<Spanned<Vec<Spanned<String>>>>,
    timeout: Option<Spanned<String>>,
}

/// Checks the endpoints and the shared settings: names, URLs, event kinds (with did-you-mean),
/// formats, a secret where one is needed, and a retry schedule.
pub(super) fn resolve(
    raw: Vec<RawWebhook>,
    settings: Option<RawWebhookSettings>,
) -> (Vec<Webhook>, WebhookSettings, Problems) {
    let mut problems = Vec::new();
    let mut out = Vec::new();
    for w in raw {
        if let Some(webhook) = resolve_webhook(w, &out, &mut problems) {
            out.push(webhook);
        }
    }
    let shared = settings.map_or_else(WebhookSettings::default, |s| {
        resolve_settings(s, &mut problems)
    });
    (out, shared, problems)
}

/// One `[[webhook]]`, given the endpoints checked before it; None when it has a problem.
fn resolve_webhook(w: RawWebhook, before: &[Webhook], problems: &mut Problems) -> Option<Webhook> {
    let name = w.name.get_ref().trim().to_string();
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        problems.push((
            Some(w.name.span()),
            format!("webhook name {name:?} must be 1 to 64 letters, digits, '-', '_' or '.'"),
        ));
        return None;
    }
    if before.iter().any(|o| o.name == name) {
        problems.push((
            Some(w.name.span()),
            format!("webhook {name:?} is defined twice"),
        ));
        return None;
    }
    let mut ok = true;
    let span = w.url.span();
    let url = match w.url.into_inner() {
        RawUrl::Plain(url) => {
            let url = url.trim().to_string();
            if let Err(msg) = check_url(&url) {
                problems.push((Some(span), format!("webhook {name:?}: url: {msg}")));
                ok = false;
            }
            WebhookUrl::Plain(url)
        }
        RawUrl::Secret(source) => WebhookUrl::Secret(source),
    };
    let events = resolve_events(&name, &w.events, &mut ok, problems);
    let format = match w.format.as_ref().map(|f| f.get_ref().trim()) {
        None | Some("standard") => Some(WebhookFormat::Standard),
        Some("slack") => Some(WebhookFormat::Slack),
        Some(other) => {
            problems.push((
                w.format.as_ref().map(Spanned::span),
                format!("webhook {name:?}: format {other:?} is not \"standard\" or \"slack\""),
            ));
            ok = false;
            None
        }
    };
    if format == Some(WebhookFormat::Standard) && w.secret.is_none() {
        problems.push((
            Some(w.name.span()),
            format!(
                "webhook {name:?} has no secret: add secret = {{ credential = \"{name}-webhook\" }} (or env, file, command) holding a whsec_… key"
            ),
        ));
        ok = false;
    }
    let format = format.filter(|_| ok)?;
    Some(Webhook {
        name,
        url,
        events,
        secret: w.secret,
        format,
    })
}

/// The event kinds an endpoint wants (`"*"`: all of them), sorted, each once. An unknown
/// kind, or none at all when nothing else was wrong (`ok`), is a problem and clears `ok`.
fn resolve_events(
    name: &str,
    raw: &Spanned<Vec<Spanned<String>>>,
    ok: &mut bool,
    problems: &mut Problems,
) -> Vec<EventKind> {
    let mut events = Vec::new();
    for e in raw.get_ref() {
        let wanted = e.get_ref().trim();
        if wanted == "*" {
            events.extend(EventKind::ALL);
            continue;
        }
        match EventKind::parse(&wanted.to_ascii_lowercase().replace(['_', ' '], "-")) {
            Some(k) => events.push(k),
            None => {
                let names = EventKind::ALL.map(EventKind::as_str);
                let hint = match did_you_mean(wanted, names) {
                    Some(s) => format!("did you mean {s:?}?"),
                    None => format!("expected \"*\" or one of {}", names.join(", ")),
                };
                problems.push((
                    Some(e.span()),
                    format!("webhook {name:?}: unknown event {wanted:?}; {hint}"),
                ));
                *ok = false;
            }
        }
    }
    events.sort_by_key(|k| k.as_str());
    events.dedup();
    if events.is_empty() && *ok {
        problems.push((
            Some(raw.span()),
            format!("webhook {name:?}: events is empty (name the events it wants, or \"*\")"),
        ));
        *ok = false;
    }
    events
}

/// `[webhooks]`: the retry schedule (at most 50 waits, each longer than 0) and the timeout
/// (1 second to 5 minutes); what is not given, or not right, keeps its default.
fn resolve_settings(s: RawWebhookSettings, problems: &mut Problems) -> WebhookSettings {
    let mut shared = WebhookSettings::default();
    if let Some(retry) = &s.retry {
        let mut waits = Vec::new();
        for r in retry.get_ref() {
            match parse_duration(r.get_ref()) {
                Ok(v) if v > 0 => waits.push(v),
                Ok(_) => problems.push((
                    Some(r.span()),
                    "webhooks.retry: a wait must be longer than 0".to_string(),
                )),
                Err(e) => problems.push((Some(r.span()), format!("webhooks.retry: {e}"))),
            }
        }
        if waits.len() > 50 {
            problems.push((
                Some(retry.span()),
                "webhooks.retry: at most 50 retries".to_string(),
            ));
        }
        shared.retry = waits;
    }
    if let Some(t) = &s.timeout {
        match parse_duration(t.get_ref()) {
            Ok(v) if (1..=300).contains(&v) => shared.timeout = v,
            Ok(_) => problems.push((
                Some(t.span()),
                "webhooks.timeout must be between 1 second and 5 minutes".to_string(),
            )),
            Err(e) => problems.push((Some(t.span()), format!("webhooks.timeout: {e}"))),
        }
    }
    shared
}

/// An `http://` or `https://` URL with a host and no user info. The URL itself is not repeated:
/// a Slack-style URL is a secret.
pub(super) fn check_url(url: &str) -> Result<(), String> {
    let Some(rest) = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
    else {
        return Err("must start with https:// (or http:// for a receiver on loopback)".into());
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() || host.contains(['@', ' ']) || url.contains(char::is_whitespace) {
        return Err("has no host, or holds a user name or a space".into());
    }
    if reqwest::Url::parse(url).is_err() {
        return Err("is not a valid URL".into());
    }
    Ok(())
}

/// An endpoint's HMAC key (decoded from `whsec_…`). Its `Debug` never shows it.
#[derive(Clone)]
pub struct SigningKey(hmac::Key);

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(***)")
    }
}

impl SigningKey {
    /// Parses a `whsec_<base64>` secret of 24 to 64 bytes, as the spec serializes them. The
    /// error never repeats the secret.
    pub fn parse(secret: &str) -> Result<SigningKey, String> {
        let Some(b64) = secret.trim().strip_prefix("whsec_") else {
            return Err("must start with whsec_ followed by the base64 key (make one with: echo \"whsec_$(openssl rand -base64 32)\")".into());
        };
        let key = BASE64
            .decode(b64)
            .map_err(|_| "the part after whsec_ is not base64".to_string())?;
        if !(24..=64).contains(&key.len()) {
            return Err(format!(
                "the key is {} bytes; the spec wants 24 to 64",
                key.len()
            ));
        }
        Ok(SigningKey(hmac::Key::new(hmac::HMAC_SHA256, &key)))
    }

    /// The `webhook-signature` value: `v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &str) -> String {
        let mut ctx = hmac::Context::with_key(&self.0);
        ctx.update(id.as_bytes());
        ctx.update(b".");
        ctx.update(timestamp.to_string().as_bytes());
        ctx.update(b".");
        ctx.update(body.as_bytes());
        format!("v1,{}", BASE64.encode(ctx.sign().as_ref()))
    }
}

/// Reads and parses an endpoint's secret now.
pub fn signing_key(src: &SecretSource, config_dir: &Path) -> Result<SigningKey, String> {
    let secret = src.resolve(config_dir).map_err(|e| e.to_string())?;
    SigningKey::parse(secret.expose()).map_err(|e| format!("{src}: {e}"))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::{SecretSource, WebhookUrl};
    use crate::config::Config;

    fn parse(text: &str) -> Result<Config, Vec<String>> {
        Config::parse(
            text,
            "config.toml",
            Path::new("config.toml"),
            Path::new("/srv"),
        )
        .map_err(|e| e.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn a_url_can_come_from_a_secret_and_is_checked_when_read() {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(
            dir.path().join("good"),
            "https://hooks.slack.example/T0/B0/sekrit\n",
        )
        .expect("write");
        std::fs::write(dir.path().join("bad"), "ftp://hooks.slack.example/sekrit").expect("write");
        let c = parse(
            "[[webhook]]\nname = \"slack\"\nurl = { file = \"good\" }\nevents = [\"replied\"]\nformat = \"slack\"\n",
        )
        .expect("parses");
        let url = &c.webhooks[0].url;
        assert!(matches!(url, WebhookUrl::Secret(_)));
        assert!(!format!("{url:?}").contains("sekrit"));
        assert_eq!(
            url.resolve(dir.path()).as_deref(),
            Ok("https://hooks.slack.example/T0/B0/sekrit")
        );
        let bad = WebhookUrl::Secret(SecretSource::File("bad".into()));
        let err = bad.resolve(dir.path()).expect_err("not http");
        assert!(
            err.contains("must start with https://") && !err.contains("sekrit"),
            "{err}"
        );
    }

    #[test]
    fn webhooks_are_typed_with_defaults() {
        let c = parse(
            "[[webhook]]\nname = \"crm\"\nurl = \"https://crm.example.com/hooks\"\nevents = [\"replied\", \"meeting_booked\", \"Bounced\"]\nsecret = { env = \"CRM_SECRET\" }\n",
        )
        .unwrap();
        let w = &c.webhooks[0];
        assert_eq!(w.name, "crm");
        assert!(w.wants("replied") && w.wants("meeting-booked") && w.wants("bounced"));
        assert!(!w.wants("sent"));
        assert_eq!(w.format, super::WebhookFormat::Standard);
        assert_eq!(c.webhook_settings.retry, super::DEFAULT_RETRY.to_vec());
        assert_eq!(
            super::DEFAULT_RETRY.iter().sum::<i64>(),
            23 * 3600 + 35 * 60 + 5
        );
    }

    #[test]
    fn unknown_event_names_its_line_and_suggests() {
        let err = parse(
            "[[webhook]]\nname = \"crm\"\nurl = \"https://crm.example.com/\"\nevents = [\"replied\", \"bouncd\"]\nsecret = { env = \"X\" }\n",
        )
        .unwrap_err();
        assert_eq!(err.len(), 1, "{err:#?}");
        assert!(
            err[0].starts_with("config.toml:4:22: webhook \"crm\": unknown event \"bouncd\"; did you mean \"bounced\"?"),
            "{err:#?}"
        );
    }

    #[test]
    fn every_webhook_problem_is_reported_without_the_url() {
        let err = parse(
            "[[webhook]]\nname = \"a b\"\nurl = \"x\"\nevents = []\n\
             [[webhook]]\nname = \"slack\"\nurl = \"ftp://hooks.example.com/T0/B0/sekrit\"\nevents = [\"*\"]\nformat = \"slack\"\n\
             [[webhook]]\nname = \"crm\"\nurl = \"https://crm.example.com/\"\nevents = [\"sent\"]\nformat = \"xml\"\n\
             [[webhook]]\nname = \"crm2\"\nurl = \"https://crm.example.com/\"\nevents = [\"sent\"]\n\
             [webhooks]\nretry = [\"5 s\", \"0\", \"3 fortnights\"]\ntimeout = \"1h\"\n",
        )
        .unwrap_err();
        let all = err.join("\n");
        assert!(
            all.contains("config.toml:2:8: webhook name \"a b\""),
            "{all}"
        );
        assert!(
            all.contains("config.toml:7:7: webhook \"slack\": url: must start with https://"),
            "{all}"
        );
        assert!(!all.contains("sekrit"), "{all}");
        assert_eq!(err.len(), 7, "{all}");
        assert!(
            all.contains("config.toml:14:10: webhook \"crm\": format \"xml\""),
            "{all}"
        );
        assert!(
            all.contains("config.toml:16:8: webhook \"crm2\" has no secret"),
            "{all}"
        );
        assert!(
            all.contains("config.toml:20:17: webhooks.retry: a wait must be longer than 0"),
            "{all}"
        );
        assert!(
            all.contains("config.toml:20:22: webhooks.retry: \"3 fortnights\": unknown unit"),
            "{all}"
        );
        assert!(
            all.contains("config.toml:21:11: webhooks.timeout must be between"),
            "{all}"
        );
    }

    #[test]
    fn duplicate_names_and_unknown_keys_are_refused() {
        let one = "[[webhook]]\nname = \"crm\"\nurl = \"https://c.example.com/\"\nevents = [\"*\"]\nsecret = { env = \"X\" }\n";
        let err = parse(&format!("{one}{one}")).unwrap_err();
        assert!(
            err[0].starts_with("config.toml:7:8: webhook \"crm\" is defined twice"),
            "{err:#?}"
        );
        let err = parse(&one.replace("events", "event")).unwrap_err();
        assert!(err[0].contains("unknown key `event`"), "{err:#?}");
    }

    proptest::proptest! {
        /// No config text makes the webhook checks panic.
        #[test]
        fn any_webhook_table_parses_or_errors(name in ".{0,12}", url in ".{0,40}", ev in ".{0,12}", retry in ".{0,8}") {
            let text = format!(
                "[[webhook]]\nname = {name:?}\nurl = {url:?}\nevents = [{ev:?}]\nformat = \"slack\"\n[webhooks]\nretry = [{retry:?}]\ntimeout = {retry:?}\n"
            );
            let _ = parse(&text);
        }
    }
}

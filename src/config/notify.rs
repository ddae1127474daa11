//! `[mailbox.notify]`: how the rep behind a mailbox hears about a human reply at once, and when
//! the daily digest goes out. A mailbox without the table notifies nobody.

use std::ops::Range;

use chrono_tz::Tz;
use serde::Deserialize;
use toml::Spanned;

use super::digest::DigestSchedule;
use super::parse_tz;
use super::problems::Problems;
use super::webhooks::{RawUrl, WebhookUrl, check_url};
use super::{Config, Webhook, WebhookFormat};
use crate::lead::Email;

/// A rep's notification channels and digest time.
#[derive(Debug, Clone)]
pub struct Notify {
    /// Where notification emails go (sent through the rep's own mailbox); None: no email.
    pub email: Option<Email>,
    /// A Slack-style incoming webhook (`{"text": …}`); its URL may come from a secret.
    pub webhook: Option<WebhookUrl>,
    /// When the daily digest goes out; None: no digest.
    pub digest: Option<DigestSchedule>,
    /// The rep's time zone: the digest's time, "today" and "yesterday".
    pub timezone: Tz,
}

/// `email` as written: an address, or true (the mailbox's From) / false (no email).
#[derive(Deserialize)]
#[serde(untagged)]
enum RawEmail {
    Switch(bool),
    Address(String),
}

/// `[mailbox.notify]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNotify {
    email: Option<Spanned<RawEmail>>,
    webhook: Option<Spanned<RawUrl>>,
    digest: Option<Spanned<String>>,
    timezone: Option<Spanned<String>>,
}

/// Checks a mailbox's `[mailbox.notify]`: the address, the webhook URL (a written one now, a
/// secret's when it is read), the digest's crontab line and the zone. `table` is the table's
/// position, for a problem that belongs to no one key.
pub(super) fn resolve(
    raw: RawNotify,
    table: Range<usize>,
    mailbox: &str,
    from: Option<&Email>,
    default_tz: Tz,
) -> (Option<Notify>, Problems) {
    let mut problems = Vec::new();
    let email = notify_email(raw.email.as_ref(), mailbox, from, &mut problems);
    let webhook = raw.webhook.map(|w| {
        let span = w.span();
        match w.into_inner() {
            RawUrl::Plain(url) => {
                let url = url.trim().to_string();
                if let Err(msg) = check_url(&url) {
                    problems.push((
                        Some(span),
                        format!("mailbox {mailbox:?}: notify.webhook: {msg}"),
                    ));
                }
                WebhookUrl::Plain(url)
            }
            RawUrl::Secret(source) => WebhookUrl::Secret(source),
        }
    });
    let digest = raw
        .digest
        .as_ref()
        .and_then(|d| match DigestSchedule::parse(d.get_ref()) {
            Ok(s) => Some(s),
            Err(msg) => {
                problems.push((
                    Some(d.span()),
                    format!("mailbox {mailbox:?}: notify.digest: {msg}"),
                ));
                None
            }
        });
    let timezone = match &raw.timezone {
        None => default_tz,
        Some(t) => match parse_tz(t.get_ref()) {
            Ok(tz) => tz,
            Err(msg) => {
                problems.push((
                    Some(t.span()),
                    format!("mailbox {mailbox:?}: notify.timezone: {msg}"),
                ));
                default_tz
            }
        },
    };
    if email.is_none() && webhook.is_none() && problems.is_empty() {
        problems.push((
            Some(table),
            format!(
                "mailbox {mailbox:?}: notify has no channel: give it an email address (or leave email out for the mailbox's From) or a webhook"
            ),
        ));
    }
    let notify = problems.is_empty().then_some(Notify {
        email,
        webhook,
        digest,
        timezone,
    });
    (notify, problems)
}

/// Where a mailbox's notification emails go: `email` as written, or the mailbox's From when it
/// is left out or true; None for false or a bad address (a problem).
fn notify_email(
    raw: Option<&Spanned<RawEmail>>,
    mailbox: &str,
    from: Option<&Email>,
    problems: &mut Problems,
) -> Option<Email> {
    let Some(e) = raw else {
        return from.cloned();
    };
    match e.get_ref() {
        RawEmail::Switch(true) => from.cloned(),
        RawEmail::Switch(false) => None,
        RawEmail::Address(a) => match Email::parse(a) {
            Ok(e) => Some(e),
            Err(err) => {
                problems.push((
                    Some(e.span()),
                    format!("mailbox {mailbox:?}: notify.email: {err}"),
                ));
                None
            }
        },
    }
}

/// The outgoing-webhook endpoint of a rep's notifications (not a name `[[webhook]]` can take).
pub fn rep_endpoint(rep: &str) -> String {
    format!("notify:{rep}")
}

/// The endpoints of the reps that have a notification webhook, for the webhook dispatcher.
pub fn rep_endpoints(config: &Config) -> Vec<Webhook> {
    config
        .mailboxes
        .iter()
        .filter_map(|m| {
            let url = m.notify.as_ref()?.webhook.clone()?;
            Some(Webhook {
                name: rep_endpoint(&m.name),
                url,
                events: Vec::new(),
                secret: None,
                format: WebhookFormat::Slack,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use chrono_tz::Tz;

    use crate::config::{Config, WebhookUrl};

    fn parse(text: &str) -> Result<Config, Vec<String>> {
        Config::parse(
            text,
            "config.toml",
            Path::new("config.toml"),
            Path::new("/srv"),
        )
        .map_err(|e| e.iter().map(ToString::to_string).collect())
    }

    const ANA: &str = "timezone = \"America/New_York\"\n[[mailbox]]\nname = \"ana\"\nfrom = \"ana@example.com\"\noutbox = \"o\"\n";

    #[test]
    fn a_mailbox_without_the_table_notifies_nobody() {
        let c = parse(ANA).unwrap();
        assert!(c.mailboxes[0].notify.is_none());
    }

    #[test]
    fn defaults_are_the_from_address_and_the_config_zone() {
        let c = parse(&format!("{ANA}[mailbox.notify]\n")).unwrap();
        let n = c.mailboxes[0].notify.as_ref().unwrap();
        assert_eq!(n.email.as_ref().unwrap().as_str(), "ana@example.com");
        assert!(n.webhook.is_none() && n.digest.is_none());
        assert_eq!(n.timezone, Tz::America__New_York);
    }

    #[test]
    fn every_key_is_read() {
        let c = parse(&format!(
            "{ANA}[mailbox.notify]\nemail = \"Ana.Lopez@Example.com\"\nwebhook = {{ env = \"ANA_SLACK\" }}\ndigest = \"0 8 * * Mon-Fri\"\ntimezone = \"Europe/Madrid\"\n"
        ))
        .unwrap();
        let n = c.mailboxes[0].notify.as_ref().unwrap();
        assert_eq!(n.email.as_ref().unwrap().as_str(), "ana.lopez@example.com");
        assert!(matches!(n.webhook, Some(WebhookUrl::Secret(_))));
        assert_eq!(n.digest.as_ref().unwrap().source(), "0 8 * * Mon-Fri");
        assert_eq!(n.timezone, Tz::Europe__Madrid);
        let c = parse(&format!(
            "{ANA}[mailbox.notify]\nemail = false\nwebhook = \"https://hooks.slack.example/T0/B0/x\"\n"
        ))
        .unwrap();
        let n = c.mailboxes[0].notify.as_ref().unwrap();
        assert!(n.email.is_none() && n.webhook.is_some());
    }

    #[test]
    fn a_bad_digest_or_zone_names_its_line() {
        let err = parse(&format!(
            "{ANA}[mailbox.notify]\ndigest = \"0 8 * * Mnday\"\ntimezone = \"Europe/Madird\"\nwebhook = \"ftp://x/sekrit\"\nemail = \"nope\"\n"
        ))
        .unwrap_err();
        let all = err.join("\n");
        assert_eq!(err.len(), 4, "{all}");
        assert!(
            all.contains("config.toml:7:10: mailbox \"ana\": notify.digest: \"0 8 * * Mnday\" is not a crontab time"),
            "{all}"
        );
        assert!(
            all.contains("config.toml:8:12: mailbox \"ana\": notify.timezone: \"Europe/Madird\" is not an IANA time zone"),
            "{all}"
        );
        assert!(all.contains("did you mean \"Europe/Madrid\""), "{all}");
        assert!(
            all.contains(
                "config.toml:9:11: mailbox \"ana\": notify.webhook: must start with https://"
            ),
            "{all}"
        );
        assert!(!all.contains("sekrit"), "{all}");
        assert!(
            all.contains("config.toml:10:9: mailbox \"ana\": notify.email:"),
            "{all}"
        );
    }

    #[test]
    fn a_six_field_line_says_crontab_has_five() {
        let err = parse(&format!(
            "{ANA}[mailbox.notify]\ndigest = \"0 0 8 * * *\"\n"
        ))
        .unwrap_err();
        assert!(
            err[0].starts_with(
                "config.toml:7:10: mailbox \"ana\": notify.digest: \"0 0 8 * * *\" has 6 field(s)"
            ),
            "{err:#?}"
        );
    }

    #[test]
    fn an_unreadable_webhook_secret_is_a_warning_without_its_value() {
        let c = parse(&format!(
            "{ANA}[mailbox.notify]\nwebhook = {{ env = \"DRUMBEAT_TEST_SURELY_UNSET_SLACK\" }}\n"
        ))
        .unwrap();
        let w: Vec<String> = c.check_secrets().iter().map(ToString::to_string).collect();
        assert_eq!(
            w,
            [
                "config.toml: warning: mailbox \"ana\": notify.webhook: environment variable DRUMBEAT_TEST_SURELY_UNSET_SLACK is not set"
            ],
        );
    }

    #[test]
    fn no_channel_and_unknown_keys_are_refused() {
        let err = parse(&format!("{ANA}[mailbox.notify]\nemail = false\n")).unwrap_err();
        assert!(
            err[0].starts_with("config.toml:6:1: mailbox \"ana\": notify has no channel"),
            "{err:#?}"
        );
        let err = parse(&format!("{ANA}[mailbox.notify]\ndigets = \"0 8 * * *\"\n")).unwrap_err();
        assert!(err[0].contains("did you mean `digest`"), "{err:#?}");
    }
}

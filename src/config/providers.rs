//! `[providers.*]`: how the daemon checks that an email provider's webhook really comes from
//! the provider (SendGrid, Mailgun, Postmark, Amazon SES through SNS), and the per-mailbox
//! `provider = "…"` key that makes outgoing messages carry our Message-ID in the provider's
//! custom-arguments header.

use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

use super::SecretSource;
use super::problems::Problems;

/// An email provider whose webhooks drumbeat takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// Twilio SendGrid (Signed Event Webhook).
    Sendgrid,
    /// Mailgun (HMAC-signed webhooks).
    Mailgun,
    /// Postmark (HTTP Basic credentials in the webhook URL).
    Postmark,
    /// Amazon SES event publishing through an SNS topic.
    Ses,
}

impl Provider {
    /// The name used in config, paths and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Sendgrid => "sendgrid",
            Provider::Mailgun => "mailgun",
            Provider::Postmark => "postmark",
            Provider::Ses => "ses",
        }
    }
}

/// Every provider's webhook settings; a provider without a table gets 404 at its path.
#[derive(Debug, Clone, Default)]
pub struct ProvidersConfig {
    /// `[providers.sendgrid]`.
    pub sendgrid: Option<SendgridConfig>,
    /// `[providers.mailgun]`.
    pub mailgun: Option<MailgunConfig>,
    /// `[providers.postmark]`.
    pub postmark: Option<PostmarkConfig>,
    /// `[providers.ses]`.
    pub ses: Option<SesConfig>,
}

/// SendGrid's Signed Event Webhook.
#[derive(Debug, Clone)]
pub struct SendgridConfig {
    /// The verification key SendGrid shows (base64 DER SubjectPublicKeyInfo, or PEM).
    pub public_key: SecretSource,
}

/// Mailgun's webhook signing key.
#[derive(Debug, Clone)]
pub struct MailgunConfig {
    /// The "HTTP webhook signing key" of the Mailgun account.
    pub signing_key: SecretSource,
}

/// Postmark: the credentials written into the webhook URL (`https://USER:PASS@host/…`).
#[derive(Debug, Clone)]
pub struct PostmarkConfig {
    /// The user name.
    pub username: String,
    /// The password.
    pub password: SecretSource,
}

/// Amazon SES through SNS.
#[derive(Debug, Clone)]
pub struct SesConfig {
    /// The SNS topics whose messages are taken (ARNs); any other topic gets 403.
    pub topic_arns: Vec<String>,
    /// Pinned signing certificates (a PEM file, or a folder of them). When set, only they
    /// are trusted and nothing is fetched; otherwise the certificate is fetched from the
    /// message's `SigningCertURL` when that is `https://sns.<region>.amazonaws.com/…`.
    pub certificates: Option<PathBuf>,
    /// Confirm SubscriptionConfirmation messages of listed topics by fetching their
    /// SubscribeURL (only on an SNS host); otherwise the URL is logged for the admin.
    pub confirm_subscriptions: bool,
}

/// `[providers]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProviders {
    sendgrid: Option<RawSendgrid>,
    mailgun: Option<RawMailgun>,
    postmark: Option<RawPostmark>,
    ses: Option<RawSes>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSendgrid {
    public_key: SecretSource,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMailgun {
    signing_key: SecretSource,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPostmark {
    username: Spanned<String>,
    password: SecretSource,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSes {
    topic_arns: Spanned<Vec<Spanned<String>>>,
    certificates: Option<Spanned<String>>,
    confirm_subscriptions: Option<bool>,
}

/// Checks `[providers.*]`: a Postmark user name without ':', SES topic ARNs that look like
/// ARNs (at least one), a certificates path that exists.
pub(super) fn resolve(
    raw: Option<RawProviders>,
    dir: &std::path::Path,
) -> (ProvidersConfig, Problems) {
    let mut out = ProvidersConfig::default();
    let mut problems = Vec::new();
    let Some(raw) = raw else {
        return (out, problems);
    };
    out.sendgrid = raw.sendgrid.map(|s| SendgridConfig {
        public_key: s.public_key,
    });
    out.mailgun = raw.mailgun.map(|m| MailgunConfig {
        signing_key: m.signing_key,
    });
    if let Some(p) = raw.postmark {
        let user = p.username.get_ref().trim();
        if user.is_empty() || user.contains(':') {
            problems.push((
                Some(p.username.span()),
                "providers.postmark.username must be non-empty and hold no ':'".into(),
            ));
        }
        out.postmark = Some(PostmarkConfig {
            username: user.to_string(),
            password: p.password,
        });
    }
    if let Some(s) = raw.ses {
        let mut arns = Vec::new();
        if s.topic_arns.get_ref().is_empty() {
            problems.push((
                Some(s.topic_arns.span()),
                "providers.ses.topic_arns is empty: name the SNS topic(s) SES publishes to (arn:aws:sns:REGION:ACCOUNT:TOPIC)".into(),
            ));
        }
        for arn in s.topic_arns.get_ref() {
            let a = arn.get_ref().trim();
            if a.split(':').count() != 6 || !a.starts_with("arn:aws") || !a.contains(":sns:") {
                problems.push((
                    Some(arn.span()),
                    format!("providers.ses.topic_arns: {a:?} is not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:TOPIC)"),
                ));
            }
            arns.push(a.to_string());
        }
        let certificates = match &s.certificates {
            None => None,
            Some(c) => {
                let path = dir.join(c.get_ref());
                if !path.exists() {
                    problems.push((
                        Some(c.span()),
                        format!(
                            "providers.ses.certificates: {} does not exist (a PEM file or a folder of them)",
                            path.display()
                        ),
                    ));
                }
                Some(path)
            }
        };
        out.ses = Some(SesConfig {
            topic_arns: arns,
            certificates,
            confirm_subscriptions: s.confirm_subscriptions.unwrap_or(true),
        });
    }
    (out, problems)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::{Config, Provider};

    fn parse(text: &str) -> Result<Config, Vec<String>> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        Config::parse(text, "config.toml", &dir.join("config.toml"), dir)
            .map_err(|ds| ds.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn provider_tables_are_typed_and_mailboxes_name_their_provider() {
        let c = parse(
            "[providers.sendgrid]\npublic_key = { env = \"SG_KEY\" }\n\
             [providers.ses]\ntopic_arns = [\"arn:aws:sns:us-east-1:123456789012:ses\"]\n\
             [[mailbox]]\nname = \"ana\"\nfrom = \"a@example.com\"\noutbox = \"o\"\nprovider = \"ses\"\n",
        )
        .expect("config");
        assert!(c.providers.sendgrid.is_some());
        assert!(c.providers.mailgun.is_none());
        let ses = c.providers.ses.expect("ses");
        assert!(ses.confirm_subscriptions);
        assert_eq!(c.mailboxes[0].provider, Some(Provider::Ses));
    }

    #[test]
    fn provider_problems_name_the_line() {
        let all = parse(
            "[providers.ses]\ntopic_arns = [\"arn:aws:sqs:x\"]\ncertificates = \"no/such/dir\"\n\
             [providers.postmark]\nusername = \"a:b\"\npassword = { env = \"P\" }\n",
        )
        .unwrap_err();
        for want in [
            "config.toml:2:15: providers.ses.topic_arns",
            "config.toml:3:16: providers.ses.certificates",
            "config.toml:5:12: providers.postmark.username",
        ] {
            assert!(all.iter().any(|l| l.starts_with(want)), "{want} in {all:?}");
        }
        let unknown = parse("[providers.sendgrid]\npublic_kee = { env = \"X\" }\n").unwrap_err();
        assert!(unknown[0].starts_with("config.toml:2:1:"), "{unknown:?}");
        let bad = parse("[[mailbox]]\nname = \"a\"\nfrom = \"a@example.com\"\noutbox = \"o\"\nprovider = \"sparkpost\"\n")
            .unwrap_err();
        assert!(bad[0].starts_with("config.toml:5:"), "{bad:?}");
    }
}

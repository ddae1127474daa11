//! The send side of provider webhooks: a mailbox configured with `provider = "…"` adds that
//! provider's custom-arguments header carrying our Message-ID, because most providers do not
//! echo the Message-ID itself in their events (Postmark and SES use their own ids; SendGrid's
//! opens and clicks carry no `smtp-id`). Other mailboxes get nothing extra.

use lettre::message::MessageBuilder;
use lettre::message::header::{HeaderName, HeaderValue};

use crate::config::{Mailbox, Provider};

/// The SendGrid unique argument that carries our Message-ID.
pub const SENDGRID_ARG: &str = "drumbeat_message_id";
/// The Mailgun user variable that carries our Message-ID.
pub const MAILGUN_VARIABLE: &str = "drumbeat_message_id";
/// The header drumbeat adds at send time for SES mailboxes: SES may replace Message-ID, but
/// lists the original headers in `mail.headers`.
pub const SES_HEADER: &str = "X-Drumbeat-Message-Id";

/// The headers to add for `mailbox` (none without a provider).
pub fn headers(mailbox: &Mailbox, message_id: &str) -> Vec<(&'static str, String)> {
    let Some(provider) = mailbox.provider else {
        return Vec::new();
    };
    // A Message-ID we made holds no quote or backslash, but escape as JSON anyway.
    let json = |key: &str| serde_json::json!({ key: message_id }).to_string();
    match provider {
        Provider::Sendgrid => vec![(
            "X-SMTPAPI",
            serde_json::json!({ "unique_args": { SENDGRID_ARG: message_id } }).to_string(),
        )],
        Provider::Mailgun => vec![("X-Mailgun-Variables", json(MAILGUN_VARIABLE))],
        Provider::Postmark => vec![("X-PM-Metadata-drumbeat-message-id", message_id.to_string())],
        Provider::Ses => vec![(SES_HEADER, message_id.to_string())],
    }
}

/// Adds the provider's header to a message being built (see [`headers`]).
pub fn tag_message(mut b: MessageBuilder, mailbox: &Mailbox, message_id: &str) -> MessageBuilder {
    for (name, value) in headers(mailbox, message_id) {
        b = b.raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str(name),
            value,
        ));
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_provider_mailboxes_get_a_header() {
        let text = "[[mailbox]]\nname = \"a\"\nfrom = \"a@example.com\"\noutbox = \"o\"\n\
                    [[mailbox]]\nname = \"b\"\nfrom = \"b@example.com\"\noutbox = \"o\"\nprovider = \"sendgrid\"\n\
                    [[mailbox]]\nname = \"c\"\nfrom = \"c@example.com\"\noutbox = \"o\"\nprovider = \"postmark\"\n";
        let dir = std::path::Path::new(".");
        let c = crate::config::Config::parse(text, "config.toml", &dir.join("config.toml"), dir)
            .expect("config");
        assert!(headers(&c.mailboxes[0], "<x@example.com>").is_empty());
        assert_eq!(
            headers(&c.mailboxes[1], "<x@example.com>"),
            [(
                "X-SMTPAPI",
                r#"{"unique_args":{"drumbeat_message_id":"<x@example.com>"}}"#.to_string()
            )]
        );
        assert_eq!(
            headers(&c.mailboxes[2], "<x@example.com>")[0].0,
            "X-PM-Metadata-drumbeat-message-id"
        );
    }
}

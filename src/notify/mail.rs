//! A notification as an email: from the rep's own mailbox to the rep's notification address,
//! plain text, marked as machine-made (RFC 3834 `Auto-Submitted`) so that no out-of-office
//! answers it and the inbox watcher never takes it for a lead's reply.

use std::time::SystemTime;

use chrono::{DateTime, Utc};
use lettre::message::Mailbox as Addr;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};

use crate::config::Mailbox;
use crate::lead::Email;
use crate::send::message::MessageError;

/// The message's bytes.
pub fn build(
    mailbox: &Mailbox,
    to: &Email,
    subject: &str,
    body: &str,
    message_id: &str,
    date: DateTime<Utc>,
) -> Result<lettre::Message, MessageError> {
    let addr = |e: &Email| {
        e.as_str()
            .parse()
            .map_err(|err: lettre::address::AddressError| {
                MessageError::Address(e.to_string(), err.to_string())
            })
    };
    let subject: String = subject
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let message = lettre::Message::builder()
        .from(Addr::new(
            Some("drumbeat".to_string()),
            addr(&mailbox.from)?,
        ))
        .to(Addr::new(None, addr(to)?))
        .subject(subject)
        .date(SystemTime::from(date))
        .message_id(Some(message_id.to_string()))
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("Auto-Submitted"),
            "auto-generated".to_string(),
        ))
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("X-Auto-Response-Suppress"),
            "All".to_string(),
        ))
        .header(ContentType::TEXT_PLAIN)
        .body(body.to_string())?;
    Ok(message)
}

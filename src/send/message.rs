//! The message: one rendered email turned into RFC 5322 bytes with lettre. From the mailbox,
//! To the lead, a Message-ID on the mailbox's domain, Date, plain text always (HTML as
//! multipart/alternative when the template has one), threading headers for follow-ups in the
//! same thread, and List-Unsubscribe. Values from lead data go through lettre's header encoders,
//! which fold and RFC 2047-encode them, so they cannot inject headers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use chrono::{DateTime, Utc};
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox as Addr, MultiPart, SinglePart};

use crate::config::Mailbox;
use crate::lead::LeadRecord;
use crate::render::RenderedEmail;

/// Everything needed to build one outgoing email.
pub struct Outgoing<'a> {
    /// The sending mailbox.
    pub mailbox: &'a Mailbox,
    /// The lead.
    pub lead: &'a LeadRecord,
    /// What to say.
    pub rendered: &'a RenderedEmail,
    /// `<id@domain>`, fixed at claim time and kept across retries.
    pub message_id: &'a str,
    /// The Date header.
    pub date: DateTime<Utc>,
    /// For a reply in the thread: the Message-IDs of the thread so far, oldest first
    /// (In-Reply-To is the last; References lists them all).
    pub thread: &'a [String],
    /// The one-click unsubscribe URL (RFC 8058), besides the mailto: one.
    pub unsubscribe_url: Option<&'a str>,
}

/// Why a message could not be built.
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    /// An address lettre does not accept.
    #[error("address {0:?} cannot be used in a message: {1}")]
    Address(String, String),
    /// Anything else lettre refused.
    #[error("cannot build the message: {0}")]
    Build(#[from] lettre::error::Error),
}

/// A fresh Message-ID on the mailbox's domain: unique across processes and restarts
/// (time, process id and a counter), and telling nothing about the lead.
pub fn new_message_id(mailbox: &Mailbox) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let salt = crate::domain::fnv1a(format!("{nanos}.{}.{n}", std::process::id()).as_bytes());
    format!("<{nanos:x}.{salt:016x}.db@{}>", mailbox.from.domain())
}

/// The List-Unsubscribe header (RFC 2369): the one-click URL first when there is one (RFC
/// 8058; Gmail and Yahoo require it of bulk senders), then the mailbox's own address, which
/// the inbox watcher understands.
pub fn list_unsubscribe(mailbox: &Mailbox, url: Option<&str>) -> String {
    let mailto = format!("<mailto:{}?subject=unsubscribe>", mailbox.from.as_str());
    match url {
        Some(url) => format!("<{url}>, {mailto}"),
        None => mailto,
    }
}

/// The MIME boundary of a message: derived from its Message-ID and content instead of drawn at
/// random, so building the same message twice (a preview, a retry) gives the same bytes. A
/// body cannot hold a boundary that is a hash of itself.
fn boundary(message_id: &str, text: &str, html: &str) -> String {
    let id = crate::domain::fnv1a(message_id.as_bytes());
    let content = crate::domain::fnv1a(format!("{text}\u{0}{html}").as_bytes());
    format!("db{id:016x}{content:016x}")
}

/// Text for a header: line breaks and other control characters (which a spreadsheet cell can
/// hold) become spaces, so a value can never end a header and start another.
fn header_text(s: &str) -> String {
    let cleaned: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    cleaned.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Builds the message.
pub fn build(o: &Outgoing<'_>) -> Result<lettre::Message, MessageError> {
    let from_addr =
        o.mailbox
            .from
            .as_str()
            .parse()
            .map_err(|e: lettre::address::AddressError| {
                MessageError::Address(o.mailbox.from.to_string(), e.to_string())
            })?;
    let to_addr = o
        .lead
        .email
        .as_str()
        .parse()
        .map_err(|e: lettre::address::AddressError| {
            MessageError::Address(o.lead.email.to_string(), e.to_string())
        })?;
    let to_name = header_text(
        &[o.lead.first_name.as_deref(), o.lead.last_name.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" "),
    );
    let mut b = lettre::Message::builder()
        .from(Addr::new(
            o.mailbox.display_name.as_deref().map(header_text),
            from_addr,
        ))
        .to(Addr::new((!to_name.is_empty()).then_some(to_name), to_addr))
        .subject(header_text(&o.rendered.subject))
        .date(SystemTime::from(o.date))
        .message_id(Some(o.message_id.to_string()));
    if let Some(last) = o.thread.last() {
        b = b.in_reply_to(last.clone()).references(o.thread.join(" "));
    }
    b = b.raw_header(HeaderValue::new(
        HeaderName::new_from_ascii_str("List-Unsubscribe"),
        list_unsubscribe(o.mailbox, o.unsubscribe_url),
    ));
    if o.unsubscribe_url.is_some() {
        b = b.raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
            "List-Unsubscribe=One-Click".to_string(),
        ));
    }
    b = super::provider_tags::tag_message(b, o.mailbox, o.message_id);
    let text = SinglePart::builder()
        .header(ContentType::TEXT_PLAIN)
        .body(o.rendered.text.clone());
    let message = match &o.rendered.html {
        None => b.singlepart(text)?,
        Some(html) => b.multipart(
            MultiPart::alternative()
                .boundary(boundary(o.message_id, &o.rendered.text, html))
                .singlepart(text)
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(html.clone()),
                ),
        )?,
    };
    Ok(message)
}

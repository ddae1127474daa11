//! What a failed delivery means, in one taxonomy for both ways drumbeat hears of it: a
//! server's answer while sending (reply code, enhanced status code, text) and a delivery
//! report found later in the mailbox (RFC 3464 `Status` and `Diagnostic-Code`, or the prose of
//! Exchange, Gmail, qmail, Exim, Domino…).
//!
//! The reasons and their names are sisimai's (<https://libsisimai.org/en/reason/>), the
//! established bounce taxonomy, so figures compare with what other tools report. Each reason
//! belongs to one [`Side`]: the address is gone for good (hard), the lead's mailbox has a
//! passing problem (soft), or the receiving side refuses *us* — our IP, domain, content or
//! rate — which says nothing about the address and everything about the sending mailbox.
//! What each side does to a lead is the policy's call (`policy`), not this module's.

mod phrases;
mod status;

use serde::Serialize;

pub use status::enhanced_status;

/// Why a message did not arrive (or, for the last three, why a machine wrote back at all).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Reason {
    /// The mailbox does not exist.
    UserUnknown,
    /// The domain does not exist or has no mail host.
    HostUnknown,
    /// The person moved to another address.
    HasMoved,
    /// The domain accepts no mail at all (a null MX, RFC 7505).
    NotAccept,
    /// The mailbox is over its quota.
    MailboxFull,
    /// The message is larger than the receiver takes.
    MesgTooBig,
    /// A receiver's limit other than size (recipients, length).
    ExceedLimit,
    /// The mailbox is disabled or suspended for now.
    Suspend,
    /// The receiver kept failing until the sending server gave up.
    Expired,
    /// The receiving server failed (internal error, loop, misconfiguration).
    SystemError,
    /// The receiving server's disk is full.
    SystemFull,
    /// The network between the servers failed (timeout, refused connection, routing loop).
    NetworkError,
    /// The receiver's delivery program (procmail, a pipe) failed.
    MailerError,
    /// The recipient's own filter refused the message.
    Filtered,
    /// The sender's address or domain was refused.
    Rejected,
    /// Our IP or domain is on a block list.
    Blocked,
    /// Our sending IP or domain has a bad reputation.
    BadReputation,
    /// The message was judged to be spam.
    SpamDetected,
    /// A virus or malware was found in the message.
    VirusDetected,
    /// The receiver's policy refused the message.
    PolicyViolation,
    /// TLS or authentication was required.
    SecurityError,
    /// SPF, DKIM or DMARC failed.
    AuthFailure,
    /// Our sending IP has no (matching) reverse DNS.
    RequirePtr,
    /// The message is not RFC 5322 compliant.
    NotCompliantRfc,
    /// We sent too fast.
    Speeding,
    /// We opened too many connections.
    TooManyConn,
    /// The server refused to relay.
    NoRelaying,
    /// The server did not understand a command.
    SyntaxError,
    /// The content was refused (encoding, media type, headers).
    ContentError,
    /// A failure nothing in the report explains.
    Undefined,
    /// A success report (RFC 3464 `Action: delivered`/`relayed`, a provider's delivery
    /// notice): not a bounce.
    Delivered,
    /// A spam complaint (ARF, RFC 5965): not a bounce.
    Feedback,
    /// An automatic answer (out of office): not a bounce.
    Vacation,
}

/// Who a failure is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Side {
    /// The address does not work and will not: suppress it.
    Hard,
    /// The lead's mailbox has a passing problem: try the lead again later.
    LeadSoft,
    /// The receiver refused the sender (IP, domain, authentication, content, rate): the lead
    /// is not at fault, the sending mailbox is.
    Sender,
    /// Not a failure at all.
    NotABounce,
}

impl Reason {
    /// Every reason.
    pub const ALL: [Reason; 33] = [
        Reason::UserUnknown,
        Reason::HostUnknown,
        Reason::HasMoved,
        Reason::NotAccept,
        Reason::MailboxFull,
        Reason::MesgTooBig,
        Reason::ExceedLimit,
        Reason::Suspend,
        Reason::Expired,
        Reason::SystemError,
        Reason::SystemFull,
        Reason::NetworkError,
        Reason::MailerError,
        Reason::Filtered,
        Reason::Rejected,
        Reason::Blocked,
        Reason::BadReputation,
        Reason::SpamDetected,
        Reason::VirusDetected,
        Reason::PolicyViolation,
        Reason::SecurityError,
        Reason::AuthFailure,
        Reason::RequirePtr,
        Reason::NotCompliantRfc,
        Reason::Speeding,
        Reason::TooManyConn,
        Reason::NoRelaying,
        Reason::SyntaxError,
        Reason::ContentError,
        Reason::Undefined,
        Reason::Delivered,
        Reason::Feedback,
        Reason::Vacation,
    ];

    /// sisimai's name: `userunknown`, `mailboxfull`…
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::UserUnknown => "userunknown",
            Reason::HostUnknown => "hostunknown",
            Reason::HasMoved => "hasmoved",
            Reason::NotAccept => "notaccept",
            Reason::MailboxFull => "mailboxfull",
            Reason::MesgTooBig => "mesgtoobig",
            Reason::ExceedLimit => "exceedlimit",
            Reason::Suspend => "suspend",
            Reason::Expired => "expired",
            Reason::SystemError => "systemerror",
            Reason::SystemFull => "systemfull",
            Reason::NetworkError => "networkerror",
            Reason::MailerError => "mailererror",
            Reason::Filtered => "filtered",
            Reason::Rejected => "rejected",
            Reason::Blocked => "blocked",
            Reason::BadReputation => "badreputation",
            Reason::SpamDetected => "spamdetected",
            Reason::VirusDetected => "virusdetected",
            Reason::PolicyViolation => "policyviolation",
            Reason::SecurityError => "securityerror",
            Reason::AuthFailure => "authfailure",
            Reason::RequirePtr => "requireptr",
            Reason::NotCompliantRfc => "notcompliantrfc",
            Reason::Speeding => "speeding",
            Reason::TooManyConn => "toomanyconn",
            Reason::NoRelaying => "norelaying",
            Reason::SyntaxError => "syntaxerror",
            Reason::ContentError => "contenterror",
            Reason::Undefined => "undefined",
            Reason::Delivered => "delivered",
            Reason::Feedback => "feedback",
            Reason::Vacation => "vacation",
        }
    }

    /// The reason stored as `name`.
    pub fn parse(name: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.as_str() == name)
    }

    /// Who the failure is about. Hard is only what says the address is gone (sisimai's
    /// hard bounces: user unknown, host unknown, has moved, not accept); every other failure
    /// is soft, whatever its 5xx code.
    pub fn side(self) -> Side {
        match self {
            Reason::UserUnknown | Reason::HostUnknown | Reason::HasMoved | Reason::NotAccept => {
                Side::Hard
            }
            Reason::MailboxFull
            | Reason::MesgTooBig
            | Reason::ExceedLimit
            | Reason::Suspend
            | Reason::Expired
            | Reason::SystemError
            | Reason::SystemFull
            | Reason::NetworkError
            | Reason::MailerError
            | Reason::Filtered
            | Reason::Undefined => Side::LeadSoft,
            Reason::Rejected
            | Reason::Blocked
            | Reason::BadReputation
            | Reason::SpamDetected
            | Reason::VirusDetected
            | Reason::PolicyViolation
            | Reason::SecurityError
            | Reason::AuthFailure
            | Reason::RequirePtr
            | Reason::NotCompliantRfc
            | Reason::Speeding
            | Reason::TooManyConn
            | Reason::NoRelaying
            | Reason::SyntaxError
            | Reason::ContentError => Side::Sender,
            Reason::Delivered | Reason::Feedback | Reason::Vacation => Side::NotABounce,
        }
    }

    /// The side, as `classify` prints it.
    pub fn side_name(self) -> &'static str {
        match self.side() {
            Side::Hard => "hard",
            Side::LeadSoft => "soft, the lead's side",
            Side::Sender => "soft, the sender's side",
            Side::NotABounce => "not a bounce",
        }
    }

    /// A hard bounce.
    pub fn is_hard(self) -> bool {
        self.side() == Side::Hard
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A server's answer to one message, as much of it as is known.
#[derive(Debug, Clone, Copy, Default)]
pub struct Answer<'a> {
    /// The enhanced status code (`5.1.1`), from a DSN's `Status` or the answer's text.
    pub status: Option<&'a str>,
    /// The server's own words: the SMTP answer, or a DSN's `Diagnostic-Code`.
    pub diagnostic: &'a str,
    /// The rest of the report (a bounce's prose), read only when the rest says nothing.
    pub report: &'a str,
    /// The SMTP command the answer was given to (`RCPT TO`, `DATA`…), when known. A report
    /// that does not say is read for it.
    pub command: Option<&'a str>,
}

/// The reason of a failed delivery. Reads, in order: a status code that names the reason
/// outright (`5.1.1`, `5.2.2`, `5.7.26`…), the server's own words, the status code's class
/// and subject (`5.7.x`), the report's prose, and the basic reply code; a failure none of
/// them explains is [`Reason::Undefined`].
pub fn reason_of(answer: Answer<'_>) -> Reason {
    let reason = first_reason(answer);
    // A temporary answer ("450 4.1.1 … lookup failed") is no proof that the address is gone.
    let temporary = answer.status.is_some_and(|s| s.starts_with('4'))
        || answer.status.is_none() && answer.diagnostic.trim_start().starts_with('4');
    if temporary && reason.is_hard() {
        return Reason::Undefined;
    }
    reason
}

fn first_reason(answer: Answer<'_>) -> Reason {
    let status = answer
        .status
        .map(str::to_string)
        .or_else(|| enhanced_status(answer.diagnostic))
        .or_else(|| enhanced_status(answer.report));
    let diagnostic = bounded_lower(answer.diagnostic);
    let report = bounded_lower(answer.report);
    let command = match answer.command {
        Some(c) => Command::of(&c.to_ascii_lowercase()),
        None => Command::of(&diagnostic).or_else(|| Command::of(&report)),
    };
    // The server's own words first: servers answer many refusals with one code ("5.1.1 …
    // mailbox currently suspended", "5.1.1 … max message size exceeded").
    if let Some(r) = phrases::reason_in(&diagnostic) {
        return unknown_where(r, status.as_deref(), command);
    }
    if let Some(r) = status.as_deref().and_then(status::decisive) {
        return r;
    }
    if let Some(r) = status.as_deref().and_then(status::general) {
        return r;
    }
    if let Some(r) = phrases::reason_in(&report) {
        return unknown_where(r, status.as_deref(), command);
    }
    Reason::Undefined
}

/// The SMTP command a refusal answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Command {
    Mail,
    Rcpt,
    Data,
}

impl Command {
    /// The command `lower` (an answer or a report, lowercase) names, if any.
    fn of(lower: &str) -> Option<Command> {
        const DATA: &[&str] = &[
            "end of data",
            "in reply to data",
            "after data",
            "data command",
            "data:",
        ];
        if lower.contains("rcpt") || lower.contains("does not like recipient") {
            Some(Command::Rcpt)
        } else if DATA.iter().any(|p| lower.contains(p)) || lower == "data" {
            Some(Command::Data)
        } else if lower.contains("mail from") {
            Some(Command::Mail)
        } else {
            None
        }
    }
}

/// "No such user" means the address is gone only where it answers the address: the
/// recipient command (`RCPT TO`), or a status that says so (`5.1.1`). Given after the
/// message was sent, or without saying when, it is a filter's answer (sisimai's `filtered`):
/// the address may well exist, so it is retried, not suppressed.
fn unknown_where(reason: Reason, status: Option<&str>, command: Option<Command>) -> Reason {
    let names_the_address = status.is_some_and(|s| {
        let mut parts = s.split('.').skip(1);
        parts.next() == Some("1") && matches!(parts.next(), Some("1" | "3" | "10"))
    });
    match (reason, command) {
        (Reason::UserUnknown, Some(Command::Rcpt)) => reason,
        (Reason::UserUnknown, Some(Command::Mail)) => Reason::Rejected,
        (Reason::UserUnknown, _) if !names_the_address => Reason::Filtered,
        _ => reason,
    }
}

/// The reason of an SMTP server's answer to a command while sending (`what` is the command:
/// `MAIL FROM`, `RCPT TO`, `DATA`). A refusal of our own envelope sender is about us, never
/// about the lead.
pub fn reason_of_smtp(what: &str, text: &str) -> Reason {
    let reason = reason_of(Answer {
        status: None,
        diagnostic: text,
        report: "",
        command: Some(what),
    });
    if what == "MAIL FROM" && reason.side() != Side::Sender {
        return Reason::Rejected;
    }
    reason
}

/// Lowercase, at most 20,000 characters (reports can be huge; the reason is near the top).
fn bounded_lower(text: &str) -> String {
    text.chars().take(20_000).collect::<String>().to_lowercase()
}

#[cfg(test)]
mod tests;

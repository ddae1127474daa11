//! The kinds of signal drumbeat hears about a message it sent: what the inbox watcher makes
//! of a message in the mailbox, and what an email provider's webhook reports.

use serde::Serialize;

/// What a message found in the mailbox is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum InboundKind {
    /// Permanent failure: the address does not work (suppress it).
    BounceHard,
    /// Temporary failure or delay: mailbox full, try later, still retrying.
    BounceSoft,
    /// An automatic answer: out of office, autoresponder, success report.
    AutoReply,
    /// The person asks not to be emailed again.
    Unsubscribe,
    /// The person asks to be contacted later.
    Later,
    /// Anything else: a person wrote.
    Reply,
    /// A success report (RFC 3464 `Action: delivered`/`relayed`, a provider's delivery
    /// notice): nothing to do.
    Delivered,
    /// A challenge-response request (Boxbe, Bluebottle, "verify you are human"): only a
    /// person can answer it.
    Challenge,
    /// A spam complaint (an ARF feedback report, RFC 5965).
    Complaint,
}

impl InboundKind {
    /// Every kind.
    pub const ALL: [InboundKind; 9] = [
        InboundKind::BounceHard,
        InboundKind::BounceSoft,
        InboundKind::AutoReply,
        InboundKind::Unsubscribe,
        InboundKind::Later,
        InboundKind::Reply,
        InboundKind::Delivered,
        InboundKind::Challenge,
        InboundKind::Complaint,
    ];

    /// The kind stored as `name` (see [`InboundKind::as_str`]).
    pub fn parse(name: &str) -> Option<InboundKind> {
        InboundKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// The stable name used in JSON and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            InboundKind::BounceHard => "bounce-hard",
            InboundKind::BounceSoft => "bounce-soft",
            InboundKind::AutoReply => "auto-reply",
            InboundKind::Unsubscribe => "unsubscribe",
            InboundKind::Later => "later",
            InboundKind::Reply => "reply",
            InboundKind::Delivered => "delivered",
            InboundKind::Challenge => "challenge",
            InboundKind::Complaint => "complaint",
        }
    }
}

impl std::fmt::Display for InboundKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a provider says happened to a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProviderKind {
    /// The receiving server accepted it.
    Delivered,
    /// A permanent failure: the address does not exist or refuses us for good.
    BounceHard,
    /// A temporary failure the provider gave up on, or a soft bounce.
    BounceSoft,
    /// Delayed; the provider retries.
    Deferred,
    /// The recipient marked it as spam.
    Complained,
    /// The open pixel was fetched.
    Opened,
    /// A tracked link was followed.
    Clicked,
}

impl ProviderKind {
    /// The stored name (`provider_events.kind`).
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Delivered => "delivered",
            ProviderKind::BounceHard => "bounce-hard",
            ProviderKind::BounceSoft => "bounce-soft",
            ProviderKind::Deferred => "deferred",
            ProviderKind::Complained => "complained",
            ProviderKind::Opened => "opened",
            ProviderKind::Clicked => "clicked",
        }
    }
}

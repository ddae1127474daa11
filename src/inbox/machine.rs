//! Machine mail that is neither a bounce nor a person: a provider's notification by email
//! (Amazon SES through SNS: delivery, bounce, complaint) and challenge-response requests
//! (Boxbe, Bluebottle, SpamArrest, "please verify you are a person").

use serde_json::Value;

use super::classify::{Classification, Kind};
use super::parse::Inbound;
use crate::bounce::{self, Answer, Reason, Side};

/// Words of challenge-response systems, lowercase, searched in the subject and the first
/// 3,000 characters of the text.
const CHALLENGES: &[&str] = &[
    "boxbe",
    "bluebottle",
    "spamarrest",
    "spam arrest",
    "mailblocks",
    "choicemail",
    "sendertrust",
    "please verify that you are a human",
    "verify that you are a real person",
    "verify you are human",
    "confirm that you are a human",
    "prove you are human",
    "i use a spam-blocking service",
    "i use a spam filter that requires",
    "challenge-response",
    "approved senders list",
    "approved sender list",
    "to be added to my approved",
    "add you to my list of approved",
    "whitelist request",
    "sender verification request",
    "awaiting your verification",
    "pending your verification",
    "click the link below to verify",
    "is waiting for you to verify",
];

/// A challenge-response request: only a person can answer it.
pub(super) fn challenge(mail: &Inbound) -> Option<Classification> {
    let subject = mail.subject.to_lowercase();
    let head: String = mail
        .visible_text
        .chars()
        .take(3_000)
        .collect::<String>()
        .to_lowercase();
    let from = mail.from.as_deref().unwrap_or_default();
    let phrase = CHALLENGES
        .iter()
        .find(|p| subject.contains(*p) || head.contains(*p) || from.contains(*p))?;
    Some(Classification::new(
        Kind::Challenge,
        format!("challenge-response request: {phrase}"),
        mail,
    ))
}

/// An Amazon SES notification delivered by email (an SNS e-mail subscription): JSON with
/// `notificationType` (or `eventType`) Delivery, Bounce or Complaint, possibly wrapped in
/// SNS's envelope (`"Message": "{…}"`).
pub(super) fn provider_notice(mail: &Inbound) -> Option<Classification> {
    let body = mail.body.trim();
    if !body.starts_with('{') || body.len() > 1_000_000 {
        return None;
    }
    // SNS e-mail subscriptions append a footer ("--\nIf you wish to stop receiving…") after
    // the JSON: read the first value and ignore what follows.
    let mut v: Value = serde_json::Deserializer::from_str(body)
        .into_iter::<Value>()
        .next()?
        .ok()?;
    if let Some(inner) = v.get("Message").and_then(Value::as_str) {
        v = serde_json::from_str(inner).ok()?;
    }
    let kind = v
        .get("notificationType")
        .or_else(|| v.get("eventType"))
        .and_then(Value::as_str)?;
    let recipient = |path: &str| {
        v.pointer(path)
            .and_then(Value::as_str)
            .map(str::to_lowercase)
    };
    let mut c = match kind {
        "Delivery" => {
            let mut c =
                Classification::new(Kind::Delivered, "Amazon SES delivery notification", mail);
            c.reason = Some(Reason::Delivered);
            c
        }
        "Complaint" => {
            let mut c =
                Classification::new(Kind::Complaint, "Amazon SES complaint notification", mail);
            c.reason = Some(Reason::Feedback);
            c.recipient = recipient("/complaint/complainedRecipients/0/emailAddress");
            c
        }
        "Bounce" => ses_bounce(&v, mail),
        _ => return None,
    };
    if c.recipient.is_none() {
        c.recipient = recipient("/mail/destination/0")
            .or_else(|| recipient("/bounce/bouncedRecipients/0/emailAddress"));
    }
    Some(c)
}

/// An SES bounce: `Permanent` with a diagnostic that says why, `Transient` never hard.
fn ses_bounce(v: &Value, mail: &Inbound) -> Classification {
    let r = v.pointer("/bounce/bouncedRecipients/0");
    let text = |k: &str| {
        r.and_then(|r| r.get(k))
            .and_then(Value::as_str)
            .unwrap_or_default()
    };
    let sub = v
        .pointer("/bounce/bounceSubType")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let permanent = v.pointer("/bounce/bounceType").and_then(Value::as_str) == Some("Permanent");
    let mut reason = bounce::reason_of(Answer {
        status: Some(text("status")).filter(|s| !s.is_empty()),
        diagnostic: text("diagnosticCode"),
        report: sub,
        command: None,
    });
    if sub == "Suppressed" || sub == "OnAccountSuppressionList" {
        reason = Reason::UserUnknown;
    }
    if !permanent && reason.side() == Side::Hard {
        reason = Reason::Undefined;
    }
    let kind = if reason.is_hard() {
        Kind::BounceHard
    } else {
        Kind::BounceSoft
    };
    let mut c = Classification::new(kind, format!("Amazon SES bounce notification: {sub}"), mail);
    c.reason = Some(reason);
    c.status = Some(text("status").to_string()).filter(|s| !s.is_empty());
    c.recipient = Some(text("emailAddress").to_lowercase()).filter(|s| !s.is_empty());
    c
}

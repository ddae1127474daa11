//! Deciding what an inbound message means for the lead who sent it (or whose address
//! bounced): a hard or soft bounce, an auto-reply (with the stated return date), an
//! unsubscribe request, a "contact me later" reply (with the date to snooze to), or a human
//! reply. Rules run in that order; the first that matches decides and names itself in
//! [`Classification::rule`], so a rep can see why.

use chrono::NaiveDate;
use serde::Serialize;

use super::dates;
use super::parse::{DsnRecipient, Inbound, address_in};
use super::reply_text;
use super::words::*;
use crate::bounce::{self, Answer, Reason, Side, enhanced_status};
use crate::intent::{self, Reading};

pub use crate::domain::InboundKind as Kind;

/// The verdict on one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Classification {
    /// What it is.
    pub kind: Kind,
    /// Machine mail: why it was written, in sisimai's taxonomy (a bounce's `userunknown`,
    /// `mailboxfull`, `blocked`…; `delivered`, `feedback`, `vacation`).
    pub reason: Option<Reason>,
    /// Which rule decided, human-readable and stable, e.g. `RFC 3464 delivery-status:
    /// Status 5.1.1` or `out-of-office subject (de): Abwesenheitsnotiz`.
    pub rule: String,
    /// Bounces: the enhanced status code (`5.1.1`), when the message gives one.
    pub status: Option<String>,
    /// Bounces: the address that failed.
    pub recipient: Option<String>,
    /// Auto-replies: the return date the text states.
    pub return_date: Option<NaiveDate>,
    /// "Later" replies: the date to contact the person again, when the text names one.
    pub later_date: Option<NaiveDate>,
    /// The first lines of the visible text (quoted history and signature removed).
    pub text: String,
    /// A person's reply: what it means (`intent`, `intent_words`, a referral's `referred`).
    /// An automatic reply: only when it names a replacement or says the person has left.
    #[serde(flatten)]
    pub intent: Option<Reading>,
}

impl Classification {
    pub(super) fn new(kind: Kind, rule: impl Into<String>, mail: &Inbound) -> Self {
        Classification {
            kind,
            reason: None,
            rule: rule.into(),
            status: None,
            recipient: None,
            return_date: None,
            later_date: None,
            text: reply_text::excerpt(&mail.visible_text),
            intent: None,
        }
    }
}

/// Classifies a parsed message. `received` (the day it arrived) anchors dates without a year
/// and relative ones ("next quarter", "back Monday").
pub fn classify(mail: &Inbound, received: NaiveDate) -> Classification {
    let mut c = verdict(mail, received);
    let exclude: Vec<&str> = mail.from.as_deref().into_iter().collect();
    c.intent = match c.kind {
        Kind::Reply => Some(intent::read_reply(&mail.visible_text, &exclude)),
        Kind::AutoReply => intent::read_auto_reply(&mail.visible_text, &exclude),
        _ => None,
    };
    c
}

fn verdict(mail: &Inbound, received: NaiveDate) -> Classification {
    // A challenge-response system (Boxbe) may dress its request as a DSN with `Action:
    // failed`: only a person can answer it, so it is read first.
    super::machine::challenge(mail)
        .or_else(|| dsn_bounce(mail))
        .or_else(|| report(mail))
        .or_else(|| super::machine::provider_notice(mail))
        .or_else(|| bounce(mail))
        .or_else(|| auto_reply(mail, received))
        .or_else(|| unsubscribe(mail))
        .or_else(|| later(mail, received))
        .unwrap_or_else(|| {
            let rule = if mail.in_reply_to.is_empty() && mail.references.is_empty() {
                "human message: not a reply (no In-Reply-To or References)"
            } else {
                "human reply: no bounce, automation, unsubscribe or later signal"
            };
            Classification::new(Kind::Reply, rule, mail)
        })
}

// ---------------------------------------------------------------------------------------
// Bounces

fn bounce(mail: &Inbound) -> Option<Classification> {
    let subject = mail.subject.to_lowercase();
    let body: String = mail
        .body
        .chars()
        .take(20_000)
        .collect::<String>()
        .to_lowercase();
    let address = mail.from.as_deref().unwrap_or_default().to_lowercase();
    let local = address.split('@').next().unwrap_or_default();
    let failure_words = FAILURE_WORDS.iter().any(|w| body.contains(w));
    // A daemon writes nothing but delivery notices; mail from no address at all (`From: <>`)
    // is one when it speaks of a failed delivery.
    let sender = BOUNCE_SENDERS.contains(&local)
        || local.starts_with("mailer-daemon")
        || local.starts_with("postmaster")
        || mail.from_name.as_deref().is_some_and(|n| {
            let n = n.to_lowercase();
            BOUNCE_SENDER_NAMES.iter().any(|w| n.contains(w))
        })
        || (address.is_empty() && failure_words);
    let body_marker = BOUNCE_BODIES
        .iter()
        .find(|(m, _)| {
            // "Your message to … couldn't be delivered" needs both halves.
            body.contains(m)
                && (*m != "your message to"
                    || body.contains("couldn't be delivered")
                    || body.contains("could not be delivered"))
        })
        .map(|(_, rule)| (*rule).to_string());
    let success = SUCCESS_SUBJECTS.iter().any(|w| subject.contains(w));
    let subject_marker = BOUNCE_SUBJECTS
        .iter()
        .find(|(s, _)| !success && subject.contains(s))
        .map(|(s, who)| format!("{who} bounce subject: {}", original_case(&mail.subject, s)));
    let rule = if !mail.failed_recipients.is_empty() {
        "X-Failed-Recipients header".to_string()
    } else if let Some(r) = body_marker {
        r
    } else if let Some(r) = subject_marker {
        r
    } else if sender && !success {
        format!(
            "bounce sender: {}",
            mail.from.as_deref().unwrap_or("<> (null sender)")
        )
    } else if mail.report_type.as_deref() == Some("delivery-status") || mail.has_delivery_status {
        "RFC 3464 delivery-status report without recipient fields".to_string()
    } else {
        return None;
    };
    let report = report_text(&body);
    let status = enhanced_status(report).filter(|s| !s.starts_with('2'));
    let reason = bounce::reason_of(Answer {
        status: status.as_deref(),
        diagnostic: report,
        report: "",
        command: None,
    });
    let reason = match reason {
        Reason::Undefined | Reason::NetworkError if delay_notice(&subject, report) => {
            Reason::Expired
        }
        r => r,
    };
    let mut c = Classification::new(bounce_kind(reason), rule, mail);
    c.reason = Some(reason);
    c.text = reply_text::excerpt(report_of(&mail.visible_text));
    c.status = status;
    c.recipient = mail
        .failed_recipients
        .first()
        .cloned()
        .or_else(|| recipient_in_text(report, mail));
    Some(c)
}

/// A warning that delivery is delayed and still being tried (Gmail's "has been delayed",
/// Exim's "Warning: message … delayed"), not a final failure. `subject` and `report` are
/// lowercase.
fn delay_notice(subject: &str, report: &str) -> bool {
    const WORDS: &[&str] = &[
        "has been delayed",
        "delivery delayed",
        "delivery is delayed",
        "message delayed",
        "still being retried",
        "will continue to try",
        "will keep trying",
        "has not yet been delivered",
    ];
    subject.contains("delay")
        || (subject.starts_with("warning:") && report.contains("delayed"))
        || WORDS.iter().any(|w| report.contains(w))
}

/// The bounce's own report: the body before the copy of the original message.
fn report_text(body: &str) -> &str {
    const COPY_MARKERS: &[&str] = &[
        "------ this is a copy of the message",
        "--- below this line is a copy of the message",
        "----- original message -----",
        "original message headers:",
        "------ original message follows",
        "----- the original message",
        "return-path:",
        "received: from",
    ];
    let cut = COPY_MARKERS
        .iter()
        .filter_map(|m| body.find(m))
        .min()
        .unwrap_or(body.len());
    body.get(..cut).unwrap_or(body)
}

/// `report_text` for text in its original case.
fn report_of(text: &str) -> &str {
    let lower = text.to_lowercase();
    if lower.len() != text.len() {
        return text;
    }
    let cut = report_text(&lower).len();
    text.get(..cut).unwrap_or(text).trim_end()
}

/// The failed address named in a bounce's text: one of the original's recipients when it
/// names one, else the first address that is not the bounce's sender or a daemon.
fn recipient_in_text(report: &str, mail: &Inbound) -> Option<String> {
    let addresses: Vec<String> = report
        .split(|c: char| c.is_whitespace() || c == ',')
        .take(20_000)
        .filter_map(address_in)
        .filter(|a| Some(a.as_str()) != mail.from.as_deref())
        .filter(|a| {
            let local = a.split('@').next().unwrap_or_default().to_lowercase();
            !BOUNCE_SENDERS.contains(&local.as_str())
        })
        .collect();
    addresses
        .iter()
        .find(|a| mail.original_to.contains(a))
        .or_else(|| addresses.first())
        .cloned()
        .or_else(|| mail.original_to.first().cloned())
}

/// A failure's kind: hard only when the address is gone.
fn bounce_kind(reason: Reason) -> Kind {
    match reason.side() {
        Side::Hard => Kind::BounceHard,
        _ => Kind::BounceSoft,
    }
}

/// A bounce per RFC 3464: a delivery-status part with recipient blocks.
fn dsn_bounce(mail: &Inbound) -> Option<Classification> {
    let pick: &DsnRecipient = mail
        .dsn
        .iter()
        .find(|r| r.action.as_deref() == Some("failed"))
        .or_else(|| {
            mail.dsn
                .iter()
                .find(|r| r.action.as_deref() == Some("delayed"))
        })
        .or_else(|| mail.dsn.first())?;
    let action = pick.action.as_deref().unwrap_or("failed");
    let diagnostic = pick
        .diagnostic
        .as_deref()
        .unwrap_or_default()
        .to_lowercase();
    let status = pick.status.clone().or_else(|| enhanced_status(&diagnostic));
    let recipient = pick
        .final_recipient
        .clone()
        .or_else(|| pick.original_recipient.clone())
        .or_else(|| mail.failed_recipients.first().cloned())
        .or_else(|| mail.original_to.first().cloned());
    let success = matches!(action, "delivered" | "relayed" | "expanded")
        || status.as_deref().is_some_and(|s| s.starts_with('2'));
    let (kind, reason, rule) = if success {
        (
            Kind::Delivered,
            Reason::Delivered,
            format!("RFC 3464 delivery-status: Action {action} (a success report, not a bounce)"),
        )
    } else {
        let report = mail.body.chars().take(20_000).collect::<String>();
        let reason = bounce::reason_of(Answer {
            status: status.as_deref(),
            diagnostic: &diagnostic,
            report: report_text(&report.to_lowercase()),
            command: None,
        });
        // Still trying: proof of nothing but the delay (sisimai's `expired`), unless the
        // report names a passing cause (a full mailbox).
        let reason = match (action, reason.side()) {
            ("delayed", Side::LeadSoft)
                if !matches!(reason, Reason::NetworkError | Reason::Undefined) =>
            {
                reason
            }
            ("delayed", _) => Reason::Expired,
            _ => reason,
        };
        let rule = match (&status, action) {
            (Some(s), "delayed") => format!("RFC 3464 delivery-status: Action delayed, Status {s}"),
            (None, "delayed") => "RFC 3464 delivery-status: Action delayed".to_string(),
            (Some(s), _) => format!("RFC 3464 delivery-status: Status {s}"),
            (None, _) => format!("RFC 3464 delivery-status: Action {action}"),
        };
        (bounce_kind(reason), reason, rule)
    };
    let mut c = Classification::new(kind, rule, mail);
    c.reason = Some(reason);
    c.text = reply_text::excerpt(report_of(&mail.visible_text));
    if kind != Kind::Delivered {
        c.status = status;
        c.recipient = recipient;
    }
    Some(c)
}

/// Other machine reports (RFC 6522 multipart/report): a read receipt (RFC 8098) is an
/// automatic answer, not a person writing; an abuse report (RFC 5965, a spam complaint)
/// means "never again", like an unsubscribe.
fn report(mail: &Inbound) -> Option<Classification> {
    match mail.report_type.as_deref()? {
        "disposition-notification" => Some(Classification::new(
            Kind::AutoReply,
            "RFC 8098 disposition-notification (read receipt)",
            mail,
        )),
        "feedback-report" => {
            let mut c = Classification::new(
                Kind::Complaint,
                "RFC 5965 feedback-report (spam complaint)",
                mail,
            );
            c.reason = Some(Reason::Feedback);
            c.recipient = mail.original_to.first().cloned();
            Some(c)
        }
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------
// Auto-replies

fn auto_reply(mail: &Inbound, received: NaiveDate) -> Option<Classification> {
    let subject = mail.subject.to_lowercase();
    let visible = mail.visible_text.to_lowercase();
    let head: String = visible.chars().take(1_500).collect();
    let rule = if let Some(v) = mail
        .auto_submitted
        .as_deref()
        .filter(|v| !v.is_empty() && *v != "no")
    {
        format!("Auto-Submitted: {v}")
    } else if let Some((name, value)) = mail
        .autoreply_header
        .as_ref()
        .filter(|(_, v)| !matches!(v.to_ascii_lowercase().as_str(), "no" | "false" | "0"))
    {
        format!("{name}: {value}")
    } else if let Some(v) = mail.auto_response_suppress.as_deref().filter(|v| {
        v.split([',', ' '])
            .any(|t| t.eq_ignore_ascii_case("oof") || t.eq_ignore_ascii_case("autoreply"))
    }) {
        format!("X-Auto-Response-Suppress: {v}")
    } else if let Some(p) = mail
        .precedence
        .as_deref()
        .filter(|p| matches!(*p, "auto_reply" | "auto-reply" | "bulk" | "junk"))
    {
        format!("Precedence: {p}")
    } else if let Some((lang, phrase)) = OOF_SUBJECTS.iter().find(|(_, p)| {
        let p = p.to_lowercase();
        if p == "auto:" {
            subject.starts_with(&p)
        } else {
            subject.contains(&p)
        }
    }) {
        format!("out-of-office subject ({lang}): {phrase}")
    } else if let Some((lang, phrase)) = OOF_BODIES.iter().find(|(_, p)| head.contains(p)) {
        format!("out-of-office text ({lang}): {phrase}")
    } else {
        return None;
    };
    let mut c = Classification::new(Kind::AutoReply, rule, mail);
    c.reason = Some(Reason::Vacation);
    let text = format!("{}\n{}", mail.subject, mail.visible_text);
    c.return_date = dates::return_date(&text, received);
    Some(c)
}

// ---------------------------------------------------------------------------------------
// Unsubscribe and later

fn unsubscribe(mail: &Inbound) -> Option<Classification> {
    let visible = mail.visible_text.to_lowercase();
    if let Some((lang, phrase)) = UNSUBSCRIBE.iter().find(|(_, p)| visible.contains(p)) {
        return Some(Classification::new(
            Kind::Unsubscribe,
            format!("unsubscribe request ({lang}): {phrase}"),
            mail,
        ));
    }
    let subject = strip_reply_prefixes(&mail.subject).to_lowercase();
    if matches!(
        subject.as_str(),
        "unsubscribe"
            | "remove"
            | "remove me"
            | "stop"
            | "abmelden"
            | "désabonner"
            | "baja"
            | "uitschrijven"
    ) {
        return Some(Classification::new(
            Kind::Unsubscribe,
            format!(
                "unsubscribe subject: {}",
                strip_reply_prefixes(&mail.subject)
            ),
            mail,
        ));
    }
    None
}

fn later(mail: &Inbound, received: NaiveDate) -> Option<Classification> {
    let visible = mail.visible_text.to_lowercase();
    let week_out = received.checked_add_days(chrono::Days::new(7));
    let (rule, at) = if let Some((p, at)) = LATER_ASKS
        .iter()
        .find_map(|p| visible.find(p).map(|at| (p, at)))
        .filter(|_| dates::mentions_time(&visible, received))
    {
        (
            format!("later: asks to be contacted again ({p}) with a time"),
            at,
        )
    } else if let Some((p, at)) = LATER_ALONE
        .iter()
        .find_map(|p| visible.find(p).map(|at| (p, at)))
    {
        (format!("later: {p}"), at)
    } else if let Some((p, at)) = LATER_CONTEXT
        .iter()
        .find_map(|p| visible.find(p).map(|at| (p, at)))
        .filter(|_| {
            dates::later_date(&visible, received).is_some_and(|d| week_out.is_some_and(|w| d >= w))
        })
    {
        (format!("later: {p}, with a date a week or more ahead"), at)
    } else {
        return None;
    };
    let mut c = Classification::new(Kind::Later, rule, mail);
    // The time named after the ask ("frozen until Q1; reach out next quarter"), else any.
    c.later_date = visible
        .get(at..)
        .and_then(|after| dates::later_date(after, received))
        .or_else(|| dates::later_date(&visible, received));
    Some(c)
}

/// "Re: AW: Fwd: x" → "x".
fn strip_reply_prefixes(subject: &str) -> &str {
    let mut s = subject.trim();
    loop {
        let lower = s.to_lowercase();
        let Some(p) = [
            "re:", "aw:", "fwd:", "fw:", "wg:", "tr:", "rv:", "sv:", "antw:",
        ]
        .iter()
        .find(|p| lower.starts_with(*p)) else {
            return s;
        };
        s = s.get(p.len()..).unwrap_or_default().trim_start();
    }
}

/// The part of `text` that matched `lower_pattern` (case-insensitive), as written.
fn original_case(text: &str, lower_pattern: &str) -> String {
    let lower = text.to_lowercase();
    if lower.len() == text.len()
        && let Some(at) = lower.find(lower_pattern)
        && let Some(s) = text.get(at..at + lower_pattern.len())
    {
        return s.trim_end_matches(':').trim().to_string();
    }
    lower_pattern.trim_end_matches(':').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(text: &str) -> Inbound {
        Inbound {
            subject: "Re: Quick question".into(),
            in_reply_to: vec!["<18ed5c2a9f0b41db@example.com>".into()],
            body: text.into(),
            visible_text: text.into(),
            ..Inbound::default()
        }
    }

    fn kind_of(text: &str) -> (Kind, String) {
        let received = NaiveDate::from_ymd_opt(2026, 3, 2).expect("a valid date");
        let c = classify(&reply(text), received);
        (c.kind, c.rule)
    }

    #[test]
    fn unsubscribe_requests_in_six_languages() {
        for text in [
            "Please remove me from your mailing list.",
            "Stop emailing me.",
            "Bitte tragen Sie mich aus Ihrem Verteiler aus. Ich möchte mich abmelden.",
            "Merci de me désinscrire de votre liste.",
            "Por favor, darme de baja de su lista.",
            "Por favor, quero descadastrar meu e-mail.",
            "Graag uitschrijven, dank u.",
        ] {
            assert_eq!(kind_of(text).0, Kind::Unsubscribe, "{text}");
        }
    }

    #[test]
    fn later_replies_and_what_is_not_later() {
        for text in [
            "Not a priority right now - maybe in Q3?",
            "We're slammed. Ping me in two weeks.",
            "Circle back in January.",
            "Pas maintenant, recontactez-moi le mois prochain.",
            "Melden Sie sich bitte nächsten Monat wieder.",
            "Agora não, fale comigo no próximo trimestre.",
            "Nu niet, neem over drie weken contact op.",
        ] {
            assert_eq!(kind_of(text).0, Kind::Later, "{text}");
        }
        for text in [
            "Thursday works, I'm busy right now but free then.",
            "Sure, let's talk next week. Can you send times?",
            "Can you follow up with pricing?",
            "Not interested.",
        ] {
            assert_eq!(kind_of(text).0, Kind::Reply, "{text}");
        }
    }

    #[test]
    fn out_of_office_text_without_headers() {
        for text in [
            "I am out of the office until 3/16 with no access to email.",
            "Ich bin im Urlaub und ab dem 16. März wieder erreichbar.",
            "Je suis en congé jusqu'au lundi 16 mars.",
            "Estoy de vacaciones hasta el 16 de marzo.",
            "Estou de férias até 16/03.",
            "Ik ben met vakantie tot 16 maart.",
        ] {
            let received = NaiveDate::from_ymd_opt(2026, 3, 2).expect("a valid date");
            let c = classify(&reply(text), received);
            assert_eq!(c.kind, Kind::AutoReply, "{text}");
            assert_eq!(
                c.return_date,
                NaiveDate::from_ymd_opt(2026, 3, 16),
                "{text}"
            );
        }
    }

    #[test]
    fn reply_prefixes_are_stripped() {
        assert_eq!(strip_reply_prefixes("Re: AW: unsubscribe"), "unsubscribe");
    }
}

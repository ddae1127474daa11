//! The notice a rep gets when a lead answers: who (name, address, company), to which
//! sequence and step, the reply's subject and first lines, and the commands to look at it.

use chrono::DateTime;
use chrono_tz::Tz;

use super::{Rendered, person};
use crate::store::ReplyNotice;
use crate::webhooks::slack_escape;

/// Lines of the reply quoted in a notice.
const QUOTED_LINES: usize = 8;

/// What a notice says, in the words all three forms share.
struct Facts<'a> {
    /// "Name <address>", or the address.
    who: String,
    /// The name alone, or the address.
    short: String,
    company: Option<&'a str>,
    /// The lead asked to be contacted later (rather than replied).
    later: bool,
    verb: &'static str,
    /// What the reply means, with the words that decided (`meeting request: let's talk`),
    /// when the text decides.
    intent: Option<String>,
    reply_subject: Option<&'a str>,
    later_date: Option<&'a str>,
    /// The reply's first lines.
    quoted: Vec<&'a str>,
    /// When it arrived, in the rep's zone.
    received: String,
    /// Sequence and step.
    place: String,
}

impl<'a> Facts<'a> {
    fn of(n: &'a ReplyNotice, tz: Tz) -> Facts<'a> {
        let who = person(&n.email, n.first_name.as_deref(), n.last_name.as_deref());
        let short = who.split(" <").next().unwrap_or(&n.email).to_string();
        let text = |key: &str| {
            n.evidence
                .get(key)
                .and_then(|v| v.as_str())
                .map(str::trim)
                .filter(|s| !s.is_empty())
        };
        let later = text("kind") == Some("later");
        Facts {
            who,
            short,
            company: n
                .company
                .as_deref()
                .map(str::trim)
                .filter(|c| !c.is_empty()),
            later,
            verb: match text("kind") {
                Some("later") => "asked to be contacted later",
                // An automatic answer that says the person has left (or names a successor).
                Some("auto-reply") => "answered automatically",
                _ => "replied",
            },
            intent: intent_of(n),
            reply_subject: text("subject"),
            later_date: text("later_date"),
            quoted: text("snippet")
                .map(|s| s.lines().take(QUOTED_LINES).collect())
                .unwrap_or_default(),
            received: DateTime::from_timestamp(n.received_at, 0)
                .map(|t| {
                    t.with_timezone(&tz)
                        .format("%a %-d %b %Y %H:%M")
                        .to_string()
                })
                .unwrap_or_default(),
            place: match (&n.sequence_id, &n.step_id) {
                (Some(s), Some(step)) => format!("{s}, step {step}"),
                (Some(s), None) => s.clone(),
                (None, _) => "no sequence".to_string(),
            },
        }
    }
}

/// The intent the watcher read in the reply ("meeting request: let's talk"), unless unclear;
/// a referral names the people, and someone who left says so.
fn intent_of(n: &ReplyNotice) -> Option<String> {
    let intent = n.evidence.get("intent")?.as_str()?;
    if intent == "unclear" {
        return None;
    }
    let list = |key: &str| -> Vec<&str> {
        n.evidence
            .get(key)
            .and_then(|v| v.as_array())
            .map(|a| a.iter().filter_map(|w| w.as_str()).take(4).collect())
            .unwrap_or_default()
    };
    let mut out = intent.replace('-', " ");
    let words = list("intent_words");
    if !words.is_empty() {
        out.push_str(&format!(": {}", words.join(", ")));
    }
    let referred = list("referred");
    if !referred.is_empty() {
        out.push_str(&format!(" → {}", referred.join(", ")));
    }
    Some(out)
}

/// The notice of `n`, with times in `tz`.
pub fn render(n: &ReplyNotice, tz: Tz) -> Rendered {
    let f = Facts::of(n, tz);
    Rendered {
        subject: subject(&f),
        body: body(&f, n, tz),
        chat: chat(&f, n),
    }
}

fn subject(f: &Facts<'_>) -> String {
    let (short, verb) = (&f.short, f.verb);
    let mut subject = match f.company {
        Some(c) => format!("{short} ({c}) {verb}"),
        None => format!("{short} {verb}"),
    };
    if let Some(i) = n_intent_word(f) {
        subject.push_str(&format!(" ({i})"));
    }
    if let Some(s) = f.reply_subject {
        subject.push_str(&format!(": {s}"));
    }
    subject
}

/// The intent alone ("meeting request"), for a subject line.
fn n_intent_word(f: &Facts<'_>) -> Option<String> {
    f.intent
        .as_deref()
        .map(|i| i.split(':').next().unwrap_or(i).trim().to_string())
}

fn body(f: &Facts<'_>, n: &ReplyNotice, tz: Tz) -> String {
    let (who, verb) = (&f.who, f.verb);
    let mut body = match f.company {
        Some(c) => format!("{who} of {c} {verb}.\n\n"),
        None => format!("{who} {verb}.\n\n"),
    };
    if let Some(s) = f.reply_subject {
        body.push_str(&format!("  Subject:   {s}\n"));
    }
    if let Some(i) = &f.intent {
        body.push_str(&format!("  Intent:    {i}\n"));
    }
    body.push_str(&format!("  Received:  {} ({tz})\n", f.received));
    body.push_str(&format!(
        "  Sequence:  {} (mailbox {})\n",
        f.place, n.mailbox
    ));
    if let Some(d) = f.later_date {
        body.push_str(&format!("  Later:     {d}\n"));
    }
    if !f.quoted.is_empty() {
        body.push('\n');
        for l in &f.quoted {
            body.push_str(&format!("  | {l}\n"));
        }
    }
    body.push_str(if f.later {
        "\nTheir sequence is paused.\n"
    } else if f.verb == "answered automatically" {
        "\nThey have left the company: their sequence stopped.\n"
    } else {
        "\nTheir sequences stopped; the reply waits for you in `drumbeat replies`.\n"
    });
    if f.intent
        .as_deref()
        .is_some_and(|i| i.starts_with("referral"))
    {
        body.push_str(
            "Each person it names is a lead now, with a task to approve enrolling them \
             (nothing is sent before you do): `drumbeat tasks`.\n",
        );
    }
    body.push_str(&format!("\n  drumbeat lead show {}\n", n.email));
    if let Some(id) = n.inbound_id {
        body.push_str(&format!(
            "  drumbeat reply handled {id} --outcome interested\n"
        ));
    }
    body
}

fn chat(f: &Facts<'_>, n: &ReplyNotice) -> String {
    let mut chat = format!(
        "*{}* {}",
        slack_escape(&match f.company {
            Some(c) => format!("{} ({c})", f.who),
            None => f.who.clone(),
        }),
        f.verb
    );
    if let Some(i) = &f.intent {
        chat.push_str(&format!(" ({})", slack_escape(i)));
    }
    chat.push_str(&format!(" — {}", slack_escape(&f.place)));
    if let Some(s) = f.reply_subject {
        chat.push_str(&format!("\n_{}_", slack_escape(s)));
    }
    for l in &f.quoted {
        chat.push_str(&format!("\n> {}", slack_escape(l)));
    }
    chat.push_str(&format!(
        "\n`drumbeat lead show {}`",
        slack_escape(&n.email)
    ));
    chat
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice() -> ReplyNotice {
        ReplyNotice {
            inbound_id: Some(12),
            email: "maria@northwind.example".into(),
            first_name: Some("Maria".into()),
            last_name: Some("Garcia".into()),
            company: Some("Northwind & Co".into()),
            owner: Some("ana".into()),
            mailbox: "ana".into(),
            sequence_id: Some("cold-outbound".into()),
            step_id: Some("intro".into()),
            evidence: serde_json::json!({
                "kind": "reply",
                "subject": "Re: Quick question",
                "snippet": "Thanks Ana, this is timely.\nCan we talk Tuesday at 3?",
            }),
            // Wednesday 2026-12-02 15:31 UTC.
            received_at: 1_796_225_460,
        }
    }

    #[test]
    fn a_notice_says_who_where_what_and_how_to_look() {
        let r = render(&notice(), Tz::Europe__Madrid);
        assert_eq!(
            r.subject,
            "Maria Garcia (Northwind & Co) replied: Re: Quick question"
        );
        let expected = "Maria Garcia <maria@northwind.example> of Northwind & Co replied.\n\n  \
Subject:   Re: Quick question\n  \
Received:  Wed 2 Dec 2026 16:31 (Europe/Madrid)\n  \
Sequence:  cold-outbound, step intro (mailbox ana)\n\n  \
| Thanks Ana, this is timely.\n  \
| Can we talk Tuesday at 3?\n\n\
Their sequences stopped; the reply waits for you in `drumbeat replies`.\n\n  \
drumbeat lead show maria@northwind.example\n  \
drumbeat reply handled 12 --outcome interested\n";
        assert_eq!(r.body, expected);
        assert_eq!(
            r.chat,
            "*Maria Garcia &lt;maria@northwind.example&gt; (Northwind &amp; Co)* replied — cold-outbound, step intro\n\
             _Re: Quick question_\n> Thanks Ana, this is timely.\n> Can we talk Tuesday at 3?\n\
             `drumbeat lead show maria@northwind.example`"
        );
    }

    #[test]
    fn a_notice_marks_the_intent_and_a_referral_names_the_people() {
        let mut n = notice();
        n.evidence["intent"] = "meeting-request".into();
        n.evidence["intent_words"] = serde_json::json!(["can we talk"]);
        let r = render(&n, Tz::UTC);
        assert_eq!(
            r.subject,
            "Maria Garcia (Northwind & Co) replied (meeting request): Re: Quick question"
        );
        assert!(
            r.body
                .contains("  Intent:    meeting request: can we talk\n"),
            "{}",
            r.body
        );
        assert!(
            r.chat.contains("replied (meeting request: can we talk) —"),
            "{}",
            r.chat
        );
        n.evidence["intent"] = "referral".into();
        n.evidence["intent_words"] = serde_json::json!(["please contact"]);
        n.evidence["referred"] = serde_json::json!(["jane@northwind.example"]);
        let r = render(&n, Tz::UTC);
        assert!(
            r.body
                .contains("  Intent:    referral: please contact → jane@northwind.example\n"),
            "{}",
            r.body
        );
        n.evidence["intent"] = "unclear".into();
        assert!(!render(&n, Tz::UTC).body.contains("Intent:"));
    }

    #[test]
    fn a_later_reply_and_a_bare_lead_read_well() {
        let mut n = notice();
        n.first_name = None;
        n.last_name = None;
        n.company = None;
        n.sequence_id = None;
        n.evidence = serde_json::json!({ "kind": "later", "later_date": "2027-01-15" });
        let r = render(&n, Tz::UTC);
        assert_eq!(
            r.subject,
            "maria@northwind.example asked to be contacted later"
        );
        assert!(
            r.body
                .starts_with("maria@northwind.example asked to be contacted later.\n")
        );
        assert!(r.body.contains("  Sequence:  no sequence (mailbox ana)\n"));
        assert!(r.body.contains("  Later:     2027-01-15\n"));
        assert!(r.body.contains("Their sequence is paused."));
    }
}

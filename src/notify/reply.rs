//! The notice a rep gets when a lead answers: who (name, address, company), to which
//! sequence and step, the reply's subject and first lines, and the commands to look at it.

use chrono::DateTime;
use chrono_tz::Tz;

use super::{Rendered, person};
use crate::store::ReplyNotice;
use crate::webhooks::slack_escape;

/// Lines of the reply quoted in a notice.
const QUOTED_LINES: usize = 8;

/// The notice of `n`, with times in `tz`.
pub fn render(n: &ReplyNotice, tz: Tz) -> Rendered {
    let who = person(&n.email, n.first_name.as_deref(), n.last_name.as_deref());
    let short = who.split(" <").next().unwrap_or(&n.email).to_string();
    let company = n
        .company
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty());
    let text = |key: &str| {
        n.evidence
            .get(key)
            .and_then(|v| v.as_str())
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    let later = text("kind") == Some("later");
    let verb = if later {
        "asked to be contacted later"
    } else {
        "replied"
    };
    let reply_subject = text("subject");
    let quoted: Vec<&str> = text("snippet")
        .map(|s| s.lines().take(QUOTED_LINES).collect())
        .unwrap_or_default();
    let received = DateTime::from_timestamp(n.received_at, 0)
        .map(|t| {
            t.with_timezone(&tz)
                .format("%a %-d %b %Y %H:%M")
                .to_string()
        })
        .unwrap_or_default();
    let place = match (&n.sequence_id, &n.step_id) {
        (Some(s), Some(step)) => format!("{s}, step {step}"),
        (Some(s), None) => s.clone(),
        (None, _) => "no sequence".to_string(),
    };

    let mut subject = match company {
        Some(c) => format!("{short} ({c}) {verb}"),
        None => format!("{short} {verb}"),
    };
    if let Some(s) = reply_subject {
        subject.push_str(&format!(": {s}"));
    }

    let mut body = match company {
        Some(c) => format!("{who} of {c} {verb}.\n\n"),
        None => format!("{who} {verb}.\n\n"),
    };
    if let Some(s) = reply_subject {
        body.push_str(&format!("  Subject:   {s}\n"));
    }
    body.push_str(&format!("  Received:  {received} ({tz})\n"));
    body.push_str(&format!("  Sequence:  {place} (mailbox {})\n", n.mailbox));
    if let Some(d) = text("later_date") {
        body.push_str(&format!("  Later:     {d}\n"));
    }
    if !quoted.is_empty() {
        body.push('\n');
        for l in &quoted {
            body.push_str(&format!("  | {l}\n"));
        }
    }
    body.push_str(if later {
        "\nTheir sequence is paused.\n"
    } else {
        "\nTheir sequences stopped; the reply waits for you in `drumbeat replies`.\n"
    });
    body.push_str(&format!("\n  drumbeat lead show {}\n", n.email));
    if let Some(id) = n.inbound_id {
        body.push_str(&format!(
            "  drumbeat reply handled {id} --outcome interested\n"
        ));
    }

    let mut chat = format!(
        "*{}* {verb}",
        slack_escape(&match company {
            Some(c) => format!("{who} ({c})"),
            None => who.clone(),
        })
    );
    chat.push_str(&format!(" — {}", slack_escape(&place)));
    if let Some(s) = reply_subject {
        chat.push_str(&format!("\n_{}_", slack_escape(s)));
    }
    for l in &quoted {
        chat.push_str(&format!("\n> {}", slack_escape(l)));
    }
    chat.push_str(&format!(
        "\n`drumbeat lead show {}`",
        slack_escape(&n.email)
    ));
    Rendered {
        subject,
        body,
        chat,
    }
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

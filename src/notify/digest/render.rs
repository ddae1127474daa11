//! The digest as a person reads it: an email's subject and plain-text body, and a chat
//! message.

use chrono::DateTime;
use chrono_tz::Tz;

use super::{DayCounts, Digest, ReplyItem, SendItem, TaskItem};
use crate::notify::Rendered;
use crate::webhooks::slack_escape;

/// Items listed per section in the text; the JSON has them all.
const SHOWN: usize = 25;

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn plural_i(n: i64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `at` (unix seconds) in `tz`, formatted.
fn local(tz: Tz, at: i64, fmt: &str) -> String {
    DateTime::from_timestamp(at, 0)
        .map(|t| t.with_timezone(&tz).format(fmt).to_string())
        .unwrap_or_default()
}

/// A `2026-12-02` date, formatted.
fn day(date: &str, fmt: &str) -> String {
    chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .map(|d| d.format(fmt).to_string())
        .unwrap_or_else(|_| date.to_string())
}

fn with_company(lead: &str, company: &Option<String>) -> String {
    match company {
        Some(c) if !c.trim().is_empty() => format!("{lead} ({c})"),
        _ => lead.to_string(),
    }
}

/// Where the rest of a section longer than [`SHOWN`] is.
fn more(n: usize, cmd: &str, body: &mut String) {
    if n > SHOWN {
        body.push_str(&format!("  … and {} more: {cmd}\n", n - SHOWN));
    }
}

/// The digest as an email (subject and plain-text body) and a chat message.
pub fn render(d: &Digest) -> Rendered {
    let tz: Tz = d.timezone.parse().unwrap_or(Tz::UTC);
    let mut body = format!(
        "drumbeat digest for {} — {} ({})\n",
        d.rep,
        day(&d.date, "%A %-d %B %Y"),
        d.timezone
    );
    replies(&mut body, &d.replies, tz);
    tasks(&mut body, &d.tasks, tz);
    sends(&mut body, &d.sends, tz);
    yesterday(&mut body, &d.yesterday);
    let subject = format!(
        "drumbeat digest, {}: {} waiting, {} due, {} today",
        day(&d.date, "%a %-d %b"),
        plural(d.replies.len(), "reply", "replies"),
        plural(d.tasks.len(), "task", "tasks"),
        plural(d.sends.len(), "step", "steps"),
    );
    let chat = format!(
        "*{}*\n```\n{}```",
        slack_escape(&subject),
        slack_escape(&body)
    );
    Rendered {
        subject,
        body,
        chat,
    }
}

fn replies(body: &mut String, replies: &[ReplyItem], tz: Tz) {
    body.push_str(&format!("\nREPLIES WAITING FOR YOU ({})\n", replies.len()));
    if replies.is_empty() {
        body.push_str("  none\n");
    }
    for r in replies.iter().take(SHOWN) {
        body.push_str(&format!(
            "  #{}  {} — {}, {}\n",
            r.id,
            with_company(&r.lead, &r.company),
            r.sequence.as_deref().unwrap_or("no sequence"),
            local(tz, r.at, "%a %-d %b %H:%M")
        ));
        if let Some(s) = &r.subject {
            body.push_str(&format!("      {s}\n"));
        }
        for l in r.snippet.iter().flat_map(|s| s.lines().take(2)) {
            body.push_str(&format!("      | {l}\n"));
        }
        body.push_str(&format!(
            "      drumbeat lead show {} · drumbeat reply handled {}\n",
            r.email, r.id
        ));
    }
    more(replies.len(), "drumbeat replies", body);
}

fn tasks(body: &mut String, tasks: &[TaskItem], tz: Tz) {
    let overdue = tasks.iter().filter(|t| t.overdue).count();
    body.push_str(&format!(
        "\nTASKS DUE TODAY ({}{})\n",
        tasks.len(),
        if overdue > 0 {
            format!(", {overdue} overdue")
        } else {
            String::new()
        }
    ));
    if tasks.is_empty() {
        body.push_str("  none\n");
    }
    for t in tasks.iter().take(SHOWN) {
        let when = if t.overdue {
            format!("overdue since {}", local(tz, t.at, "%a %-d %b"))
        } else {
            format!("due {}", local(tz, t.at, "%H:%M"))
        };
        let phone = t
            .phone
            .as_deref()
            .map(|p| format!(", {p}"))
            .unwrap_or_default();
        body.push_str(&format!(
            "  #{}  {}  {}{phone} — {when}\n",
            t.id,
            t.kind,
            with_company(&t.lead, &t.company)
        ));
        if let Some(n) = t.note.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
            body.push_str(&format!("      {}\n", n.lines().next().unwrap_or_default()));
        }
    }
    more(tasks.len(), "drumbeat tasks", body);
}

fn sends(body: &mut String, sends: &[SendItem], tz: Tz) {
    body.push_str(&format!("\nSEQUENCES DUE TODAY ({})\n", sends.len()));
    if sends.is_empty() {
        body.push_str("  none\n");
    }
    for s in sends.iter().take(SHOWN) {
        body.push_str(&format!(
            "  {}  {}  {} — {} / {}{}\n",
            local(tz, s.at, "%H:%M"),
            s.step_kind.as_deref().unwrap_or("step"),
            with_company(&s.lead, &s.company),
            s.sequence,
            s.step.as_deref().unwrap_or("?"),
            s.mailbox
                .as_deref()
                .map(|m| format!(", from {m}"))
                .unwrap_or_default()
        ));
    }
    more(sends.len(), "drumbeat status", body);
}

fn yesterday(body: &mut String, y: &DayCounts) {
    let numbers = format!(
        "{} sent, {}, {}, {}, {}",
        y.sent,
        plural_i(y.replies, "reply", "replies"),
        plural_i(y.bounces, "bounce", "bounces"),
        plural_i(y.unsubscribes, "unsubscribe", "unsubscribes"),
        plural_i(y.meetings, "meeting booked", "meetings booked"),
    );
    body.push_str(&format!(
        "\nYESTERDAY ({})\n  {numbers}\n",
        day(&y.date, "%A %-d %B")
    ));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::digest::rfc3339;

    fn digest() -> Digest {
        // Wednesday 2026-12-02 in Tokyo.
        Digest {
            rep: "ana".into(),
            timezone: "Asia/Tokyo".into(),
            date: "2026-12-02".into(),
            generated_at: "2026-12-01T23:00:00Z".into(),
            replies: vec![ReplyItem {
                id: 3,
                email: "maria@northwind.example".into(),
                lead: "Maria Garcia <maria@northwind.example>".into(),
                company: Some("Northwind".into()),
                sequence: Some("cold-outbound".into()),
                kind: "reply".into(),
                subject: Some("Re: Quick question".into()),
                snippet: Some("Thanks, this is timely.\nTuesday?\nBest, Maria".into()),
                received_at: rfc3339(1_796_083_200),
                at: 1_796_083_200,
            }],
            tasks: vec![TaskItem {
                id: 4,
                kind: "call".into(),
                email: "tom@contoso.example".into(),
                lead: "Tom <tom@contoso.example>".into(),
                company: None,
                phone: Some("+1 555 0100".into()),
                note: Some("Call Tom".into()),
                sequence: Some("cold-outbound".into()),
                due_at: rfc3339(1_795_914_000),
                overdue: true,
                at: 1_795_914_000,
            }],
            sends: vec![],
            yesterday: DayCounts {
                date: "2026-12-01".into(),
                sent: 14,
                replies: 1,
                bounces: 0,
                unsubscribes: 2,
                meetings: 1,
            },
        }
    }

    #[test]
    fn the_digest_reads_as_four_sections() {
        let r = render(&digest());
        assert_eq!(
            r.subject,
            "drumbeat digest, Wed 2 Dec: 1 reply waiting, 1 task due, 0 steps today"
        );
        let expected = "drumbeat digest for ana — Wednesday 2 December 2026 (Asia/Tokyo)\n\
\n\
REPLIES WAITING FOR YOU (1)\n  \
#3  Maria Garcia <maria@northwind.example> (Northwind) — cold-outbound, Tue 1 Dec 09:00\n      \
Re: Quick question\n      \
| Thanks, this is timely.\n      \
| Tuesday?\n      \
drumbeat lead show maria@northwind.example · drumbeat reply handled 3\n\
\n\
TASKS DUE TODAY (1, 1 overdue)\n  \
#4  call  Tom <tom@contoso.example>, +1 555 0100 — overdue since Sun 29 Nov\n      \
Call Tom\n\
\n\
SEQUENCES DUE TODAY (0)\n  \
none\n\
\n\
YESTERDAY (Tuesday 1 December)\n  \
14 sent, 1 reply, 0 bounces, 2 unsubscribes, 1 meeting booked\n";
        assert_eq!(r.body, expected);
        assert!(r.chat.starts_with("*drumbeat digest, Wed 2 Dec"));
        assert!(
            r.chat
                .contains("Maria Garcia &lt;maria@northwind.example&gt;")
        );
    }

    #[test]
    fn long_sections_point_at_the_full_list() {
        let mut d = digest();
        let one = d.replies[0].clone();
        d.replies = (0..30)
            .map(|i| ReplyItem {
                id: i,
                ..one.clone()
            })
            .collect();
        let r = render(&d);
        assert!(r.body.contains("REPLIES WAITING FOR YOU (30)"));
        assert!(r.body.contains("  … and 5 more: drumbeat replies\n"));
        assert_eq!(r.body.matches("drumbeat reply handled").count(), 25);
    }
}

//! The daily digest: for one rep, at one instant, in the rep's time zone — the replies waiting
//! for an answer, the tasks due today and overdue, what the sequences send today for the rep's
//! leads or from the rep's mailbox, and yesterday's numbers. `drumbeat digest` prints the same
//! thing the daemon sends.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use super::{Rendered, person, rep_for};
use crate::catalog::{Catalog, StepKind};
use crate::config::{Config, Mailbox, parse_tz};
use crate::schedule::SendWindow;
use crate::schedule::pacing::{day_start, next_day_start};
use crate::send::choose_mailbox;
use crate::store::{Store, StoreError, TaskFilter};
use crate::webhooks::slack_escape;

/// Items listed per section in the text; the JSON has them all.
const SHOWN: usize = 25;

/// One rep's digest.
#[derive(Debug, Clone, Serialize)]
pub struct Digest {
    /// The rep (a mailbox name).
    pub rep: String,
    /// The rep's time zone.
    pub timezone: String,
    /// Today, in that zone (`2026-12-02`).
    pub date: String,
    /// When it was made (RFC 3339, UTC).
    pub generated_at: String,
    /// Human replies not handled yet, oldest first.
    pub replies: Vec<ReplyItem>,
    /// Open tasks due today or before, oldest first.
    pub tasks: Vec<TaskItem>,
    /// Steps due before the end of today, soonest first.
    pub sends: Vec<SendItem>,
    /// Yesterday's numbers.
    pub yesterday: DayCounts,
}

/// A reply waiting for the rep.
#[derive(Debug, Clone, Serialize)]
pub struct ReplyItem {
    /// What `drumbeat reply handled` takes.
    pub id: i64,
    /// The lead's address.
    pub email: String,
    /// "Name <address>".
    pub lead: String,
    /// Company.
    pub company: Option<String>,
    /// The sequence it answers.
    pub sequence: Option<String>,
    /// `reply` or `later`.
    pub kind: String,
    /// Its subject.
    pub subject: Option<String>,
    /// Its first lines.
    pub snippet: Option<String>,
    /// When it arrived (RFC 3339).
    pub received_at: String,
    #[serde(skip)]
    at: i64,
}

/// A task due.
#[derive(Debug, Clone, Serialize)]
pub struct TaskItem {
    /// What `drumbeat task done` takes.
    pub id: i64,
    /// call, linkedin, custom.
    pub kind: String,
    /// The lead's address.
    pub email: String,
    /// "Name <address>".
    pub lead: String,
    /// Company.
    pub company: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// The note.
    pub note: Option<String>,
    /// Its sequence.
    pub sequence: Option<String>,
    /// When it came due (RFC 3339).
    pub due_at: String,
    /// Due before today.
    pub overdue: bool,
    #[serde(skip)]
    at: i64,
}

/// A step the sequences run today.
#[derive(Debug, Clone, Serialize)]
pub struct SendItem {
    /// The enrollment.
    pub enrollment: i64,
    /// The lead's address.
    pub email: String,
    /// "Name <address>".
    pub lead: String,
    /// Company.
    pub company: Option<String>,
    /// Sequence.
    pub sequence: String,
    /// Step.
    pub step: Option<String>,
    /// `email`, or the task kind (`call`…); None when the sequence is not loaded.
    pub step_kind: Option<String>,
    /// The mailbox it leaves from.
    pub mailbox: Option<String>,
    /// When it is due (RFC 3339).
    pub due_at: String,
    /// When it leaves (RFC 3339): when it is due, or the send window's next opening in the
    /// lead's zone (before jitter, caps and gaps, which can move it a little later).
    pub leaves_at: String,
    #[serde(skip)]
    at: i64,
}

/// A day's numbers for the rep's mailbox.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct DayCounts {
    /// The day (`2026-12-01`).
    pub date: String,
    /// Emails sent.
    pub sent: i64,
    /// Human replies.
    pub replies: i64,
    /// Bounces.
    pub bounces: i64,
    /// Unsubscribes.
    pub unsubscribes: i64,
    /// Meetings booked.
    pub meetings: i64,
}

/// The zone a rep's digest and notices use: `[mailbox.notify] timezone`, else config.toml's.
pub fn rep_zone(config: &Config, rep: &Mailbox) -> Tz {
    rep.notify.as_ref().map_or(config.timezone, |n| n.timezone)
}

fn rfc3339(at: i64) -> String {
    DateTime::<Utc>::from_timestamp(at, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Gathers `rep`'s digest at `now`.
pub async fn gather(
    config: &Config,
    catalog: &Catalog,
    store: &Store,
    rep: &Mailbox,
    now: DateTime<Utc>,
) -> Result<Digest, StoreError> {
    let tz = rep_zone(config, rep);
    let today = day_start(tz, now);
    let tomorrow = next_day_start(tz, now);
    let yesterday =
        DateTime::from_timestamp(today - 1, 0).map_or(today - 86_400, |t| day_start(tz, t));
    let is_rep = |m: Option<&Mailbox>| m.is_some_and(|m| m.name == rep.name);

    let replies = store
        .waiting_replies()
        .await?
        .into_iter()
        .filter(|r| is_rep(rep_for(config, r.owner.as_deref(), Some(&r.mailbox))))
        .map(|r| {
            let text = |k: &str| {
                r.evidence
                    .get(k)
                    .and_then(|v| v.as_str())
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
            };
            ReplyItem {
                id: r.id,
                lead: person(&r.email, r.first_name.as_deref(), r.last_name.as_deref()),
                email: r.email,
                company: r.company,
                sequence: r.sequence_id,
                kind: r.kind,
                subject: text("subject"),
                snippet: text("snippet"),
                received_at: rfc3339(r.received_at),
                at: r.received_at,
            }
        })
        .collect();

    let tasks = store
        .tasks(&TaskFilter {
            owner: None,
            due_before: Some(tomorrow),
            all: false,
        })
        .await?
        .into_iter()
        .filter(|t| is_rep(rep_for(config, t.owner.as_deref(), None)))
        .map(|t| TaskItem {
            id: t.id,
            kind: t.kind,
            lead: person(&t.email, t.first_name.as_deref(), t.last_name.as_deref()),
            email: t.email,
            company: t.company,
            phone: t.phone,
            note: t.note,
            sequence: t.sequence_id,
            due_at: rfc3339(t.due_at),
            overdue: t.due_at < today,
            at: t.due_at,
        })
        .collect();

    let mut sends = Vec::new();
    for s in store.steps_due_before(tomorrow).await? {
        let seq = catalog.sequence(&s.sequence_id);
        // Only what leaves today: a step due today whose window opens tomorrow waits for it.
        let leaves = match seq {
            Some(q) => {
                let lead_tz = s.timezone.as_deref().and_then(|t| parse_tz(t).ok());
                leaves_at(
                    &q.window,
                    q.window.zone_for(lead_tz, config.timezone),
                    s.due_at,
                    now,
                )
            }
            // Its sequence is gone from the catalog: the scheduler pauses it, nothing leaves.
            None => None,
        };
        let Some(leaves) = leaves.filter(|t| *t < tomorrow) else {
            continue;
        };
        let from = seq.and_then(|q| {
            choose_mailbox(
                config,
                q,
                &s.email,
                s.owner.as_deref(),
                s.mailbox.as_deref(),
            )
        });
        let owned = is_rep(rep_for(config, s.owner.as_deref(), None));
        if !(owned || is_rep(from)) {
            continue;
        }
        let step_kind = seq
            .zip(s.step_id.as_deref())
            .and_then(|(q, id)| q.step(id))
            .map(|st| match &st.kind {
                StepKind::Email(_) => "email".to_string(),
                StepKind::Task(t) => t.kind.as_str().to_string(),
            });
        sends.push(SendItem {
            enrollment: s.enrollment,
            lead: person(&s.email, s.first_name.as_deref(), s.last_name.as_deref()),
            email: s.email,
            company: s.company,
            sequence: s.sequence_id,
            step: s.step_id,
            step_kind,
            mailbox: from.map(|m| m.name.clone()),
            due_at: rfc3339(s.due_at),
            leaves_at: rfc3339(leaves),
            at: leaves,
        });
    }

    sends.sort_by_key(|s| (s.at, s.enrollment));

    let mut counts = DayCounts {
        date: DateTime::from_timestamp(yesterday, 0)
            .map(|t| t.with_timezone(&tz).date_naive().to_string())
            .unwrap_or_default(),
        ..DayCounts::default()
    };
    let kinds = [
        "sent",
        "replied",
        "bounced",
        "unsubscribed",
        "meeting-booked",
    ];
    for c in store.event_counts(&kinds, yesterday, today).await? {
        let mine = match &c.mailbox {
            Some(m) => *m == rep.name,
            None => is_rep(rep_for(config, c.owner.as_deref(), None)),
        };
        if !mine {
            continue;
        }
        let slot = match c.kind.as_str() {
            "sent" => &mut counts.sent,
            "replied" => &mut counts.replies,
            "bounced" => &mut counts.bounces,
            "unsubscribed" => &mut counts.unsubscribes,
            _ => &mut counts.meetings,
        };
        *slot += c.count;
    }

    Ok(Digest {
        rep: rep.name.clone(),
        timezone: tz.name().to_string(),
        date: now.with_timezone(&tz).date_naive().to_string(),
        generated_at: rfc3339(now.timestamp()),
        replies,
        tasks,
        sends,
        yesterday: counts,
    })
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn plural_i(n: i64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The digest as an email (subject and plain-text body) and a chat message.
pub fn render(d: &Digest) -> Rendered {
    let tz: Tz = d.timezone.parse().unwrap_or(Tz::UTC);
    let local = |at: i64, fmt: &str| {
        DateTime::from_timestamp(at, 0)
            .map(|t| t.with_timezone(&tz).format(fmt).to_string())
            .unwrap_or_default()
    };
    let day = |date: &str, fmt: &str| {
        chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
            .map(|d| d.format(fmt).to_string())
            .unwrap_or_else(|_| date.to_string())
    };
    let with_company = |lead: &str, company: &Option<String>| match company {
        Some(c) if !c.trim().is_empty() => format!("{lead} ({c})"),
        _ => lead.to_string(),
    };
    let more = |n: usize, cmd: &str, body: &mut String| {
        if n > SHOWN {
            body.push_str(&format!("  … and {} more: {cmd}\n", n - SHOWN));
        }
    };

    let overdue = d.tasks.iter().filter(|t| t.overdue).count();
    let mut body = format!(
        "drumbeat digest for {} — {} ({})\n",
        d.rep,
        day(&d.date, "%A %-d %B %Y"),
        d.timezone
    );

    body.push_str(&format!(
        "\nREPLIES WAITING FOR YOU ({})\n",
        d.replies.len()
    ));
    if d.replies.is_empty() {
        body.push_str("  none\n");
    }
    for r in d.replies.iter().take(SHOWN) {
        body.push_str(&format!(
            "  #{}  {} — {}, {}\n",
            r.id,
            with_company(&r.lead, &r.company),
            r.sequence.as_deref().unwrap_or("no sequence"),
            local(r.at, "%a %-d %b %H:%M")
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
    more(d.replies.len(), "drumbeat replies", &mut body);

    body.push_str(&format!(
        "\nTASKS DUE TODAY ({}{})\n",
        d.tasks.len(),
        if overdue > 0 {
            format!(", {overdue} overdue")
        } else {
            String::new()
        }
    ));
    if d.tasks.is_empty() {
        body.push_str("  none\n");
    }
    for t in d.tasks.iter().take(SHOWN) {
        let when = if t.overdue {
            format!("overdue since {}", local(t.at, "%a %-d %b"))
        } else {
            format!("due {}", local(t.at, "%H:%M"))
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
    more(d.tasks.len(), "drumbeat tasks", &mut body);

    body.push_str(&format!("\nSEQUENCES DUE TODAY ({})\n", d.sends.len()));
    if d.sends.is_empty() {
        body.push_str("  none\n");
    }
    for s in d.sends.iter().take(SHOWN) {
        body.push_str(&format!(
            "  {}  {}  {} — {} / {}{}\n",
            local(s.at, "%H:%M"),
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
    more(d.sends.len(), "drumbeat status", &mut body);

    let y = &d.yesterday;
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

/// When a step due at `due` leaves, seen at `now`: at once if it is due and the window is
/// open, else at the window's next opening in `tz` (the lead's zone). None when the window
/// never opens (the scheduler pauses such an enrollment).
fn leaves_at(window: &SendWindow, tz: Tz, due: i64, now: DateTime<Utc>) -> Option<i64> {
    let from = DateTime::from_timestamp(due.max(now.timestamp()), 0)?;
    window.next_opening(tz, from).map(|t| t.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn a_step_leaves_when_due_or_at_the_windows_next_opening() {
        let w = SendWindow::business_hours();
        let ny: Tz = "America/New_York".parse().expect("zone");
        let la: Tz = "America/Los_Angeles".parse().expect("zone");
        let t = |s: &str| DateTime::parse_from_rfc3339(s).expect("time").to_utc();
        // Wednesday 2 December 2026, 10:00 in New York.
        let now = t("2026-12-02T15:00:00Z");
        // Due an hour ago, window open: now.
        let due = t("2026-12-02T14:00:00Z").timestamp();
        assert_eq!(leaves_at(&w, ny, due, now), Some(now.timestamp()));
        // Due at 18:00 New York time: the next morning at 09:00.
        let due = t("2026-12-02T23:00:00Z").timestamp();
        assert_eq!(
            leaves_at(&w, ny, due, now),
            Some(t("2026-12-03T14:00:00Z").timestamp())
        );
        // The same instant in Los Angeles is 15:00, inside its window.
        assert_eq!(leaves_at(&w, la, due, now), Some(due));
        // Due Saturday: Monday 09:00.
        let due = t("2026-12-05T15:00:00Z").timestamp();
        assert_eq!(
            leaves_at(&w, ny, due, now),
            Some(t("2026-12-07T14:00:00Z").timestamp())
        );
        // A window that never opens: never.
        let never = SendWindow {
            days: crate::schedule::Weekdays::NONE,
            ..SendWindow::business_hours()
        };
        assert_eq!(leaves_at(&never, ny, due, now), None);
    }
}

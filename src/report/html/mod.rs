//! The report as one self-contained HTML page: charts drawn as inline SVG, the summary tables
//! by rep and by sequence, a style sheet for screen and print. Nothing is loaded from
//! elsewhere (no scripts, fonts, images or style sheets), so the file opens offline, can be
//! mailed as an attachment, and prints on A4 or Letter with no chart cut across pages.
//!
//! Every string from the data (sequence, step, variant and rep names come from the user's
//! files) is escaped, and every coordinate is finite whatever the numbers (see [`svg::n`]).

mod charts;
mod svg;

use std::fmt::Write;

use super::format::{count, duration, maybe, pct};
use super::{Dashboard, Row};
use svg::esc;

/// The style sheet: light on screen, black on white in print, charts kept whole on a page.
const STYLE: &str = r#"
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #f4f5f7; color: #1f2937;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "DejaVu Sans", sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 28px 24px 40px; }
header h1 { font-size: 24px; margin: 0 0 2px; }
header p { margin: 0; color: #4b5563; }
h2 { font-size: 17px; margin: 0 0 2px; }
.note { margin: 0 0 12px; color: #4b5563; font-size: 13px; }
section { background: #fff; border: 1px solid #dfe3e8; border-radius: 8px; padding: 16px 18px; margin-top: 18px; }
.tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 12px; margin-top: 18px; }
.tile { background: #fff; border: 1px solid #dfe3e8; border-radius: 8px; padding: 10px 14px; }
.tile b { display: block; font-size: 24px; font-variant-numeric: tabular-nums; }
.tile span { color: #4b5563; font-size: 13px; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(380px, 1fr)); gap: 14px 22px; }
figure { margin: 0; break-inside: avoid; page-break-inside: avoid; }
figcaption { font-weight: 600; margin-bottom: 4px; overflow-wrap: anywhere; }
figure p { margin: 4px 0 0; font-size: 13px; }
svg.chart { display: block; width: 100%; height: auto; overflow: visible; }
svg.chart text { font-family: inherit; font-size: 12px; fill: #1f2937; }
svg.chart text.s { font-size: 11px; fill: #4b5563; }
svg.chart text.m { fill: #4b5563; }
svg.chart text.b { font-weight: 600; }
svg.chart text.h { font-size: 13px; font-weight: 600; }
.verdict.yes { font-weight: 600; color: #047857; }
.empty { color: #4b5563; font-style: italic; margin: 6px 0; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: 12px; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 5px; border-bottom: 1px solid #e5e7eb; text-align: right; vertical-align: bottom; }
td { white-space: nowrap; }
thead th { font-weight: 600; color: #374151; border-bottom: 2px solid #9ca3af; }
thead tr:first-child th { border-bottom: 1px solid #9ca3af; text-align: center; color: #4b5563; font-weight: 500; }
thead tr:first-child th:first-child { border-bottom: none; }
tbody th { font-weight: 600; text-align: left; overflow-wrap: anywhere; min-width: 10em; vertical-align: top; }
thead tr + tr th:first-child { text-align: left; }
tbody tr:nth-child(even) { background: #f8fafc; }
footer { margin-top: 18px; color: #6b7280; font-size: 12px; }
@page { margin: 12mm; }
@media print {
  body { background: #fff; color: #000; font-size: 10pt; }
  main { max-width: none; padding: 0; }
  section, .tile { border: none; border-radius: 0; padding: 0; background: #fff; }
  section { margin-top: 14pt; }
  .tile { border: 1px solid #9ca3af; padding: 4pt 8pt; }
  .grid { grid-template-columns: 1fr 1fr; }
  figure, .keep, tr { break-inside: avoid; page-break-inside: avoid; }
  .head { break-inside: avoid; break-after: avoid; page-break-after: avoid; }
  thead { display: table-header-group; }
  .scroll { overflow: visible; }
  table { font-size: 7.5pt; }
  th, td { padding: 2pt 3pt; }
  tbody tr:nth-child(even) { background: none; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"#;

/// The page.
pub fn render(d: &Dashboard) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>drumbeat report: {title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n\
         <header><h1>Outreach report</h1><p>{title} · generated {at}</p></header>\n",
        title = esc(&d.title),
        at = d.generated_at.format("%Y-%m-%d %H:%M UTC"),
    );
    tiles(&mut out, d);
    funnels(&mut out, d);
    daily(&mut out, d);
    steps(&mut out, d);
    ab_tests(&mut out, d);
    follow_through(&mut out, d);
    table(
        &mut out,
        "By rep",
        "The leads each rep received in the period and what became of them by its end; then \
         the rep's emails in the period and what they brought.",
        "received",
        &d.reps,
    );
    table(
        &mut out,
        "By sequence",
        "Leads enrolled in the period and what became of them; then the sequence's emails \
         and their outcomes in the period.",
        "enrolled",
        &d.sequences,
    );
    let _ = write!(
        out,
        "<footer>Made by drumbeat {} from the event log: a report of a past period never \
         changes. Times in {}.</footer>\n</main>\n</body>\n</html>\n",
        esc(env!("CARGO_PKG_VERSION")),
        esc(&d.period.timezone)
    );
    out
}

/// The period's headline numbers.
fn tiles(out: &mut String, d: &Dashboard) {
    let received: i64 = d.follow_through.iter().map(|f| f.received).sum();
    let sent: i64 = d.days.iter().map(|x| x.sent).sum();
    let replies: i64 = d.days.iter().map(|x| x.replied).sum();
    let meetings: i64 = d.reps.iter().map(|r| r.meetings).sum();
    let overdue: i64 = d.follow_through.iter().map(|f| f.tasks_overdue).sum();
    out.push_str("<div class=\"tiles keep\">");
    for (v, what) in [
        (received, "leads received"),
        (sent, "emails sent"),
        (replies, "replies"),
        (meetings, "meetings booked"),
        (overdue, "tasks overdue now"),
    ] {
        let _ = write!(
            out,
            "<div class=\"tile\"><b>{}</b><span>{what}</span></div>",
            count(v)
        );
    }
    out.push_str("</div>\n");
}

/// Opens a section with its heading and a sentence on what it counts.
fn section(out: &mut String, id: &str, title: &str, note: &str) {
    let _ = write!(
        out,
        "<section id=\"{id}\" aria-labelledby=\"{id}-h\"><div class=\"head\">\
         <h2 id=\"{id}-h\">{title}</h2><p class=\"note\">{note}</p></div>"
    );
}

fn empty(out: &mut String, text: &str) {
    let _ = write!(out, "<p class=\"empty\">{}</p>", esc(text));
}

fn funnels(out: &mut String, d: &Dashboard) {
    section(
        out,
        "funnels",
        "Funnel per sequence",
        "Enrolled in the period, then contacted by its end; replies, positive outcomes and \
         meetings from the sequence's emails in the period, as a share of the leads emailed.",
    );
    if d.sequences.is_empty() {
        empty(out, "No sequence had any activity in this period.");
    }
    out.push_str("<div class=\"grid\">");
    for (i, r) in d.sequences.iter().enumerate() {
        let _ = write!(
            out,
            "<figure><figcaption>{}</figcaption>{}</figure>",
            esc(&r.key),
            charts::funnel(&format!("funnel-{i}"), r)
        );
    }
    out.push_str("</div></section>\n");
}

fn daily(out: &mut String, d: &Dashboard) {
    section(
        out,
        "days",
        "Emails and replies per day",
        "Every day of the period, in its time zone; weekends shaded (when a day is wide enough \
         to show it). Hover a bar for its day.",
    );
    if d.days.is_empty() {
        empty(out, "The period has no days.");
    } else {
        let _ = write!(
            out,
            "<figure>{}</figure>",
            charts::daily("days-chart", &d.days)
        );
    }
    out.push_str("</section>\n");
}

fn steps(out: &mut String, d: &Dashboard) {
    section(
        out,
        "steps",
        "Reply rate per step",
        "Leads who replied after the step's email, of the leads it emailed in the period.",
    );
    if d.steps.is_empty() {
        empty(out, "No step sent anything in this period.");
    } else {
        let _ = write!(
            out,
            "<figure>{}</figure>",
            charts::steps("steps-chart", &d.steps)
        );
    }
    out.push_str("</section>\n");
}

fn ab_tests(out: &mut String, d: &Dashboard) {
    section(
        out,
        "ab",
        "A/B tests",
        "Each variant's reply rate (replies of emails sent) as a bar, its 95% interval as a \
         whisker; the verdict compares the leader with the runner-up.",
    );
    if d.ab_tests.is_empty() {
        empty(out, "No step sent two variants or more in this period.");
    }
    out.push_str("<div class=\"grid\">");
    for (i, t) in d.ab_tests.iter().enumerate() {
        let _ = write!(
            out,
            "<figure><figcaption>{} / {}</figcaption>{}<p class=\"verdict{}\">{}</p></figure>",
            esc(&t.sequence),
            esc(&t.step),
            charts::ab_test(&format!("ab-{i}"), t),
            if t.comparison.significant { " yes" } else { "" },
            esc(&t.comparison.verdict)
        );
    }
    out.push_str("</div></section>\n");
}

fn follow_through(out: &mut String, d: &Dashboard) {
    section(
        out,
        "follow-through",
        "Follow-through per rep",
        "Leads received in the period that the rep owns; of those, never emailed by its end, \
         and stopped by hand before five touches. Tasks overdue are as of now.",
    );
    if d.follow_through.is_empty() {
        empty(out, "No rep received leads in this period.");
    } else {
        let _ = write!(
            out,
            "<figure>{}</figure>",
            charts::follow_through("follow-chart", &d.follow_through)
        );
    }
    out.push_str("</section>\n");
}

/// A summary table with the text report's columns (`drumbeat report --by rep|sequence`).
fn table(out: &mut String, title: &str, note: &str, arrived: &str, rows: &[Row]) {
    let id = title.to_lowercase().replace(' ', "-");
    section(out, &id, title, note);
    if rows.is_empty() {
        empty(out, "Nothing happened in this period.");
        out.push_str("</section>\n");
        return;
    }
    let head = [
        title.trim_start_matches("By ").to_lowercase().as_str(),
        arrived,
        "contacted",
        "first touch (median)",
        "(p90)",
        "touches per lead",
        "sent",
        "emailed",
        "replied",
        "reply %",
        "positive",
        "meetings",
        "bounced",
        "bounce %",
        "unsub",
        "unsub %",
    ]
    .map(|h| format!("<th scope=\"col\">{}</th>", esc(h)))
    .concat();
    let _ = write!(
        out,
        "<div class=\"scroll\"><table><thead><tr><th></th>\
         <th scope=\"colgroup\" colspan=\"5\">leads {arrived} in the period</th>\
         <th scope=\"colgroup\" colspan=\"10\">emails in the period</th></tr>\
         <tr>{head}</tr></thead><tbody>"
    );
    for r in rows {
        let cells = [
            maybe(r.received),
            maybe(r.contacted),
            duration(r.first_touch_median_secs),
            duration(r.first_touch_p90_secs),
            r.touches_per_lead.map_or("-".into(), |t| format!("{t:.1}")),
            count(r.sent),
            count(r.emailed),
            count(r.replied),
            pct(r.reply_rate),
            count(r.positive),
            count(r.meetings),
            count(r.bounced),
            pct(r.bounce_rate),
            count(r.unsubscribed),
            pct(r.unsubscribe_rate),
        ]
        .map(|c| format!("<td>{}</td>", esc(&c)))
        .concat();
        let _ = write!(
            out,
            "<tr><th scope=\"row\">{}</th>{cells}</tr>",
            esc(&r.key)
        );
    }
    out.push_str("</tbody></table></div></section>\n");
}

#[cfg(test)]
mod tests;

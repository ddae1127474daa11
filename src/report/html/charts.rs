//! The report's charts, each one `<svg>` drawn from a [`Dashboard`](super::Dashboard)'s rows.
//! Every chart labels its bars with their numbers, so none depends on telling colours apart.

use chrono::{Datelike, Weekday};

use super::svg::{Anchor, Canvas, axis, frac, ticks};
use super::{count, pct};
use crate::report::stats::Arm;
use crate::report::{AbTest, Day, FollowThrough, Row};

/// Emails sent (and the people emailed).
const SENT: &str = "#1d4ed8";
/// Replies.
const REPLIED: &str = "#c2410c";
/// Leads that came in.
const RECEIVED: &str = "#475569";
/// Positive outcomes.
const POSITIVE: &str = "#7c3aed";
/// Meetings.
const MEETING: &str = "#047857";
/// Something left undone.
const ALERT: &str = "#b91c1c";
/// The empty part of a bar's row.
const TRACK: &str = "#eef1f5";
/// Grid lines.
const GRID: &str = "#d9dde3";
/// Weekend bands.
const WEEKEND: &str = "#f3f4f6";

/// A percentage label for an axis tick (`0%`, `2.5%`, `40%`).
fn tick_pct(v: f64, step: f64) -> String {
    let step = step * 100.0;
    let decimals = if v == 0.0 || (step - step.round()).abs() < 1e-6 {
        0
    } else if (step * 10.0 - (step * 10.0).round()).abs() < 1e-6 {
        1
    } else {
        2
    };
    format!("{:.*}%", decimals, v * 100.0)
}

/// The funnel of one sequence: enrolled, contacted, replied, positive, meetings.
pub fn funnel(id: &str, r: &Row) -> String {
    const W: f64 = 440.0;
    const ROW: f64 = 30.0;
    const BAR: f64 = 20.0;
    const X0: f64 = 86.0;
    const BAR_MAX: f64 = 196.0;
    let enrolled = r.received.unwrap_or(0);
    let contacted = r.contacted.unwrap_or(0);
    let of_emailed = |rate: Option<f64>| rate.map(|v| format!("{} of emailed", pct(Some(v))));
    let stages: [(&str, i64, Option<String>, &str); 5] = [
        ("enrolled", enrolled, None, RECEIVED),
        (
            "contacted",
            contacted,
            (enrolled > 0).then(|| {
                format!(
                    "{} of enrolled",
                    pct(Some(contacted as f64 / enrolled as f64))
                )
            }),
            SENT,
        ),
        ("replied", r.replied, of_emailed(r.reply_rate), REPLIED),
        (
            "positive",
            r.positive,
            of_emailed(r.positive_rate),
            POSITIVE,
        ),
        ("meetings", r.meetings, of_emailed(r.meeting_rate), MEETING),
    ];
    let max = stages.iter().map(|s| s.1).max().unwrap_or(0).max(0) as f64;
    let height = ROW * stages.len() as f64 + 4.0;
    let desc = stages
        .iter()
        .map(|(name, v, rate, _)| match rate {
            Some(rate) => format!("{name} {} ({rate})", count(*v)),
            None => format!("{name} {}", count(*v)),
        })
        .collect::<Vec<_>>()
        .join(", ");
    let mut c = Canvas::new(
        id,
        W,
        height,
        &format!("Funnel of sequence {}", r.key),
        &desc,
    );
    for (i, (name, v, rate, colour)) in stages.iter().enumerate() {
        let y = 4.0 + i as f64 * ROW;
        let w = BAR_MAX * frac(*v as f64, max);
        c.text(X0 - 8.0, y + 14.5, Anchor::End, "t", name);
        c.rect(X0, y, BAR_MAX, BAR, &format!("fill=\"{TRACK}\""), None);
        let tip = format!("{name}: {}", count(*v));
        c.rect(X0, y, w, BAR, &format!("fill=\"{colour}\""), Some(&tip));
        c.text(X0 + w + 6.0, y + 14.5, Anchor::Start, "b", &count(*v));
        if let Some(rate) = rate {
            c.text(W - 2.0, y + 14.5, Anchor::End, "m", rate);
        }
    }
    c.finish()
}

/// How x-axis labels are spaced along the days: every `k`th day, or month starts.
fn day_labels(days: &[Day], slot: f64) -> Vec<(usize, String)> {
    const ROOM: f64 = 48.0;
    if days.len() <= 62 {
        let k = ((ROOM / slot.max(0.1)).ceil() as usize).max(1);
        return days
            .iter()
            .enumerate()
            .filter(|(i, _)| i % k == 0)
            .map(|(i, d)| (i, d.date.format("%b %-d").to_string()))
            .collect();
    }
    let k = ((ROOM / (slot * 30.4).max(0.1)).ceil() as i32).max(1);
    let mut out = Vec::new();
    for (i, d) in days.iter().enumerate() {
        let month_index = d.date.year() * 12 + d.date.month0() as i32;
        if d.date.day() == 1 && month_index % k == 0 {
            let text = if d.date.month() == 1 || out.is_empty() {
                d.date.format("%b %Y").to_string()
            } else {
                d.date.format("%b").to_string()
            };
            out.push((i, text));
        }
    }
    out
}

/// One panel of the daily chart: bars of `value` per day between `top` and `bottom`.
struct Panel<'a> {
    title: &'a str,
    top: f64,
    bottom: f64,
    colour: &'a str,
    value: fn(&Day) -> i64,
    noun: &'a str,
}

/// The daily chart's width, and its plot's margins.
const DAILY_W: f64 = 900.0;
const DAILY_LEFT: f64 = 48.0;
const DAILY_RIGHT: f64 = 8.0;

/// Emails sent and replies per day: two panels over the same days, weekends shaded.
pub fn daily(id: &str, days: &[Day]) -> String {
    const H: f64 = 318.0;
    let (w, left) = (DAILY_W, DAILY_LEFT);
    let plot = w - left - DAILY_RIGHT;
    let slot = plot / days.len().max(1) as f64;
    let panels = [
        Panel {
            title: "Emails sent per day",
            top: 30.0,
            bottom: 170.0,
            colour: SENT,
            value: |d| d.sent,
            noun: "sent",
        },
        Panel {
            title: "Replies per day",
            top: 214.0,
            bottom: 290.0,
            colour: REPLIED,
            value: |d| d.replied,
            noun: "replies",
        },
    ];
    let total = |f: fn(&Day) -> i64| days.iter().map(f).sum::<i64>();
    let (sent, replied) = (total(|d| d.sent), total(|d| d.replied));
    let desc = format!(
        "{} days; {} emails sent and {} replies in all",
        days.len(),
        count(sent),
        count(replied)
    );
    let mut c = Canvas::new(id, w, H, "Emails sent and replies per day", &desc);
    // Weekend bands only where a day is wide enough for them to read as bands, not stripes.
    for (i, d) in days.iter().enumerate().filter(|_| slot >= 4.0) {
        if matches!(d.date.weekday(), Weekday::Sat | Weekday::Sun) {
            let x = left + i as f64 * slot;
            for p in &panels {
                c.rect(
                    x,
                    p.top,
                    slot,
                    p.bottom - p.top,
                    &format!("fill=\"{WEEKEND}\""),
                    None,
                );
            }
        }
    }
    for p in &panels {
        p.draw(&mut c, days, slot);
    }
    for (i, text) in day_labels(days, slot) {
        let x = left + (i as f64 + 0.5) * slot;
        c.line(x, 290.0, x, 294.0, "stroke=\"#6b7280\"");
        c.text(x, 308.0, Anchor::Middle, "s", &text);
    }
    c.finish()
}

impl Panel<'_> {
    /// The panel's title, summary, grid and one bar per day, each `slot` wide.
    fn draw(&self, c: &mut Canvas, days: &[Day], slot: f64) {
        let (w, left, right) = (DAILY_W, DAILY_LEFT, DAILY_RIGHT);
        let bar = (slot * 0.72).max(slot.min(1.0));
        let max = days.iter().map(self.value).max().unwrap_or(0).max(0);
        let (top, step) = axis(max as f64, 4, true);
        let height = self.bottom - self.top;
        c.text(0.0, self.top - 12.0, Anchor::Start, "h", self.title);
        let sum = days.iter().map(self.value).sum::<i64>();
        let summary = match days.iter().find(|d| (self.value)(d) == max) {
            Some(d) if max > 0 => format!(
                "{} in all; most on {} ({})",
                count(sum),
                d.date.format("%a %b %-d"),
                count(max)
            ),
            _ => "none in this period".to_string(),
        };
        c.text(w - right, self.top - 12.0, Anchor::End, "m", &summary);
        for t in ticks(top, step) {
            let y = self.bottom - height * frac(t, top);
            c.line(left, y, w - right, y, &format!("stroke=\"{GRID}\""));
            c.text(left - 6.0, y + 4.0, Anchor::End, "s", &count(t as i64));
        }
        for (i, d) in days.iter().enumerate() {
            let v = (self.value)(d);
            let h = height * frac(v as f64, top);
            let x = left + i as f64 * slot + (slot - bar) / 2.0;
            let tip = format!(
                "{}: {} {}",
                d.date.format("%a %Y-%m-%d"),
                count(v),
                self.noun
            );
            c.rect(
                x,
                self.bottom - h,
                bar,
                h,
                &format!("fill=\"{}\"", self.colour),
                Some(&tip),
            );
            if slot >= 22.0 && v > 0 {
                c.text(
                    x + bar / 2.0,
                    self.bottom - h - 3.0,
                    Anchor::Middle,
                    "s",
                    &count(v),
                );
            }
        }
        c.line(
            left,
            self.bottom,
            w - right,
            self.bottom,
            "stroke=\"#6b7280\"",
        );
    }
}

/// Reply rate per step, grouped by sequence, in the order of `steps`.
pub fn steps(id: &str, steps: &[Row]) -> String {
    const W: f64 = 900.0;
    const X0: f64 = 210.0;
    const BAR_MAX: f64 = 470.0;
    const HEAD: f64 = 26.0;
    const ROW: f64 = 24.0;
    const TOP: f64 = 24.0;
    let mut groups: Vec<(&str, Vec<&Row>)> = Vec::new();
    for r in steps {
        let sequence = r.parts.first().map_or(r.key.as_str(), String::as_str);
        match groups.last_mut() {
            Some((s, rows)) if *s == sequence => rows.push(r),
            _ => groups.push((sequence, vec![r])),
        }
    }
    let height = TOP
        + groups
            .iter()
            .map(|(_, rows)| HEAD + ROW * rows.len() as f64)
            .sum::<f64>()
        + 6.0;
    let max = steps
        .iter()
        .filter_map(|r| r.reply_rate)
        .fold(0.0, f64::max);
    let (top, step) = axis(max.min(1.0), 5, false);
    let desc = steps
        .iter()
        .map(|r| format!("{}: {}", r.key, pct(r.reply_rate)))
        .collect::<Vec<_>>()
        .join(", ");
    let mut c = Canvas::new(id, W, height, "Reply rate per step", &desc);
    for t in ticks(top, step) {
        let x = X0 + BAR_MAX * frac(t, top);
        c.line(x, TOP - 6.0, x, height - 4.0, &format!("stroke=\"{GRID}\""));
        c.text(x, TOP - 10.0, Anchor::Middle, "s", &tick_pct(t, step));
    }
    let mut y = TOP;
    for (sequence, rows) in &groups {
        c.label(0.0, y + 18.0, Anchor::Start, "h", sequence, 60);
        y += HEAD;
        for r in rows {
            let name = r.parts.get(1).map_or(r.key.as_str(), String::as_str);
            c.label(X0 - 8.0, y + 16.0, Anchor::End, "t", name, 30);
            match r.reply_rate {
                Some(rate) => {
                    let w = BAR_MAX * frac(rate, top);
                    let text = format!(
                        "{} · {} of {} emailed",
                        pct(Some(rate)),
                        count(r.replied),
                        count(r.emailed)
                    );
                    c.rect(
                        X0,
                        y + 4.0,
                        w,
                        16.0,
                        &format!("fill=\"{REPLIED}\""),
                        Some(&format!("{}: {text}", r.key)),
                    );
                    c.text(X0 + w + 6.0, y + 16.0, Anchor::Start, "t", &text);
                }
                None => c.text(X0 + 4.0, y + 16.0, Anchor::Start, "m", "no emails sent"),
            }
            y += ROW;
        }
    }
    c.finish()
}

/// The A/B chart's width, where its bars start, their longest and a row's height.
const AB_W: f64 = 440.0;
const AB_X0: f64 = 112.0;
const AB_BAR_MAX: f64 = 186.0;
const AB_ROW: f64 = 30.0;

/// One A/B test: each variant's reply rate as a bar with its 95% interval as a whisker.
pub fn ab_test(id: &str, t: &AbTest) -> String {
    let arms = &t.comparison.arms;
    let plot_bottom = 6.0 + AB_ROW * arms.len() as f64;
    let height = plot_bottom + 22.0;
    let max = arms
        .iter()
        .filter_map(|a| a.interval.map(|(_, hi)| hi).or(a.reply_rate))
        .fold(0.0, f64::max);
    let (top, step) = axis(max.min(1.0), 4, false);
    let desc = arms.iter().map(arm_desc).collect::<Vec<_>>().join("; ");
    let mut c = Canvas::new(
        id,
        AB_W,
        height,
        &format!(
            "A/B test of {} / {}: {}",
            t.sequence, t.step, t.comparison.verdict
        ),
        &desc,
    );
    for v in ticks(top, step) {
        let x = AB_X0 + AB_BAR_MAX * frac(v, top);
        c.line(x, 2.0, x, plot_bottom, &format!("stroke=\"{GRID}\""));
        c.text(
            x,
            plot_bottom + 16.0,
            Anchor::Middle,
            "s",
            &tick_pct(v, step),
        );
    }
    for (i, a) in arms.iter().enumerate() {
        arm(&mut c, 6.0 + i as f64 * AB_ROW, a, top);
    }
    c.line(AB_X0, 2.0, AB_X0, plot_bottom, "stroke=\"#6b7280\"");
    c.finish()
}

/// An arm of an A/B test, in words.
fn arm_desc(a: &Arm) -> String {
    let interval = a.interval.map_or(String::new(), |(lo, hi)| {
        format!(", 95% interval {} to {}", pct(Some(lo)), pct(Some(hi)))
    });
    format!(
        "variant {}: {} of {} sends replied ({}{interval})",
        a.variant,
        count(a.replied),
        count(a.sent),
        pct(a.reply_rate)
    )
}

/// An arm's row at `y`: its bar on an axis up to `top`, and its whisker.
fn arm(c: &mut Canvas, y: f64, a: &Arm, top: f64) {
    let mid = y + 10.0;
    c.label(
        AB_X0 - 8.0,
        mid + 4.5,
        Anchor::End,
        "b",
        &a.variant.to_uppercase(),
        10,
    );
    let Some(rate) = a.reply_rate else {
        c.text(AB_X0 + 4.0, mid + 4.5, Anchor::Start, "m", "no sends yet");
        return;
    };
    let w = AB_BAR_MAX * frac(rate, top);
    let text = format!(
        "{} · {} of {}",
        pct(Some(rate)),
        count(a.replied),
        count(a.sent)
    );
    c.rect(AB_X0, y, w, 20.0, &format!("fill=\"{SENT}\""), Some(&text));
    if let Some((lo, hi)) = a.interval {
        let (x1, x2) = (
            AB_X0 + AB_BAR_MAX * frac(lo, top),
            AB_X0 + AB_BAR_MAX * frac(hi, top),
        );
        let ink = "stroke=\"#111827\" stroke-width=\"1.6\"";
        c.line(x1, mid, x2, mid, ink);
        c.line(x1, mid - 6.0, x1, mid + 6.0, ink);
        c.line(x2, mid - 6.0, x2, mid + 6.0, ink);
    }
    c.text(AB_W - 2.0, mid + 4.5, Anchor::End, "t", &text);
}

/// A column of the follow-through chart: its two heading lines, its value, its colour, and
/// whether it shows the value's share of the leads received.
type Col = (
    &'static str,
    &'static str,
    fn(&FollowThrough) -> i64,
    &'static str,
    bool,
);

/// The follow-through chart's width, its rep-name column, a row's height, where the rows
/// start, and a bar's longest.
const FT_W: f64 = 900.0;
const FT_LABEL: f64 = 160.0;
const FT_ROW: f64 = 28.0;
const FT_TOP: f64 = 44.0;
const FT_BAR_MAX: f64 = 110.0;

/// Per rep, side by side: leads received, never contacted, stopped by hand before five
/// touches, tasks overdue; each column on its own scale.
pub fn follow_through(id: &str, reps: &[FollowThrough]) -> String {
    let cols: [Col; 4] = [
        ("leads", "received", |f| f.received, RECEIVED, false),
        ("never", "contacted", |f| f.never_contacted, REPLIED, true),
        (
            "stopped by hand",
            "before 5 touches",
            |f| f.stopped_early,
            POSITIVE,
            true,
        ),
        ("tasks overdue", "now", |f| f.tasks_overdue, ALERT, false),
    ];
    let col_w = (FT_W - FT_LABEL) / cols.len() as f64;
    let height = FT_TOP + FT_ROW * reps.len() as f64 + 4.0;
    let desc = reps
        .iter()
        .map(|f| {
            format!(
                "{}: {} received, {} never contacted, {} stopped by hand early, {} tasks overdue",
                f.rep,
                count(f.received),
                count(f.never_contacted),
                count(f.stopped_early),
                count(f.tasks_overdue)
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    let mut c = Canvas::new(id, FT_W, height, "Follow-through per rep", &desc);
    for (i, f) in reps.iter().enumerate() {
        let y = FT_TOP + i as f64 * FT_ROW;
        if i % 2 == 1 {
            c.rect(0.0, y, FT_W, FT_ROW, "fill=\"#f8fafc\"", None);
        }
        c.label(0.0, y + 18.5, Anchor::Start, "b", &f.rep, 22);
    }
    for (j, col) in cols.iter().enumerate() {
        column(&mut c, FT_LABEL + j as f64 * col_w, col, reps);
    }
    c.line(0.0, FT_TOP - 2.0, FT_W, FT_TOP - 2.0, "stroke=\"#6b7280\"");
    c.finish()
}

/// One column at `x0`: its heading, and a bar per rep on the column's own scale.
fn column(c: &mut Canvas, x0: f64, col: &Col, reps: &[FollowThrough]) {
    let (head1, head2, value, colour, share) = *col;
    c.text(x0, 16.0, Anchor::Start, "h", head1);
    c.text(x0, 32.0, Anchor::Start, "h", head2);
    let max = reps.iter().map(value).max().unwrap_or(0).max(0) as f64;
    for (i, f) in reps.iter().enumerate() {
        let y = FT_TOP + i as f64 * FT_ROW;
        let v = value(f);
        let w = FT_BAR_MAX * frac(v as f64, max);
        let text = if share && f.received > 0 {
            format!("{} · {}", count(v), pct(Some(v as f64 / f.received as f64)))
        } else {
            count(v)
        };
        c.rect(
            x0,
            y + 6.0,
            FT_BAR_MAX,
            16.0,
            &format!("fill=\"{TRACK}\""),
            None,
        );
        let tip = format!("{}: {text} {head1} {head2}", f.rep);
        c.rect(
            x0,
            y + 6.0,
            w,
            16.0,
            &format!("fill=\"{colour}\""),
            Some(&tip),
        );
        c.text(x0 + w + 5.0, y + 18.5, Anchor::Start, "t", &text);
    }
}

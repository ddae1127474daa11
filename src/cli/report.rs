//! `drumbeat report`: the numbers of a period by rep, sequence, step, variant, source or a
//! reply's intent, as a table, JSON, CSV, or one HTML page with charts.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono_tz::Tz;

use super::output::print_json;
use super::{Failure, Outcome, load_config, now, open_store};
use crate::report::format::{cell, duration, maybe as num, pct};
use crate::report::{self, FollowThrough, Period, Report, Row};
use crate::store::Grouping;

/// Flags of `report`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Start of the period: a number of days or weeks back, today included (30d, 4w), a date
    /// (2026-11-01, from its local midnight) or an RFC 3339 time.
    #[arg(long, default_value = "30d", value_name = "30d|DATE")]
    since: String,
    /// End of the period: a date (that whole day is included) or an RFC 3339 time; default now.
    #[arg(long, value_name = "DATE")]
    until: Option<String>,
    /// How rows are grouped.
    #[arg(long, value_enum, default_value = "rep")]
    by: Grouping,
    /// Time zone for days (default: config.toml's `timezone`).
    #[arg(long, value_name = "ZONE")]
    tz: Option<String>,
    /// Print as JSON.
    #[arg(long, conflicts_with = "csv")]
    json: bool,
    /// Print as CSV (one row per group, rates as fractions).
    #[arg(long)]
    csv: bool,
    /// Also write the whole report (every grouping, charts) as one HTML file.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
}

/// `drumbeat report`.
pub async fn run(config_path: &Path, args: Args) -> Outcome {
    let config = load_config(config_path)?;
    let tz: Tz = match &args.tz {
        Some(z) => z.trim().parse().map_err(|_| {
            Failure::usage(format!(
                "--tz {z:?}: not an IANA time zone (e.g. Europe/Madrid, America/New_York)"
            ))
        })?,
        None => config.timezone,
    };
    let now = now();
    let period =
        Period::parse(&args.since, args.until.as_deref(), tz, now).map_err(Failure::usage)?;
    let store = open_store(&config).await?;
    let reps: Vec<String> = config.mailboxes.iter().map(|m| m.name.clone()).collect();

    // Steps in the order of their sequence files (alphabetical when the files do not load).
    let (catalog, _) = crate::catalog::Catalog::load(&config);
    let position = |seq: &str, step: &str| {
        catalog
            .sequence(seq)
            .and_then(|s| s.steps.iter().position(|x| x.id == step))
    };
    if let Some(file) = &args.html {
        let mut d = report::dashboard(&store, &period, &reps, now).await?;
        report::order_steps(&mut d.steps, position);
        report::order_steps(&mut d.variants, position);
        let page = report::html::render(&d);
        write_atomically(file, page.as_bytes())
            .map_err(|e| Failure::failed(format!("cannot write {}: {e}", file.display())))?;
        eprintln!("wrote {}", file.display());
    }
    let mut r = report::build(&store, args.by, &period, &reps, now).await?;
    if matches!(args.by, Grouping::Step | Grouping::Variant) {
        report::order_steps(&mut r.rows, position);
    }
    if args.json {
        print_json(&r)
    } else if args.csv {
        print_csv(&r)
    } else {
        print_text(&r, &period);
        Ok(())
    }
}

/// Writes `bytes` to `path` through a temporary file beside it, so a reader never sees half.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".partial");
    let tmp = PathBuf::from(tmp);
    let written = std::fs::File::create(&tmp).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_all()
    });
    match written.and_then(|()| std::fs::rename(&tmp, path)) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

fn columns(r: &Report) -> Vec<&'static str> {
    if r.by == Grouping::Intent {
        return vec!["intent", "replies", "% of replies"];
    }
    let cohort = matches!(r.by, Grouping::Rep | Grouping::Source | Grouping::Sequence);
    let mut c = vec![r.by.as_str()];
    if cohort {
        c.extend([
            if r.by == Grouping::Sequence {
                "enrolled"
            } else {
                "received"
            },
            "contacted",
            "first touch (median)",
            "(p90)",
            "touches/lead",
        ]);
    }
    c.extend([
        "sent", "emailed", "replied", "reply %", "positive", "meetings", "bounced", "bounce %",
        "unsub", "unsub %",
    ]);
    c
}

fn cells(r: &Report, row: &Row) -> Vec<String> {
    if r.by == Grouping::Intent {
        let all: i64 = r.rows.iter().map(|x| x.replied).sum();
        let share = (all > 0).then(|| row.replied as f64 / all as f64);
        return vec![
            cell(&row.key).into_owned(),
            num(Some(row.replied)),
            pct(share),
        ];
    }
    let cohort = matches!(r.by, Grouping::Rep | Grouping::Source | Grouping::Sequence);
    let mut c = vec![cell(&row.key).into_owned()];
    if cohort {
        c.extend([
            num(row.received),
            num(row.contacted),
            duration(row.first_touch_median_secs),
            duration(row.first_touch_p90_secs),
            row.touches_per_lead
                .map_or("-".into(), |t| format!("{t:.1}")),
        ]);
    }
    c.extend([
        num(Some(row.sent)),
        num(Some(row.emailed)),
        num(Some(row.replied)),
        pct(row.reply_rate),
        num(Some(row.positive)),
        num(Some(row.meetings)),
        num(Some(row.bounced)),
        pct(row.bounce_rate),
        num(Some(row.unsubscribed)),
        pct(row.unsubscribe_rate),
    ]);
    c
}

/// Columns padded to their widest cell; the first left-aligned, numbers right-aligned.
fn table(head: &[&str], rows: &[Vec<String>]) -> String {
    let n = head.len();
    let mut width: Vec<usize> = head.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate().take(n) {
            width[i] = width[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            let pad = width[i].saturating_sub(c.chars().count());
            if i == 0 {
                s.push_str(c);
                s.push_str(&" ".repeat(pad));
            } else {
                s.push_str("  ");
                s.push_str(&" ".repeat(pad));
                s.push_str(c);
            }
        }
        s.trim_end().to_string()
    };
    let mut out = line(head.to_vec());
    out.push('\n');
    for r in rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
        out.push('\n');
    }
    out
}

fn print_text(r: &Report, period: &Period) {
    say!("Report by {}: {}", r.by.as_str(), period.describe());
    say!();
    if r.rows.is_empty() {
        say!("Nothing happened in this period.");
    } else {
        let rows: Vec<Vec<String>> = r.rows.iter().map(|row| cells(r, row)).collect();
        say_inline!("{}", table(&columns(r), &rows));
    }
    if !r.follow_through.is_empty() {
        say!();
        say!("Follow-through (leads received in the period; tasks overdue now):");
        let rows: Vec<Vec<String>> = r
            .follow_through
            .iter()
            .map(|f: &FollowThrough| {
                vec![
                    cell(&f.rep).into_owned(),
                    num(Some(f.received)),
                    num(Some(f.never_contacted)),
                    num(Some(f.stopped_early)),
                    num(Some(f.tasks_overdue)),
                ]
            })
            .collect();
        say_inline!(
            "{}",
            table(
                &[
                    "rep",
                    "received",
                    "never contacted",
                    "stopped by hand before 5 touches",
                    "tasks overdue",
                ],
                &rows
            )
        );
    }
    if r.by == Grouping::Variant {
        say!();
        if r.ab_tests.is_empty() {
            say!("No step sent two variants or more in this period.");
        }
        for t in &r.ab_tests {
            let arms: Vec<String> = t
                .comparison
                .arms
                .iter()
                .map(|a| {
                    format!(
                        "{} {} of {} ({}, 95% {})",
                        a.variant.to_uppercase(),
                        a.replied,
                        a.sent,
                        pct(a.reply_rate),
                        a.interval.map_or("-".into(), |(lo, hi)| format!(
                            "{:.1}–{:.1}%",
                            lo * 100.0,
                            hi * 100.0
                        ))
                    )
                })
                .collect();
            say!("{} / {}: {}", t.sequence, t.step, t.comparison.verdict);
            say!("  {}", arms.join("; "));
        }
    }
}

fn print_csv(r: &Report) -> Outcome {
    let mut w = csv::Writer::from_writer(std::io::stdout().lock());
    let f = |v: Option<f64>| v.map(|v| format!("{v:.6}")).unwrap_or_default();
    let i = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
    let mut head: Vec<String> = match r.by.key_parts() {
        2 => vec!["sequence".into(), "step".into()],
        3 => vec!["sequence".into(), "step".into(), "variant".into()],
        _ => vec![r.by.as_str().into()],
    };
    head.extend(
        [
            "received",
            "contacted",
            "first_touch_median_secs",
            "first_touch_p90_secs",
            "touches_per_lead",
            "sent",
            "emailed",
            "replied",
            "reply_rate",
            "positive",
            "positive_rate",
            "meetings",
            "meeting_rate",
            "bounced",
            "bounce_rate",
            "unsubscribed",
            "unsubscribe_rate",
        ]
        .map(String::from),
    );
    w.write_record(&head)?;
    for row in &r.rows {
        let mut rec: Vec<String> = row.parts.iter().map(|p| cell(p).into_owned()).collect();
        rec.extend([
            i(row.received),
            i(row.contacted),
            i(row.first_touch_median_secs),
            i(row.first_touch_p90_secs),
            f(row.touches_per_lead),
            row.sent.to_string(),
            row.emailed.to_string(),
            row.replied.to_string(),
            f(row.reply_rate),
            row.positive.to_string(),
            f(row.positive_rate),
            row.meetings.to_string(),
            f(row.meeting_rate),
            row.bounced.to_string(),
            f(row.bounce_rate),
            row.unsubscribed.to_string(),
            f(row.unsubscribe_rate),
        ]);
        w.write_record(&rec)?;
    }
    w.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_numbers_right() {
        let t = table(
            &["rep", "sent"],
            &[
                vec!["ana".into(), "1,200".into()],
                vec!["benjamin".into(), "7".into()],
            ],
        );
        assert_eq!(t, "rep        sent\nana       1,200\nbenjamin      7\n");
    }
}

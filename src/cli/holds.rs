//! `pause --mailbox NAME|--sequence ID [--from DATE] [--until DATE]` and `resume --mailbox
//! NAME|--sequence ID`: planned pauses of a rep's mailbox (a vacation) or of a whole sequence.
//! `pause EMAIL` / `resume EMAIL` (one lead) stay in `control`.

use std::path::Path;

use chrono::{DateTime, Days, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use super::output::{print_json, rfc3339};
use super::{Failure, Outcome, load_catalog, load_config, now, open_store};
use crate::config::Config;
use crate::store::HoldScope;

/// What a pause or resume of many leads names.
pub struct Target<'a> {
    /// A mailbox or a sequence.
    pub scope: HoldScope,
    /// Its name or id.
    pub name: &'a str,
}

#[derive(Serialize)]
struct HoldOut<'a> {
    hold: i64,
    scope: HoldScope,
    name: &'a str,
    from: Option<String>,
    until: Option<String>,
    timezone: String,
    reason: &'a str,
}

/// Checks that the mailbox is in config.toml or the sequence in the catalog, and returns the
/// zone its dates are read in: the rep's for a mailbox, config.toml's for a sequence.
fn zone_of(config: &Config, target: &Target<'_>) -> Result<Tz, Failure> {
    match target.scope {
        HoldScope::Mailbox => config
            .mailbox(target.name)
            .map(|m| m.timezone)
            .ok_or_else(|| {
                let names: Vec<&str> = config.mailboxes.iter().map(|m| m.name.as_str()).collect();
                Failure::failed(format!(
                    "no mailbox {:?} in config.toml (mailboxes: {})",
                    target.name,
                    names.join(", ")
                ))
            }),
        HoldScope::Sequence => {
            let catalog = load_catalog(config)?;
            if catalog.sequence(target.name).is_none() {
                let ids: Vec<&str> = catalog.sequences.keys().map(String::as_str).collect();
                return Err(Failure::failed(format!(
                    "no sequence {:?} (sequences: {})",
                    target.name,
                    ids.join(", ")
                )));
            }
            Ok(config.timezone)
        }
    }
}

/// Reads `--from`/`--until`: a date (`2026-12-24`: the start of that day, or for `--until`
/// the end of it, in `tz`), a local time (`2026-12-24T13:00`), or an RFC 3339 instant.
pub fn parse_when(flag: &str, text: &str, tz: Tz, end_of_day: bool) -> Result<i64, Failure> {
    let text = text.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.timestamp());
    }
    let local = if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let day = if end_of_day {
            date.checked_add_days(Days::new(1))
        } else {
            Some(date)
        };
        day.map(|d| d.and_time(NaiveTime::MIN))
    } else {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M").ok()
    };
    local
        .and_then(|l| tz.from_local_datetime(&l).earliest())
        .map(|at| at.timestamp())
        .ok_or_else(|| {
            Failure::usage(format!(
                "{flag} {text:?} is not a date like 2026-12-24, a local time like 2026-12-24T13:00, or an RFC 3339 instant"
            ))
        })
}

/// `pause --mailbox|--sequence`: records the hold.
pub async fn pause(
    config_path: &Path,
    target: Target<'_>,
    (from, until): (Option<&str>, Option<&str>),
    reason: &str,
    json: bool,
) -> Outcome {
    let config = load_config(config_path)?;
    let tz = zone_of(&config, &target)?;
    let t = now().timestamp();
    let starts = from
        .map(|f| parse_when("--from", f, tz, false))
        .transpose()?
        .unwrap_or(t);
    let ends = until
        .map(|u| parse_when("--until", u, tz, true))
        .transpose()?;
    if let Some(end) = ends
        && (end <= starts || end <= t)
    {
        return Err(Failure::usage(format!(
            "--until {:?} is not after the pause starts and after now",
            until.unwrap_or_default()
        )));
    }
    let store = open_store(&config).await?;
    let id = store
        .add_hold(target.scope, target.name, (starts, ends), reason, t)
        .await?;
    let out = HoldOut {
        hold: id,
        scope: target.scope,
        name: target.name,
        from: rfc3339(Some(starts)),
        until: rfc3339(ends),
        timezone: tz.name().to_string(),
        reason,
    };
    if json {
        return print_json(&out);
    }
    let local = |at: i64| {
        DateTime::<Utc>::from_timestamp(at, 0)
            .map(|d| d.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z").to_string())
            .unwrap_or_default()
    };
    let whose = match target.scope {
        HoldScope::Mailbox => "its leads' emails and tasks wait",
        HoldScope::Sequence => "its leads wait",
    };
    let span = match ends {
        Some(end) => format!("from {} until {}", local(starts), local(end)),
        None => format!(
            "from {} until `drumbeat resume --{} {}`",
            local(starts),
            target.scope.as_str(),
            target.name
        ),
    };
    say!(
        "{} {}: paused {span} (pause #{id}); {whose}",
        target.scope.as_str(),
        target.name
    );
    Ok(())
}

/// `resume --mailbox|--sequence`: ends its pauses; what they held is due at once.
pub async fn resume(config_path: &Path, target: Target<'_>) -> Outcome {
    let config = load_config(config_path)?;
    zone_of(&config, &target)?;
    let store = open_store(&config).await?;
    let ended = store
        .resume_holds(target.scope, target.name, now().timestamp())
        .await?;
    let (scope, name) = (target.scope.as_str(), target.name);
    if ended == 0 {
        let hint = match target.scope {
            HoldScope::Mailbox => format!(
                " (a mailbox paused for its health resumes with `drumbeat mailbox resume {name}`)"
            ),
            HoldScope::Sequence => String::new(),
        };
        return Err(Failure::failed(format!(
            "{scope} {name} has no pause to resume{hint}"
        )));
    }
    say!("{scope} {name}: resumed; what waited is due now");
    Ok(())
}

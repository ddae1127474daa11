//! The period a report covers: `--since 30d|DATE|INSTANT` and `--until DATE|INSTANT`, read in
//! the report's time zone. Days start at local midnight, so an email sent at 23:30 in New York
//! counts on that New York day although it is already the next day in UTC.

use chrono::{DateTime, Days, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Serialize;

/// From `since` (included) to `until` (excluded), in `tz`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    /// First instant counted.
    pub since: DateTime<Utc>,
    /// First instant no longer counted.
    pub until: DateTime<Utc>,
    /// Where days begin and end.
    pub tz: Tz,
}

/// The period as JSON: instants in RFC 3339 with the zone's offset, and the zone's name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PeriodOut {
    /// First instant counted.
    pub since: String,
    /// First instant no longer counted.
    pub until: String,
    /// IANA zone.
    pub timezone: String,
}

impl Period {
    /// Reads `--since` and `--until` at `now`. `Nd` is the last N days, today included (from
    /// local midnight N-1 days ago); `Nw` the last N weeks; a DATE (`2026-11-01`) starts at its
    /// local midnight; `--until DATE` includes that day. RFC 3339 instants are taken as given.
    pub fn parse(
        since: &str,
        until: Option<&str>,
        tz: Tz,
        now: DateTime<Utc>,
    ) -> Result<Period, String> {
        let since_at =
            parse_since(since.trim(), tz, now).map_err(|e| format!("--since {since:?}: {e}"))?;
        let until_at = match until {
            // The store keeps whole seconds: what happened in this second so far is in.
            None => DateTime::from_timestamp(now.timestamp() + 1, 0).unwrap_or(now),
            Some(u) => parse_until(u.trim(), tz).map_err(|e| format!("--until {u:?}: {e}"))?,
        };
        if since_at >= until_at {
            return Err(format!(
                "the period is empty: --since is {} and --until {} ({})",
                since_at.with_timezone(&tz).format("%Y-%m-%d %H:%M"),
                until_at.with_timezone(&tz).format("%Y-%m-%d %H:%M"),
                tz.name()
            ));
        }
        Ok(Period {
            since: since_at,
            until: until_at,
            tz,
        })
    }

    /// For JSON.
    pub fn out(&self) -> PeriodOut {
        PeriodOut {
            since: self.since.with_timezone(&self.tz).to_rfc3339(),
            until: self.until.with_timezone(&self.tz).to_rfc3339(),
            timezone: self.tz.name().to_string(),
        }
    }

    /// The local dates the period touches, first to last.
    pub fn days(&self) -> Vec<NaiveDate> {
        let first = self.since.with_timezone(&self.tz).date_naive();
        // `until` is excluded: the last day is the one holding the instant before it.
        let last = (self.until - chrono::Duration::seconds(1))
            .with_timezone(&self.tz)
            .date_naive();
        first.iter_days().take_while(|d| *d <= last).collect()
    }

    /// `2026-11-01 – 2026-11-30 (America/New_York)`.
    pub fn describe(&self) -> String {
        let days = self.days();
        match (days.first(), days.last()) {
            (Some(a), Some(b)) if a == b => format!("{a} ({})", self.tz.name()),
            (Some(a), Some(b)) => format!("{a} to {b} ({})", self.tz.name()),
            _ => String::new(),
        }
    }
}

/// Local midnight starting `date` in `tz`. Where the clocks jump over midnight (a DST change at
/// 00:00), the day starts at the first instant that exists.
pub fn midnight(date: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let mut t = date.and_time(NaiveTime::MIN);
    for _ in 0..4 {
        if let Some(d) = tz.from_local_datetime(&t).earliest() {
            return d.with_timezone(&Utc);
        }
        t += chrono::Duration::minutes(30);
    }
    Utc.from_utc_datetime(&date.and_time(NaiveTime::MIN))
}

fn parse_since(s: &str, tz: Tz, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let today = now.with_timezone(&tz).date_naive();
    let lower = s.to_ascii_lowercase();
    for (unit, days) in [("d", 1u64), ("w", 7)] {
        if let Some(n) = lower.strip_suffix(unit)
            && let Ok(n) = n.trim().parse::<u64>()
        {
            if n == 0 {
                return Err("a period of 0 days is empty".into());
            }
            let back = (n * days)
                .checked_sub(1)
                .and_then(|b| today.checked_sub_days(Days::new(b)))
                .ok_or("too far back")?;
            return Ok(midnight(back, tz));
        }
    }
    parse_point(s, tz, false)
}

fn parse_until(s: &str, tz: Tz) -> Result<DateTime<Utc>, String> {
    parse_point(s, tz, true)
}

/// A DATE (its local midnight, or the next one when `end_of_day`) or an RFC 3339 instant.
fn parse_point(s: &str, tz: Tz, end_of_day: bool) -> Result<DateTime<Utc>, String> {
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        let d = if end_of_day {
            d.checked_add_days(Days::new(1)).ok_or("too far ahead")?
        } else {
            d
        };
        return Ok(midnight(d, tz));
    }
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|_| {
            "expected a number of days or weeks (30d, 4w), a date (2026-11-01) or an RFC 3339 \
             time (2026-11-01T09:00:00Z)"
                .to_string()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn days_back_start_at_local_midnight_today_included() {
        let ny: Tz = "America/New_York".parse().unwrap();
        // 02:00 UTC on Dec 2 is still Dec 1 in New York.
        let p = Period::parse("1d", None, ny, at("2026-12-02T02:00:00.250Z")).unwrap();
        assert_eq!(p.since, at("2026-12-01T05:00:00Z"));
        // Up to now, this second included: an event stored at 02:00:00 (the store keeps whole
        // seconds) a quarter second ago is in the report.
        assert_eq!(p.until, at("2026-12-02T02:00:01Z"));
        assert!(at("2026-12-02T02:00:00Z").timestamp() < p.until.timestamp());
        let p = Period::parse("30d", None, ny, at("2026-12-02T02:00:00Z")).unwrap();
        // Nov 2 local midnight; DST ended Nov 1, so it is UTC-5.
        assert_eq!(p.since, at("2026-11-02T05:00:00Z"));
        assert_eq!(p.days().len(), 30);
        let p = Period::parse("2w", None, ny, at("2026-12-02T02:00:00Z")).unwrap();
        assert_eq!(p.days().len(), 14);
    }

    #[test]
    fn dates_are_local_and_until_includes_its_day() {
        let tokyo: Tz = "Asia/Tokyo".parse().unwrap();
        let p = Period::parse(
            "2026-11-01",
            Some("2026-11-30"),
            tokyo,
            at("2026-12-24T00:00:00Z"),
        )
        .unwrap();
        assert_eq!(p.since, at("2026-10-31T15:00:00Z"));
        assert_eq!(p.until, at("2026-11-30T15:00:00Z"));
        assert_eq!(p.days().len(), 30);
        assert_eq!(p.describe(), "2026-11-01 to 2026-11-30 (Asia/Tokyo)");
    }

    #[test]
    fn bad_periods_say_what_is_expected() {
        let utc: Tz = "UTC".parse().unwrap();
        let now = at("2026-12-02T00:00:00Z");
        let e = Period::parse("yesterday", None, utc, now).unwrap_err();
        assert!(
            e.contains("--since \"yesterday\"") && e.contains("30d"),
            "{e}"
        );
        let e = Period::parse("0d", None, utc, now).unwrap_err();
        assert!(e.contains("empty"), "{e}");
        let e = Period::parse("2026-12-05", None, utc, now).unwrap_err();
        assert!(e.contains("the period is empty"), "{e}");
        let e = Period::parse("30d", Some("11/30/2026"), utc, now).unwrap_err();
        assert!(e.contains("--until"), "{e}");
        assert!(Period::parse("99999999999d", None, utc, now).is_err());
    }

    #[test]
    fn a_midnight_that_does_not_exist_starts_at_the_first_instant_that_does() {
        // Santiago skips from 00:00 to 01:00 when DST starts (2026-09-06).
        let scl: Tz = "America/Santiago".parse().unwrap();
        let d = NaiveDate::from_ymd_opt(2026, 9, 6).unwrap();
        let m = midnight(d, scl);
        assert_eq!(m.with_timezone(&scl).date_naive(), d);
    }
}

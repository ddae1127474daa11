//! When a rep's daily digest is due: a crontab line (`0 8 * * Mon-Fri`, five fields, minute
//! first) read in the rep's time zone. The `cron` crate wants seconds first and counts weekdays
//! from 1 = Sunday; this module takes crontab's spelling (0 or 7 = Sunday, 1 = Monday) and day
//! names, and hands the crate what it understands.

use std::str::FromStr;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;

use crate::domain::day_start;

/// A parsed digest schedule.
#[derive(Debug, Clone)]
pub struct DigestSchedule {
    source: String,
    schedule: cron::Schedule,
}

/// Crontab's weekday numbers as names (0 and 7 are Sunday).
const DAYS: [&str; 8] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

impl DigestSchedule {
    /// Parses a five-field crontab line. Errors say what is expected and never panic.
    pub fn parse(text: &str) -> Result<DigestSchedule, String> {
        let fields: Vec<&str> = text.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(format!(
                "{text:?} has {} field(s); a digest time is a crontab line of 5: minute hour day-of-month month day-of-week, e.g. \"0 8 * * Mon-Fri\"",
                fields.len()
            ));
        }
        let weekdays = weekdays(fields[4]).map_err(|e| format!("{text:?}: day of week: {e}"))?;
        let expr = format!(
            "0 {} {} {} {} {weekdays}",
            fields[0], fields[1], fields[2], fields[3]
        );
        let schedule = cron::Schedule::from_str(&expr).map_err(|e| {
            format!("{text:?} is not a crontab time (minute hour day-of-month month day-of-week, e.g. \"0 8 * * Mon-Fri\"): {e}")
        })?;
        // A digest is a morning summary: a line that fires every few minutes is a mistake.
        let start = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).single();
        let firsts: Vec<DateTime<Utc>> = start
            .map(|s| schedule.after(&s).take(3).collect())
            .unwrap_or_default();
        if firsts.is_empty() {
            return Err(format!("{text:?} never fires"));
        }
        if firsts.windows(2).any(|w| w[1] - w[0] < TimeDelta::hours(1)) {
            return Err(format!(
                "{text:?} fires more than once an hour; a digest wants a time of day, e.g. \"0 8 * * Mon-Fri\""
            ));
        }
        Ok(DigestSchedule {
            source: text.split_whitespace().collect::<Vec<_>>().join(" "),
            schedule,
        })
    }

    /// The line as written (whitespace folded).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The occurrence due at `now`: the latest one at or before `now` on the same day in `tz`.
    /// An occurrence of an earlier day is never due (a daemon that was down does not catch up
    /// on days of digests), and one missed earlier today still is.
    pub fn due(&self, tz: Tz, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let start = DateTime::from_timestamp(day_start(tz, now) - 1, 0)?.with_timezone(&tz);
        self.schedule
            .after(&start)
            .map(|t| t.with_timezone(&Utc))
            .take_while(|t| *t <= now)
            .last()
    }

    /// The first occurrence after `after`.
    pub fn next_after(&self, tz: Tz, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.schedule
            .after(&after.with_timezone(&tz))
            .next()
            .map(|t| t.with_timezone(&Utc))
    }
}

/// The day-of-week field with crontab's numbers turned into names (`1-5` → `Mon-Fri`,
/// `5-7` → `Fri-Sat,Sun`).
fn weekdays(field: &str) -> Result<String, String> {
    let day = |s: &str| -> Result<String, String> {
        if s.chars().all(|c| c.is_ascii_digit()) {
            match s.parse::<usize>() {
                Ok(n) if n <= 7 => Ok(DAYS[n].to_string()),
                _ => Err(format!(
                    "{s:?} is not a day (0-7, 0 and 7 are Sunday, or Mon…Sun)"
                )),
            }
        } else {
            Ok(s.to_string())
        }
    };
    let mut out = Vec::new();
    for item in field.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => (r, Some(s)),
            None => (item, None),
        };
        let with_step = |r: String| match step {
            Some(s) => format!("{r}/{s}"),
            None => r,
        };
        match range.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (day(a)?, day(b)?);
                let ends_on_sunday = range.ends_with("-7") || range.ends_with("-0");
                if ends_on_sunday && step.is_some() {
                    return Err(format!("{item:?}: write the days by name (e.g. Mon-Sun/2)"));
                }
                if ends_on_sunday && a != "Sun" {
                    out.push(format!("{a}-Sat"));
                    out.push("Sun".to_string());
                } else {
                    out.push(with_step(format!("{a}-{b}")));
                }
            }
            None => out.push(with_step(day(range)?)),
        }
    }
    Ok(out.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn crontab_weekday_numbers_become_names() {
        assert_eq!(weekdays("1-5").unwrap(), "Mon-Fri");
        assert_eq!(weekdays("0,6").unwrap(), "Sun,Sat");
        assert_eq!(weekdays("7").unwrap(), "Sun");
        assert_eq!(weekdays("5-7").unwrap(), "Fri-Sat,Sun");
        assert_eq!(weekdays("Mon-Fri").unwrap(), "Mon-Fri");
        assert_eq!(weekdays("*").unwrap(), "*");
        assert_eq!(weekdays("1-5/2").unwrap(), "Mon-Fri/2");
        assert!(weekdays("8").is_err());
    }

    #[test]
    fn numbers_and_names_give_the_same_days() {
        let tz = Tz::Europe__Madrid;
        let a = DigestSchedule::parse("0 8 * * 1-5").unwrap();
        let b = DigestSchedule::parse("0 8 * * Mon-Fri").unwrap();
        let mut t = utc("2026-03-01T00:00:00Z");
        for _ in 0..10 {
            let (x, y) = (a.next_after(tz, t).unwrap(), b.next_after(tz, t).unwrap());
            assert_eq!(x, y);
            t = x;
        }
        // Friday 6 March 08:00 in Madrid, then Monday 9 March.
        let fri = a.next_after(tz, utc("2026-03-06T06:00:00Z")).unwrap();
        assert_eq!(fri, utc("2026-03-06T07:00:00Z"));
        assert_eq!(a.next_after(tz, fri).unwrap(), utc("2026-03-09T07:00:00Z"));
    }

    #[test]
    fn bad_lines_are_refused_with_what_is_expected() {
        let e = DigestSchedule::parse("0 0 8 * * Mon-Fri").unwrap_err();
        assert!(
            e.contains("has 6 field(s)") && e.contains("0 8 * * Mon-Fri"),
            "{e}"
        );
        let e = DigestSchedule::parse("0 25 * * *").unwrap_err();
        assert!(e.contains("is not a crontab time"), "{e}");
        let e = DigestSchedule::parse("0 8 * * Mnday").unwrap_err();
        assert!(e.contains("is not a crontab time"), "{e}");
        let e = DigestSchedule::parse("*/5 * * * *").unwrap_err();
        assert!(e.contains("more than once an hour"), "{e}");
        let e = DigestSchedule::parse("0 8 30 2 *").unwrap_err();
        assert!(e.contains("never fires"), "{e}");
        assert!(DigestSchedule::parse("").is_err());
    }

    /// Tokyo is 9 hours ahead: 08:00 local is 23:00 UTC of the day before.
    #[test]
    fn due_is_the_latest_occurrence_of_the_local_day() {
        let tz = Tz::Asia__Tokyo;
        let s = DigestSchedule::parse("0 8 * * Mon-Fri").unwrap();
        // Wednesday 2026-12-02 07:59 in Tokyo: yesterday's 08:00 is not due any more.
        assert_eq!(s.due(tz, utc("2026-12-01T22:59:00Z")), None);
        // 08:00 sharp and later that day: the 08:00 occurrence.
        let at8 = utc("2026-12-01T23:00:00Z");
        assert_eq!(s.due(tz, at8), Some(at8));
        assert_eq!(s.due(tz, utc("2026-12-01T23:05:00Z")), Some(at8));
        assert_eq!(s.due(tz, utc("2026-12-02T14:59:59Z")), Some(at8));
        // Saturday 5 December: none.
        assert_eq!(s.due(tz, utc("2026-12-05T03:00:00Z")), None);
        // Twice a day: the later one once it passed.
        let two = DigestSchedule::parse("0 8,14 * * *").unwrap();
        assert_eq!(
            two.due(tz, utc("2026-12-02T05:30:00Z")),
            Some(utc("2026-12-02T05:00:00Z"))
        );
    }

    #[test]
    fn due_is_right_across_a_dst_change() {
        let tz = Tz::Europe__Madrid;
        let s = DigestSchedule::parse("0 8 * * *").unwrap();
        // Sunday 29 March 2026: clocks go forward at 02:00; 08:00 is then UTC+2.
        assert_eq!(
            s.due(tz, utc("2026-03-29T06:30:00Z")),
            Some(utc("2026-03-29T06:00:00Z"))
        );
        assert_eq!(
            s.due(tz, utc("2026-03-28T07:30:00Z")),
            Some(utc("2026-03-28T07:00:00Z"))
        );
    }
}

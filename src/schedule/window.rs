//! When emails may go out: a sequence's send window, read in the lead's time zone.
//!
//! A [`SendWindow`] is open on its week days, between its start and end local times, except on
//! its holidays. Everything here is pure: callers pass the instant to reason about, so the
//! scheduler and `drumbeat preview` compute the same send times.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt;

use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveDateTime, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;

use super::holidays::Country;
use super::local::{next_transition, offset_at, resolve, to_local};
use super::wait::{Wait, WaitUnit};

/// How far ahead [`SendWindow::next_opening`] looks before it concludes the window never opens:
/// three years of local dates.
const HORIZON_DAYS: u64 = 3 * 366;

/// How many time-zone changes [`SendWindow::next_opening`] follows within its horizon. Real zones
/// change at most a few times a year.
const MAX_TRANSITIONS: usize = 64;

/// Why a send window's days or hours could not be read, as a sentence for the person who wrote
/// them. The caller adds the file and line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct WindowError {
    pub message: String,
}

impl WindowError {
    fn new(message: impl Into<String>) -> Self {
        WindowError {
            message: message.into(),
        }
    }
}

/// A set of week days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Weekdays(u8);

const DAY_NAMES: [(Weekday, &str, &[&str]); 7] = [
    (Weekday::Mon, "monday", &["mon"]),
    (Weekday::Tue, "tuesday", &["tue", "tues"]),
    (Weekday::Wed, "wednesday", &["wed", "weds"]),
    (Weekday::Thu, "thursday", &["thu", "thur", "thurs"]),
    (Weekday::Fri, "friday", &["fri"]),
    (Weekday::Sat, "saturday", &["sat"]),
    (Weekday::Sun, "sunday", &["sun"]),
];

impl Weekdays {
    /// Monday to Friday.
    pub const MON_FRI: Weekdays = Weekdays(0b001_1111);
    /// Every day of the week.
    pub const ALL: Weekdays = Weekdays(0b111_1111);
    /// No day: a window with these days never opens.
    pub const NONE: Weekdays = Weekdays(0);

    fn bit(day: Weekday) -> u8 {
        1 << day.num_days_from_monday()
    }

    /// Whether `day` is in the set.
    pub fn contains(&self, day: Weekday) -> bool {
        self.0 & Self::bit(day) != 0
    }

    /// Whether the set has no day at all.
    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }

    /// This set with `day` added.
    pub fn with(self, day: Weekday) -> Weekdays {
        Weekdays(self.0 | Self::bit(day))
    }

    /// Reads a list of days as a sequence file writes it: `["mon-fri"]`, `["Mon", "Tue", "Thu"]`,
    /// `["monday", "wednesday"]`, `["fri-mon"]` (a range may wrap past Sunday), or one item with
    /// commas (`["mon, wed, fri"]`). Names are three letters or full, in any case; `weekdays`,
    /// `weekends` and `every day` are understood too. Numbers are refused, because tools
    /// disagree on whether Sunday is 0, 1 or 7. An empty list is refused: a window that never
    /// opens is a mistake, not a setting.
    pub fn parse_list(items: &[String]) -> Result<Weekdays, WindowError> {
        let mut days = Weekdays::NONE;
        let pieces = items.iter().flat_map(|item| item.split(',')).map(str::trim);
        for piece in pieces.filter(|piece| !piece.is_empty()) {
            days = Weekdays(days.0 | parse_day_piece(piece)?.0);
        }
        if days.is_empty() {
            return Err(WindowError::new(
                r#"the send window lists no days (write e.g. ["mon-fri"] or ["mon", "wed", "fri"])"#,
            ));
        }
        Ok(days)
    }
}

impl FromIterator<Weekday> for Weekdays {
    fn from_iter<I: IntoIterator<Item = Weekday>>(days: I) -> Self {
        days.into_iter().fold(Weekdays::NONE, Weekdays::with)
    }
}

impl fmt::Display for Weekdays {
    /// Short names with ranges, in the form [`Weekdays::parse_list`] reads: `mon-fri`,
    /// `mon, wed, fri`, `mon, fri-sun`; `no days` when empty.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("no days");
        }
        let short = |index: usize| DAY_NAMES[index].2[0];
        let mut parts = Vec::new();
        let mut index = 0;
        while index < 7 {
            if !self.contains(DAY_NAMES[index].0) {
                index += 1;
                continue;
            }
            let first = index;
            while index + 1 < 7 && self.contains(DAY_NAMES[index + 1].0) {
                index += 1;
            }
            parts.push(if first == index {
                short(first).to_string()
            } else {
                format!("{}-{}", short(first), short(index))
            });
            index += 1;
        }
        f.write_str(&parts.join(", "))
    }
}

/// One item of a day list: a day, a range of days, or a named group.
fn parse_day_piece(piece: &str) -> Result<Weekdays, WindowError> {
    let lower = piece.to_lowercase().replace(['\u{2013}', '\u{2014}'], "-");
    let words = lower.split_whitespace().collect::<Vec<_>>().join(" ");
    match words.as_str() {
        "weekdays" => return Ok(Weekdays::MON_FRI),
        "weekend" | "weekends" => return Ok(Weekdays::from_iter([Weekday::Sat, Weekday::Sun])),
        "every day" | "everyday" | "daily" => return Ok(Weekdays::ALL),
        _ => {}
    }
    let Some((first, last)) = words.split_once('-') else {
        return Ok(Weekdays::NONE.with(parse_day(&words, piece)?));
    };
    let (first, last) = (
        parse_day(first.trim(), piece)?,
        parse_day(last.trim(), piece)?,
    );
    let mut days = Weekdays::NONE.with(first);
    let mut day = first;
    while day != last {
        day = day.succ();
        days = days.with(day);
    }
    Ok(days)
}

/// One day's name, lowercased; `piece` is the item as written, for the message.
fn parse_day(name: &str, piece: &str) -> Result<Weekday, WindowError> {
    let name = name.trim_end_matches('.');
    if let Some((day, _, _)) = DAY_NAMES
        .iter()
        .find(|(_, full, short)| *full == name || short.contains(&name))
    {
        return Ok(*day);
    }
    if !name.is_empty() && name.chars().all(|c| c.is_ascii_digit()) {
        return Err(WindowError::new(format!(
            r#"day "{piece}" is a number; write the day's name instead (e.g. "mon" or "monday"), because tools number week days differently"#
        )));
    }
    let mut message = format!(
        r#"unknown day "{piece}" (expected mon, tue, wed, thu, fri, sat, sun, their full names, or a range such as "mon-fri")"#
    );
    let allowed = 1 + name.chars().count() / 5;
    let closest = DAY_NAMES
        .iter()
        .flat_map(|(_, full, short)| std::iter::once(full).chain(short.iter()))
        .map(|candidate| (strsim::damerau_levenshtein(name, candidate), *candidate))
        .filter(|(distance, _)| *distance <= allowed)
        .min_by_key(|(distance, _)| *distance);
    if let Some((_, suggestion)) = closest {
        message.push_str(&format!(r#"; did you mean "{suggestion}"?"#));
    }
    Err(WindowError::new(message))
}

/// When a sequence's emails may go out, in the lead's local time.
///
/// Open from `start` (inclusive) to `end` (exclusive) on each of `days` that is not one of
/// `holidays`. Times and dates are local to the zone the caller passes, normally
/// [`SendWindow::zone_for`] the lead.
#[derive(Debug, Clone, PartialEq)]
pub struct SendWindow {
    /// The week days on which the window opens.
    pub days: Weekdays,
    /// The local time the window opens each day (inclusive).
    pub start: NaiveTime,
    /// The local time the window shuts each day (exclusive); after `start`, or it never opens.
    pub end: NaiveTime,
    /// The zone to use for leads that have none of their own.
    pub timezone: Option<Tz>,
    /// Local dates on which the window stays shut and which business days skip: the dates the
    /// file lists and the public holidays of its `countries`.
    pub holidays: BTreeSet<NaiveDate>,
    /// The countries whose public holidays are in `holidays` (`holidays: [US, DE]`).
    pub countries: Vec<Country>,
    /// Whether each lead's own country's holidays count too (`holidays: [lead]`); see
    /// [`SendWindow::for_lead`].
    pub lead_holidays: bool,
}

impl SendWindow {
    /// Mon–Fri 09:00–17:00, no holidays, no fallback zone.
    pub fn business_hours() -> Self {
        SendWindow {
            days: Weekdays::MON_FRI,
            start: NaiveTime::from_hms_opt(9, 0, 0).expect("09:00 is a valid time"),
            end: NaiveTime::from_hms_opt(17, 0, 0).expect("17:00 is a valid time"),
            timezone: None,
            holidays: BTreeSet::new(),
            countries: Vec::new(),
            lead_holidays: false,
        }
    }

    /// This window for one lead: with the public holidays of the lead's `country` added when
    /// the window counts the lead's holidays (`holidays: [lead]`), else itself.
    pub fn for_lead(&self, country: Option<Country>) -> Cow<'_, SendWindow> {
        match country {
            Some(country) if self.lead_holidays && !self.countries.contains(&country) => {
                let mut window = self.clone();
                window.holidays.extend(country.holidays().iter().copied());
                window.countries.push(country);
                window.lead_holidays = false;
                Cow::Owned(window)
            }
            _ => Cow::Borrowed(self),
        }
    }

    /// Parse "09:00-17:00" / "9:00 - 17:30" / "09-17" into (start, end); start must be before
    /// end (no windows across midnight: say so). Also reads "9am-5pm" and en dashes.
    pub fn parse_hours(s: &str) -> Result<(NaiveTime, NaiveTime), WindowError> {
        let shown = s.split_whitespace().collect::<Vec<_>>().join(" ");
        let text = shown
            .to_lowercase()
            .replace(['\u{2013}', '\u{2014}'], "-")
            .replace(" to ", "-");
        let Some((start, end)) = text.split_once('-') else {
            return Err(WindowError::new(format!(
                r#"send hours "{shown}" are not a range (write them as "09:00-17:00")"#
            )));
        };
        let start = parse_clock(start.trim(), &shown)?;
        let end = parse_clock(end.trim(), &shown)?;
        if start >= end {
            return Err(WindowError::new(format!(
                r#"send hours "{shown}" do not end after they start; a window cannot run across midnight, so keep both times within one day (e.g. "09:00-17:00")"#
            )));
        }
        Ok((start, end))
    }

    /// The zone to use for a lead: the lead's own zone when it has one, else the window's, else `default`.
    pub fn zone_for(&self, lead_tz: Option<Tz>, default: Tz) -> Tz {
        lead_tz.or(self.timezone).unwrap_or(default)
    }

    /// Whether the window is open at `at` in `tz`: on a listed day that is not a holiday, at a
    /// local time in `[start, end)`.
    pub fn is_open(&self, tz: Tz, at: DateTime<Utc>) -> bool {
        to_local(tz, at).is_some_and(|local| self.is_open_local(local))
    }

    fn is_open_local(&self, local: NaiveDateTime) -> bool {
        self.is_send_day(local.date()) && self.start <= local.time() && local.time() < self.end
    }

    fn is_send_day(&self, date: NaiveDate) -> bool {
        self.days.contains(date.weekday()) && !self.holidays.contains(&date)
    }

    /// The first instant >= `at` when the window is open, or None if it can never open (no
    /// days, or only holidays for the next 3 years).
    ///
    /// A start time that a spring-forward change skips opens at the change; one that a fall-back
    /// change repeats opens at its first occurrence.
    pub fn next_opening(&self, tz: Tz, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if self.days.is_empty() || self.start >= self.end {
            return None;
        }
        let last_day = to_local(tz, at)?
            .date()
            .checked_add_days(Days::new(HORIZON_DAYS))
            .unwrap_or(NaiveDate::MAX);
        // Between two changes of the zone's offset, local time is UTC plus a constant, so the
        // first open local time after `from` gives the answer unless a change comes first.
        let mut from = at;
        for _ in 0..MAX_TRANSITIONS {
            let offset = offset_at(tz, from);
            let local = from.naive_utc().checked_add_signed(offset)?;
            let open = self.first_open_local(local, last_day)?;
            let candidate = open.checked_sub_signed(offset)?.and_utc();
            match next_transition(tz, from, candidate) {
                Some(change) => from = change,
                None if self.is_open(tz, candidate) => return Some(candidate),
                // Only if the zone changed twice between two probes; step past it.
                None => from = candidate.checked_add_signed(chrono::TimeDelta::seconds(1))?,
            }
        }
        None
    }

    /// The first local time >= `local` inside the window, on or before `last_day`.
    fn first_open_local(&self, local: NaiveDateTime, last_day: NaiveDate) -> Option<NaiveDateTime> {
        let today = local.date();
        if self.is_send_day(today) {
            if local.time() < self.start {
                return Some(today.and_time(self.start));
            }
            if local.time() < self.end {
                return Some(local);
            }
        }
        let mut day = today;
        while day < last_day {
            day = day.succ_opt()?;
            if self.is_send_day(day) {
                return Some(day.and_time(self.start));
            }
        }
        None
    }

    /// `from` moved forward by `wait` in `tz`.
    ///
    /// Minutes and hours are elapsed time. Days and weeks are calendar days that keep the local
    /// time of day, so `1 day` after 10:00 is 10:00 the next day even across a daylight-saving
    /// change. Business days are Monday to Friday less this window's holidays, whatever the
    /// window's own days, and also keep the local time of day. Counting starts from the next
    /// business day (as a spreadsheet's `WORKDAY` counts): Friday 15:00 + 1 business day is
    /// Monday 15:00, and Saturday or Sunday + 1 business day is Monday too.
    ///
    /// A local time that does not exist on the target day moves to the end of the gap; one that
    /// exists twice takes the earlier. The result is never before `from`, and saturates at
    /// chrono's last instant instead of overflowing.
    pub fn apply_wait(&self, tz: Tz, from: DateTime<Utc>, wait: Wait) -> DateTime<Utc> {
        if wait.is_zero() {
            return from;
        }
        let amount = u64::from(wait.amount);
        let moved = match wait.unit {
            WaitUnit::Minutes => chrono::TimeDelta::try_minutes(i64::from(wait.amount))
                .and_then(|delta| from.checked_add_signed(delta)),
            WaitUnit::Hours => chrono::TimeDelta::try_hours(i64::from(wait.amount))
                .and_then(|delta| from.checked_add_signed(delta)),
            WaitUnit::Days => {
                same_time_on(tz, from, |date| date.checked_add_days(Days::new(amount)))
            }
            WaitUnit::Weeks => same_time_on(tz, from, |date| {
                date.checked_add_days(Days::new(amount.checked_mul(7)?))
            }),
            WaitUnit::BusinessDays => {
                same_time_on(tz, from, |date| self.add_business_days(date, amount))
            }
        };
        moved.map_or(DateTime::<Utc>::MAX_UTC, |moved| moved.max(from))
    }

    /// When a step with this wait, planned at `from`, goes out: next_opening(apply_wait(from)).
    pub fn due_at(&self, tz: Tz, from: DateTime<Utc>, wait: Wait) -> Option<DateTime<Utc>> {
        self.next_opening(tz, self.apply_wait(tz, from, wait))
    }

    /// The `count`-th business day after `date`: Monday to Friday, not a holiday.
    fn add_business_days(&self, date: NaiveDate, count: u64) -> Option<NaiveDate> {
        // Count weekdays in closed form, then extend by the holidays that fell in the span until
        // no more do; each round adds at least one holiday, so this ends.
        let mut skipped = 0;
        for _ in 0..=self.holidays.len() {
            let end = add_weekdays(date, count.checked_add(skipped)?)?;
            if end <= date {
                return Some(date);
            }
            let holidays = self
                .holidays
                .range(date.succ_opt()?..=end)
                .filter(|holiday| Weekdays::MON_FRI.contains(holiday.weekday()))
                .count() as u64;
            if holidays == skipped {
                return Some(end);
            }
            skipped = holidays;
        }
        None
    }
}

/// The date `count` weekdays (Monday to Friday) after `date`; from a weekend, the first weekday
/// counted is the next Monday.
fn add_weekdays(date: NaiveDate, count: u64) -> Option<NaiveDate> {
    if count == 0 {
        return Some(date);
    }
    let weekday = u64::from(date.weekday().num_days_from_monday());
    // Counting from Saturday or Sunday is counting from the Friday before.
    let (friday_or_date, index) = if weekday > 4 {
        (date.checked_sub_days(Days::new(weekday - 4))?, 4)
    } else {
        (date, weekday)
    };
    let from_monday = index.checked_add(count)?;
    // `from_monday % 5 - index` only underflows when a whole week is added first.
    let days = (from_monday / 5)
        .checked_mul(7)?
        .checked_add(from_monday % 5)?
        .checked_sub(index)?;
    friday_or_date.checked_add_days(Days::new(days))
}

/// `from`'s local time of day on the local date `move_date` gives, as an instant.
fn same_time_on(
    tz: Tz,
    from: DateTime<Utc>,
    move_date: impl FnOnce(NaiveDate) -> Option<NaiveDate>,
) -> Option<DateTime<Utc>> {
    let local = to_local(tz, from)?;
    resolve(tz, move_date(local.date())?.and_time(local.time()))
}

/// One side of a range of hours: `9`, `09`, `9:30`, `17.30`, `9am`, `5:30 pm`; `shown` is the
/// whole range as written, for the message.
fn parse_clock(text: &str, shown: &str) -> Result<NaiveTime, WindowError> {
    let bad = || {
        WindowError::new(format!(
            r#"send hours "{shown}": "{text}" is not a time of day (write 24-hour times such as "09:00-17:30")"#
        ))
    };
    let (body, meridiem) = ["am", "a.m.", "pm", "p.m."]
        .iter()
        .find_map(|suffix| {
            Some((
                text.strip_suffix(suffix)?.trim_end(),
                Some(suffix.starts_with('p')),
            ))
        })
        .unwrap_or((text, None));
    let (hour, minute) = body.split_once([':', '.']).unwrap_or((body, "00"));
    let two_digits = |s: &str, min_len| {
        (min_len..=2).contains(&s.len()) && s.chars().all(|c| c.is_ascii_digit())
    };
    if !two_digits(hour, 1) || !two_digits(minute, 2) {
        return Err(bad());
    }
    let (hour, minute): (u32, u32) = (
        hour.parse().map_err(|_| bad())?,
        minute.parse().map_err(|_| bad())?,
    );
    let hour = match meridiem {
        Some(_) if !(1..=12).contains(&hour) => return Err(bad()),
        Some(pm) => hour % 12 + if pm { 12 } else { 0 },
        None if hour == 24 && minute == 0 => {
            return Err(WindowError::new(format!(
                r#"send hours "{shown}": "24:00" is not a time of day; end the window at "23:59" to send until midnight"#
            )));
        }
        None => hour,
    };
    NaiveTime::from_hms_opt(hour, minute, 0).ok_or_else(bad)
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

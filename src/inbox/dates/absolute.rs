//! Dates written out: ISO, numeric with dots, slashes or dashes, with a month name, and week
//! days (see the rules in [`super`]).

use chrono::{Datelike, Days, NaiveDate, Weekday};

use super::tokens::{Tok, Token, num, punct, tight, word};
use crate::inbox::words::{MONTHS, PT_WEEKDAYS, WEEKDAYS};

pub(crate) fn month(word: &str) -> Option<u32> {
    MONTHS.iter().find(|(n, _)| *n == word).map(|(_, m)| *m)
}

/// Words that may sit between a day and a month or a month and a year.
const FILLERS: &[&str] = &[
    "de", "of", "del", "th", "st", "nd", "rd", "er", "e", "º", "ª", "o",
];

/// A date found in text and where (token index of its first and past-last token).
#[derive(Debug, Clone, Copy)]
pub(super) struct Found {
    pub(super) date: NaiveDate,
    pub(super) start: usize,
    pub(super) end: usize,
    /// Only a week day: weaker than a date.
    pub(super) weekday_only: bool,
}

fn year_of(n: u32, len: usize) -> Option<i32> {
    match len {
        4 if (1990..=2200).contains(&n) => i32::try_from(n).ok(),
        2 => i32::try_from(2000 + n).ok(),
        _ => None,
    }
}

/// The next `month`/`day` on or after `from` (Feb 29 waits for a leap year).
pub(crate) fn next_on_or_after(from: NaiveDate, month: u32, day: u32) -> Option<NaiveDate> {
    (0..9).find_map(|k| NaiveDate::from_ymd_opt(from.year() + k, month, day).filter(|d| *d >= from))
}

fn ymd(year: Option<i32>, month: u32, day: u32, received: NaiveDate) -> Option<NaiveDate> {
    match year {
        Some(y) => NaiveDate::from_ymd_opt(y, month, day),
        None => next_on_or_after(received, month, day),
    }
}

/// The soonest of the readings on or after `received`, else the latest.
fn soonest(
    readings: impl IntoIterator<Item = Option<NaiveDate>>,
    received: NaiveDate,
) -> Option<NaiveDate> {
    let all: Vec<NaiveDate> = readings.into_iter().flatten().collect();
    all.iter()
        .copied()
        .filter(|d| *d >= received)
        .min()
        .or_else(|| all.iter().copied().max())
}

/// Skips ordinal suffixes and "de"/"of" fillers from token i; returns the next index.
fn skip_fillers(tokens: &[Token], mut i: usize) -> usize {
    for _ in 0..3 {
        match tokens.get(i).map(|t| &t.tok) {
            Some(Tok::Word(w)) if FILLERS.contains(&w.as_str()) => i += 1,
            Some(Tok::Punct('.' | ',' | '°')) => i += 1,
            _ => break,
        }
    }
    i
}

/// A year right after index i (after fillers), with the index past it.
fn year_after(tokens: &[Token], i: usize) -> Option<(i32, usize)> {
    let j = skip_fillers(tokens, i);
    let (n, len) = num(tokens, j)?;
    if len != 4 {
        return None;
    }
    Some((year_of(n, len)?, j + 1))
}

/// The date that starts at token i, if any.
pub(super) fn date_at(tokens: &[Token], i: usize, received: NaiveDate) -> Option<Found> {
    date_or_weekday_at(tokens, i, received, true)
}

/// The date, or with `weekdays` the week day, that starts at token i.
fn date_or_weekday_at(
    tokens: &[Token],
    i: usize,
    received: NaiveDate,
    weekdays: bool,
) -> Option<Found> {
    let found = |(date, end)| Found {
        date,
        start: i,
        end,
        weekday_only: false,
    };
    match &tokens.get(i)?.tok {
        Tok::Num(a, alen) => {
            let (a, alen) = (*a, *alen);
            iso_at(tokens, i, a, alen)
                .or_else(|| numeric_at(tokens, i, a, alen, received))
                .or_else(|| day_month_at(tokens, i, a, alen, received))
                .map(found)
        }
        Tok::Word(w) => match month(w) {
            Some(m) => month_day_at(tokens, i, m, received).map(found),
            None if weekdays => weekday_at(tokens, i, w, received),
            None => None,
        },
        Tok::Punct(_) => None,
    }
}

/// ISO 2026-03-12 at token i, which is the number `a` of `alen` digits; with the index past it.
fn iso_at(tokens: &[Token], i: usize, a: u32, alen: usize) -> Option<(NaiveDate, usize)> {
    if alen == 4
        && punct(tokens, i + 1) == Some('-')
        && let (Some((m, _)), Some('-'), Some((d, _))) =
            (num(tokens, i + 2), punct(tokens, i + 3), num(tokens, i + 4))
        && (2..=5).all(|k| tight(tokens, i + k - 1))
    {
        return Some((
            NaiveDate::from_ymd_opt(i32::try_from(a).ok()?, m, d)?,
            i + 5,
        ));
    }
    None
}

/// Numeric d.m.y, d/m/y, m/d/y at token i (the number `a` of `alen` digits).
fn numeric_at(
    tokens: &[Token],
    i: usize,
    a: u32,
    alen: usize,
    received: NaiveDate,
) -> Option<(NaiveDate, usize)> {
    let (Some(sep @ ('.' | '/' | '-')), Some((b, blen))) =
        (punct(tokens, i + 1), num(tokens, i + 2))
    else {
        return None;
    };
    if !(tight(tokens, i + 1) && tight(tokens, i + 2) && alen <= 2 && blen <= 2) {
        return None;
    }
    let year = match (punct(tokens, i + 3), num(tokens, i + 4)) {
        (Some(s), Some((y, ylen))) if s == sep && tight(tokens, i + 3) && tight(tokens, i + 4) => {
            Some((year_of(y, ylen)?, i + 5))
        }
        _ => None,
    };
    let end = year.map_or(i + 3, |(_, e)| e);
    let y = year.map(|(y, _)| y);
    if sep == '.' {
        // Day first; without a year it needs its closing dot ("15.03.").
        if y.is_none() && punct(tokens, i + 3) != Some('.') {
            return None;
        }
        return Some((ymd(y, b, a, received)?, end));
    }
    let date = soonest([ymd(y, b, a, received), ymd(y, a, b, received)], received)?;
    Some((date, end))
}

/// Day then month name at token i (the number `a` of `alen` digits): 12 March, 15. März 2026,
/// 15 de marzo de 2026, 12th of March.
fn day_month_at(
    tokens: &[Token],
    i: usize,
    a: u32,
    alen: usize,
    received: NaiveDate,
) -> Option<(NaiveDate, usize)> {
    if alen > 2 {
        return None;
    }
    let j = skip_fillers(tokens, i + 1);
    let m = word(tokens, j).and_then(month)?;
    let (y, end) = year_after(tokens, j + 1).map_or((None, j + 1), |(y, e)| (Some(y), e));
    Some((ymd(y, m, a, received)?, end))
}

/// Month name (of month `m`, at token i) then day: March 12, March 12th, 2026.
fn month_day_at(
    tokens: &[Token],
    i: usize,
    m: u32,
    received: NaiveDate,
) -> Option<(NaiveDate, usize)> {
    let j = if punct(tokens, i + 1) == Some('.') {
        i + 2
    } else {
        i + 1
    };
    let (d, dlen) = num(tokens, j)?;
    if dlen > 2 {
        return None;
    }
    let mut end = j + 1;
    if word(tokens, end).is_some_and(|w| FILLERS.contains(&w)) {
        end += 1;
    }
    let (y, end) = match (punct(tokens, end), num(tokens, end + 1)) {
        (Some(','), Some((y, 4))) => (year_of(y, 4), end + 2),
        _ => match num(tokens, end) {
            Some((y, 4)) => (year_of(y, 4), end + 1),
            _ => (None, end),
        },
    };
    Some((ymd(y, m, d, received)?, end))
}

/// The week day `w` at token i: the next such day after `received`, or the date right after
/// it ("Monday, March 16" is the date, not the week day).
fn weekday_at(tokens: &[Token], i: usize, w: &str, received: NaiveDate) -> Option<Found> {
    let day = WEEKDAYS
        .iter()
        .find(|(n, _)| *n == w)
        .map(|(_, d)| *d)
        .or_else(|| {
            let feira = (punct(tokens, i + 1) == Some('-') && word(tokens, i + 2) == Some("feira"))
                || word(tokens, i + 1) == Some("feira");
            PT_WEEKDAYS
                .iter()
                .find(|(n, _)| *n == w && feira)
                .map(|(_, d)| *d)
        })?;
    let after = skip_fillers(tokens, i + 1);
    if let Some(f) = date_or_weekday_at(tokens, after, received, false) {
        return Some(Found { start: i, ..f });
    }
    Some(Found {
        date: next_weekday(received, day)?,
        start: i,
        end: i + 1,
        weekday_only: true,
    })
}

pub(super) fn next_weekday(after: NaiveDate, day: Weekday) -> Option<NaiveDate> {
    (1..=7u64).find_map(|k| {
        after
            .checked_add_days(Days::new(k))
            .filter(|d| d.weekday() == day)
    })
}

pub(super) fn all_dates(tokens: &[Token], received: NaiveDate) -> Vec<Found> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        if let Some(f) = date_at(tokens, i, received) {
            i = f.end.max(i + 1);
            out.push(f);
        } else {
            i += 1;
        }
    }
    out
}

//! Dates in free text, in English, German, French, Spanish, Portuguese and Dutch: the return
//! date of an out-of-office reply and the snooze date of a "contact me later" reply.
//!
//! Rules, in the order a reader would guess them:
//! - ISO (`2026-03-12`) and month names (`March 12th`, `12 March 2026`, `15. März`,
//!   `15 mars`, `15 de marzo`, `15 de março de 2026`, `15 maart`) are read as written.
//! - `15.03.2026` and `15.03.` (dots) are day-first: that is how every language here that
//!   uses dots writes dates.
//! - `12/03/2026` and `12-03-2026` (slashes, dashes) are day-first in Europe and month-first
//!   in the US. When one number is above 12 it decides; otherwise, both readings are
//!   considered and the one falling soonest on or after the day the mail was received wins
//!   (absences and snoozes are short: 12/03 received on 2 March is 12 March, not 3 December).
//! - A date without a year is the next such date on or after the day received.
//! - Week days (`back Monday`, `lundi`) are the next such day after the day received.

use chrono::{Datelike, Days, Months, NaiveDate, Weekday};

use super::words::{MONTHS, NUMBER_WORDS, PT_WEEKDAYS, RETURN_WORDS, THROUGH_WORDS, WEEKDAYS};

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Num(u32, usize),
    Punct(char),
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    /// White space comes right before it.
    spaced: bool,
}

/// Reads at most this much text for dates.
const MAX_CHARS: usize = 8_000;

fn tokenize(text: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut chars = text.chars().take(MAX_CHARS).peekable();
    let mut spaced = true;
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            spaced = true;
            chars.next();
        } else if c.is_ascii_digit() {
            let mut s = String::new();
            while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                s.push(d);
                chars.next();
            }
            let n = if s.len() > 6 {
                u32::MAX
            } else {
                s.parse().unwrap_or(u32::MAX)
            };
            out.push(Token {
                tok: Tok::Num(n, s.len()),
                spaced,
            });
            spaced = false;
        } else if c.is_alphabetic() {
            let mut s = String::new();
            while let Some(&d) = chars.peek().filter(|d| d.is_alphabetic()) {
                s.extend(d.to_lowercase());
                chars.next();
            }
            out.push(Token {
                tok: Tok::Word(s),
                spaced,
            });
            spaced = false;
        } else {
            out.push(Token {
                tok: Tok::Punct(c),
                spaced,
            });
            chars.next();
            spaced = false;
        }
    }
    out
}

pub(crate) fn month(word: &str) -> Option<u32> {
    MONTHS.iter().find(|(n, _)| *n == word).map(|(_, m)| *m)
}

/// Words that may sit between a day and a month or a month and a year.
const FILLERS: &[&str] = &[
    "de", "of", "del", "th", "st", "nd", "rd", "er", "e", "º", "ª", "o",
];

/// A date found in text and where (token index of its first and past-last token).
#[derive(Debug, Clone, Copy)]
struct Found {
    date: NaiveDate,
    start: usize,
    end: usize,
    /// Only a week day: weaker than a date.
    weekday_only: bool,
}

fn word(tokens: &[Token], i: usize) -> Option<&str> {
    match tokens.get(i).map(|t| &t.tok) {
        Some(Tok::Word(w)) => Some(w),
        _ => None,
    }
}

fn num(tokens: &[Token], i: usize) -> Option<(u32, usize)> {
    match tokens.get(i).map(|t| &t.tok) {
        Some(Tok::Num(n, len)) => Some((*n, *len)),
        _ => None,
    }
}

fn punct(tokens: &[Token], i: usize) -> Option<char> {
    match tokens.get(i).map(|t| &t.tok) {
        Some(Tok::Punct(c)) => Some(*c),
        _ => None,
    }
}

/// Token i directly follows token i-1 (no space).
fn tight(tokens: &[Token], i: usize) -> bool {
    tokens.get(i).is_some_and(|t| !t.spaced)
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
fn date_at(tokens: &[Token], i: usize, received: NaiveDate) -> Option<Found> {
    date_or_weekday_at(tokens, i, received, true)
}

fn date_or_weekday_at(
    tokens: &[Token],
    i: usize,
    received: NaiveDate,
    weekdays: bool,
) -> Option<Found> {
    let found = |date, end| {
        Some(Found {
            date,
            start: i,
            end,
            weekday_only: false,
        })
    };
    match &tokens.get(i)?.tok {
        Tok::Num(a, alen) => {
            let (a, alen) = (*a, *alen);
            // ISO 2026-03-12.
            if alen == 4
                && punct(tokens, i + 1) == Some('-')
                && let (Some((m, _)), Some('-'), Some((d, _))) =
                    (num(tokens, i + 2), punct(tokens, i + 3), num(tokens, i + 4))
                && (2..=5).all(|k| tight(tokens, i + k - 1))
            {
                return found(
                    NaiveDate::from_ymd_opt(i32::try_from(a).ok()?, m, d)?,
                    i + 5,
                );
            }
            // Numeric d.m.y, d/m/y, m/d/y.
            if let (Some(sep @ ('.' | '/' | '-')), Some((b, blen))) =
                (punct(tokens, i + 1), num(tokens, i + 2))
                && tight(tokens, i + 1)
                && tight(tokens, i + 2)
                && alen <= 2
                && blen <= 2
            {
                let year = match (punct(tokens, i + 3), num(tokens, i + 4)) {
                    (Some(s), Some((y, ylen)))
                        if s == sep && tight(tokens, i + 3) && tight(tokens, i + 4) =>
                    {
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
                    return found(ymd(y, b, a, received)?, end);
                }
                let date = soonest([ymd(y, b, a, received), ymd(y, a, b, received)], received)?;
                return found(date, end);
            }
            // Day then month name: 12 March, 15. März 2026, 15 de marzo de 2026, 12th of March.
            if alen <= 2 {
                let j = skip_fillers(tokens, i + 1);
                if let Some(m) = word(tokens, j).and_then(month) {
                    let (y, end) =
                        year_after(tokens, j + 1).map_or((None, j + 1), |(y, e)| (Some(y), e));
                    return found(ymd(y, m, a, received)?, end);
                }
            }
            None
        }
        Tok::Word(w) => {
            if let Some(m) = month(w) {
                // Month name then day: March 12, March 12th, 2026.
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
                return found(ymd(y, m, d, received)?, end);
            }
            if !weekdays {
                return None;
            }
            let day = WEEKDAYS
                .iter()
                .find(|(n, _)| n == w)
                .map(|(_, d)| *d)
                .or_else(|| {
                    let feira = (punct(tokens, i + 1) == Some('-')
                        && word(tokens, i + 2) == Some("feira"))
                        || word(tokens, i + 1) == Some("feira");
                    PT_WEEKDAYS
                        .iter()
                        .find(|(n, _)| n == w && feira)
                        .map(|(_, d)| *d)
                })?;
            // "Monday, March 16" is the date, not the week day.
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
        Tok::Punct(_) => None,
    }
}

fn next_weekday(after: NaiveDate, day: Weekday) -> Option<NaiveDate> {
    (1..=7u64).find_map(|k| {
        after
            .checked_add_days(Days::new(k))
            .filter(|d| d.weekday() == day)
    })
}

fn all_dates(tokens: &[Token], received: NaiveDate) -> Vec<Found> {
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

/// The return date an out-of-office text states, if any.
pub fn return_date(text: &str, received: NaiveDate) -> Option<NaiveDate> {
    let tokens = tokenize(text);
    let found = all_dates(&tokens, received);
    let horizon = received.checked_add_days(Days::new(400))?;
    let usable = |d: NaiveDate| d >= received && d <= horizon;
    // 1. A date right after a return word ("until", "bis zum", "jusqu'au", "tot en met").
    for f in found.iter().filter(|f| usable(f.date)) {
        let from = f.start.saturating_sub(6);
        let before: Vec<&str> = (from..f.start).filter_map(|k| word(&tokens, k)).collect();
        let through = before.iter().any(|w| THROUGH_WORDS.contains(w))
            || before.windows(3).any(|w| w == ["tot", "en", "met"])
            || word(&tokens, f.end).is_some_and(|w| THROUGH_WORDS.contains(&w))
            || (punct(&tokens, f.start.wrapping_sub(1)) == Some('/')
                && word(&tokens, f.start.wrapping_sub(2)) == Some("m")
                && word(&tokens, f.start.wrapping_sub(4)) == Some("t"));
        if through {
            return f.date.checked_add_days(Days::new(1));
        }
        if before.iter().any(|w| RETURN_WORDS.contains(w)) {
            return Some(f.date);
        }
    }
    // 2. Otherwise the latest full date ahead, then the first week day.
    found
        .iter()
        .filter(|f| !f.weekday_only && usable(f.date))
        .map(|f| f.date)
        .max()
        .or_else(|| found.iter().find(|f| f.weekday_only).map(|f| f.date))
}

enum Unit {
    Day,
    Week,
    Month,
}

fn unit(w: &str) -> Option<Unit> {
    match w {
        "day" | "days" | "tag" | "tagen" | "tage" | "jour" | "jours" | "día" | "días" | "dia"
        | "dias" | "dag" | "dagen" => Some(Unit::Day),
        "week" | "weeks" | "woche" | "wochen" | "semaine" | "semaines" | "semana" | "semanas"
        | "weken" => Some(Unit::Week),
        "month" | "months" | "monat" | "monaten" | "monate" | "mois" | "mes" | "meses" | "mês"
        | "maand" | "maanden" => Some(Unit::Month),
        _ => None,
    }
}

fn add(received: NaiveDate, n: u32, unit: &Unit) -> Option<NaiveDate> {
    match unit {
        Unit::Day => received.checked_add_days(Days::new(u64::from(n))),
        Unit::Week => received.checked_add_days(Days::new(u64::from(n) * 7)),
        Unit::Month => received.checked_add_months(Months::new(n)),
    }
}

fn first_of_next_month(d: NaiveDate) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(d.year(), d.month(), 1)?.checked_add_months(Months::new(1))
}

fn first_of_next_quarter(d: NaiveDate) -> Option<NaiveDate> {
    let start_month = (d.month() - 1) / 3 * 3 + 1;
    NaiveDate::from_ymd_opt(d.year(), start_month, 1)?.checked_add_months(Months::new(3))
}

fn next_monday(d: NaiveDate) -> Option<NaiveDate> {
    next_weekday(d, Weekday::Mon)
}

/// "next week", "nächsten Monat", "le trimestre prochain", "el próximo año"… at token i.
fn next_period(tokens: &[Token], i: usize, received: NaiveDate) -> Option<(NaiveDate, usize)> {
    const NEXT: &[&str] = &[
        "next",
        "nächste",
        "nächsten",
        "nächstes",
        "nächster",
        "prochain",
        "prochaine",
        "próximo",
        "próxima",
        "proximo",
        "proxima",
        "volgende",
        "volgend",
        "coming",
    ];
    const AFTER: &[&str] = &["prochain", "prochaine", "próximo", "próxima", "que"];
    let w = word(tokens, i)?;
    let period = |p: &str| -> Option<NaiveDate> {
        match p {
            "week" | "woche" | "semaine" | "semana" => next_monday(received),
            "month" | "monat" | "mois" | "mes" | "mês" | "maand" => first_of_next_month(received),
            "quarter" | "quartal" | "trimestre" | "kwartaal" => first_of_next_quarter(received),
            "year" | "jahr" | "année" | "annee" | "an" | "año" | "ano" | "jaar" => {
                NaiveDate::from_ymd_opt(received.year() + 1, 1, 1)
            }
            _ => None,
        }
    };
    if NEXT.contains(&w) {
        let p = word(tokens, i + 1)?;
        return period(p).map(|d| (d, i + 2));
    }
    // "le mois prochain", "el mes que viene", "o mês que vem".
    let p = period(w)?;
    let after = word(tokens, i + 1)?;
    AFTER.contains(&after).then_some((p, i + 2))
}

/// "in two weeks", "in 3 months", "dans deux semaines", "over 2 weken", "daqui a duas
/// semanas" at token i.
fn in_n_units(tokens: &[Token], i: usize, received: NaiveDate) -> Option<(NaiveDate, usize)> {
    const IN: &[&str] = &[
        "in", "dans", "en", "em", "over", "within", "de", "a", "after",
    ];
    if !IN.contains(&word(tokens, i)?) {
        return None;
    }
    let mut j = i + 1;
    if word(tokens, j).is_some_and(|w| matches!(w, "the" | "about" | "ca" | "roughly")) {
        j += 1;
    }
    let number = |k: usize| match &tokens.get(k)?.tok {
        Tok::Num(n, len) if *len <= 3 => Some(*n),
        Tok::Word(w) => NUMBER_WORDS.iter().find(|(n, _)| n == w).map(|(_, v)| *v),
        _ => None,
    };
    let mut n = number(j)?;
    // "a couple of weeks", "a few days".
    if n == 1
        && let Some(m) = number(j + 1).filter(|m| *m > 1)
    {
        n = m;
        j += 1;
    }
    j += 1;
    if word(tokens, j).is_some_and(|w| matches!(w, "of" | "de")) {
        j += 1;
    }
    let u = unit(word(tokens, j)?)?;
    Some((add(received, n.min(60), &u)?, j + 1))
}

/// "in January", "im März", "en janvier", "em março", "in Q3": the first of that month.
fn in_month(tokens: &[Token], i: usize, received: NaiveDate) -> Option<(NaiveDate, usize)> {
    const IN: &[&str] = &[
        "in", "im", "en", "em", "around", "early", "mid", "after", "until",
    ];
    let w = word(tokens, i)?;
    if !IN.contains(&w) {
        return None;
    }
    let next = word(tokens, i + 1)?;
    if let Some(q) = next.strip_prefix('q') {
        let q: u32 = match num(tokens, i + 2) {
            Some((n, 1)) if q.is_empty() && (1..=4).contains(&n) => n,
            _ => return None,
        };
        let d = next_on_or_after(received, (q - 1) * 3 + 1, 1)?;
        return Some((d, i + 3));
    }
    let m = month(next)?;
    // A month name followed by a day is a date, read elsewhere.
    if num(tokens, i + 2).is_some_and(|(_, len)| len <= 2) {
        return None;
    }
    let start = NaiveDate::from_ymd_opt(received.year(), received.month(), 1)?;
    let d = (0..3)
        .find_map(|k| NaiveDate::from_ymd_opt(received.year() + k, m, 1).filter(|d| *d > start))?;
    let d = if w == "after" {
        d.checked_add_months(Months::new(1))?
    } else {
        d
    };
    Some((d, i + 2))
}

/// "after the 15th", "nach dem 15.", "après le 15", "después del 15": the day after.
fn after_the_nth(tokens: &[Token], i: usize, received: NaiveDate) -> Option<(NaiveDate, usize)> {
    const AFTER: &[&str] = &[
        "after", "nach", "après", "apres", "después", "despues", "depois", "na",
    ];
    if !AFTER.contains(&word(tokens, i)?) {
        return None;
    }
    let j = if word(tokens, i + 1)
        .is_some_and(|w| matches!(w, "the" | "dem" | "le" | "del" | "el" | "do" | "de"))
    {
        i + 2
    } else {
        i + 1
    };
    let (n, len) = num(tokens, j)?;
    if len > 2 || !(1..=31).contains(&n) {
        return None;
    }
    // Not a full date ("after March 15" is read as a date).
    if date_at(tokens, j, received).is_some() {
        return None;
    }
    let mut d = received;
    for _ in 0..3 {
        if let Some(x) = NaiveDate::from_ymd_opt(d.year(), d.month(), n).filter(|x| *x >= received)
        {
            return Some((x.checked_add_days(Days::new(1))?, j + 1));
        }
        d = first_of_next_month(d)?;
    }
    None
}

/// The date a "contact me later" text asks for, if it names one: the first time expression
/// in the text (relative ones count from `received`).
pub fn later_date(text: &str, received: NaiveDate) -> Option<NaiveDate> {
    let tokens = tokenize(text);
    for i in 0..tokens.len() {
        if let Some((d, _)) = next_period(&tokens, i, received)
            .or_else(|| in_n_units(&tokens, i, received))
            .or_else(|| in_month(&tokens, i, received))
            .or_else(|| after_the_nth(&tokens, i, received))
        {
            return Some(d);
        }
        if let Some(f) = date_at(&tokens, i, received)
            && f.date >= received
        {
            let after = i > 0
                && word(&tokens, i - 1).is_some_and(|w| {
                    matches!(
                        w,
                        "after"
                            | "nach"
                            | "après"
                            | "apres"
                            | "después"
                            | "despues"
                            | "depois"
                            | "na"
                    )
                });
            return if after {
                f.date.checked_add_days(Days::new(1))
            } else {
                Some(f.date)
            };
        }
    }
    None
}

/// True when the text holds a time expression `later_date` reads (or a vaguer one such as
/// "later this year", "after the holidays").
pub fn mentions_time(text: &str, received: NaiveDate) -> bool {
    let lower = text.to_lowercase();
    later_date(text, received).is_some()
        || [
            "later this year",
            "later in the year",
            "after the holidays",
            "after summer",
            "after the summer",
            "end of the year",
            "end of the month",
            "new year",
            "in a while",
            "few months",
            "couple of months",
            "couple months",
            "später",
            "plus tard",
            "más adelante",
            "mais tarde",
            "later dit jaar",
            "nach den ferien",
            "après l'été",
            "no ano que vem",
        ]
        .iter()
        .any(|p| lower.contains(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("a valid test date")
    }

    #[test]
    fn return_dates_in_six_languages() {
        let r = d(2026, 3, 2);
        for (text, want) in [
            ("I will be back on March 12.", d(2026, 3, 12)),
            ("Out of the office, returning 12/03/2026.", d(2026, 3, 12)),
            ("Ich bin bis 15.03.2026 nicht im Büro.", d(2026, 3, 15)),
            ("Ich bin bis zum 15. März nicht erreichbar.", d(2026, 3, 15)),
            ("Je suis absent jusqu'au 15 mars inclus.", d(2026, 3, 16)),
            ("Estaré fuera hasta el 15 de marzo.", d(2026, 3, 15)),
            ("Estou ausente até 15 de março de 2026.", d(2026, 3, 15)),
            ("Ik ben afwezig tot en met 15 maart.", d(2026, 3, 16)),
            ("I'm away through Friday, March 13th, 2026", d(2026, 3, 14)),
            ("Back 2026-03-20", d(2026, 3, 20)),
            ("Away from 3 March to 10 March 2026", d(2026, 3, 10)),
            ("I'm back Monday", d(2026, 3, 9)),
            ("Back on 02/01", d(2027, 1, 2)),
        ] {
            assert_eq!(return_date(text, r), Some(want), "{text}");
        }
        assert_eq!(
            return_date("I am out of the office with limited access.", r),
            None
        );
        // A date without a year that has passed this year is next year's.
        assert_eq!(return_date("back on 1 February", r), Some(d(2027, 2, 1)));
    }

    proptest::proptest! {
        #[test]
        fn any_text_gives_a_date_or_none_without_panic(text in "\\PC{0,300}") {
            let r = d(2026, 3, 2);
            let _ = return_date(&text, r);
            let _ = later_date(&text, r);
        }

        #[test]
        fn date_like_text_gives_a_date_or_none_without_panic(
            text in "((until|bis|jusqu'au|hasta|até|tot en met|after|in|next|monday|Q|de|[0-9]{1,5}|[./-]|März|march|maart|two|weeks|quarter) ?){0,12}"
        ) {
            let r = d(2026, 12, 31);
            let _ = return_date(&text, r);
            let _ = later_date(&text, r);
        }
    }

    #[test]
    fn many_week_days_in_a_row_are_cheap() {
        let text = "monday ".repeat(2_000);
        assert_eq!(return_date(&text, d(2026, 3, 2)), Some(d(2026, 3, 9)));
    }

    #[test]
    fn later_dates_from_relative_phrases() {
        let r = d(2026, 3, 2);
        for (text, want) in [
            ("reach out next quarter", d(2026, 4, 1)),
            ("ping me in two weeks", d(2026, 3, 16)),
            ("circle back in January", d(2027, 1, 1)),
            ("try me again next month", d(2026, 4, 1)),
            ("contact me after the 15th", d(2026, 3, 16)),
            ("let's talk after March 20", d(2026, 3, 21)),
            ("melden Sie sich nächsten Monat", d(2026, 4, 1)),
            ("recontactez-moi le trimestre prochain", d(2026, 4, 1)),
            ("escríbeme en dos semanas", d(2026, 3, 16)),
            ("neem over 3 weken contact op", d(2026, 3, 23)),
            ("try again in Q3", d(2026, 7, 1)),
        ] {
            assert_eq!(later_date(text, r), Some(want), "{text}");
        }
        assert_eq!(later_date("maybe later", r), None);
    }
}

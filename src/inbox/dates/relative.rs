//! Dates said in relation to the day a mail was received: "next quarter", "in two weeks",
//! "in January", "after the 15th".

use chrono::{Datelike, Days, Months, NaiveDate, Weekday};

use super::absolute::{date_at, month, next_on_or_after, next_weekday};
use super::tokens::{Tok, Token, num, word};
use crate::inbox::words::NUMBER_WORDS;

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
pub(super) fn next_period(
    tokens: &[Token],
    i: usize,
    received: NaiveDate,
) -> Option<(NaiveDate, usize)> {
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
pub(super) fn in_n_units(
    tokens: &[Token],
    i: usize,
    received: NaiveDate,
) -> Option<(NaiveDate, usize)> {
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
pub(super) fn in_month(
    tokens: &[Token],
    i: usize,
    received: NaiveDate,
) -> Option<(NaiveDate, usize)> {
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
pub(super) fn after_the_nth(
    tokens: &[Token],
    i: usize,
    received: NaiveDate,
) -> Option<(NaiveDate, usize)> {
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

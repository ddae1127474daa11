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

mod absolute;
mod relative;
mod tokens;

use chrono::{Days, NaiveDate};

use super::words::{RETURN_WORDS, THROUGH_WORDS};
use absolute::{all_dates, date_at};
use relative::{after_the_nth, in_month, in_n_units, next_period};
use tokens::{punct, tokenize, word};

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

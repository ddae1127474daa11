//! How long a step waits before it goes: `0`, `30 minutes`, `2 hours`, `3 business days`, `1 week`.
//!
//! A [`Wait`] is parsed once, at the edge (a sequence file, the HTTP API), and can only hold a
//! value the scheduler knows how to apply. Its [`Display`](fmt::Display) form is canonical and
//! parses back to the same value, so it is also how a wait is stored and shown.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// The largest amount a wait may have, in any unit.
///
/// Ten thousand of the smallest unit is about a week, of the largest about two centuries: enough
/// for any sequence, small enough that applying a wait never overflows a date.
pub const MAX_AMOUNT: u32 = 10_000;

/// The unit of a [`Wait`].
///
/// Minutes and hours are elapsed time. Days and weeks are calendar days in the lead's time zone,
/// and business days are Monday to Friday less the window's holidays; both keep the local time
/// of day (see [`SendWindow::apply_wait`](super::SendWindow::apply_wait)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitUnit {
    Minutes,
    Hours,
    Days,
    BusinessDays,
    Weeks,
}

impl WaitUnit {
    /// All units, smallest first.
    pub const ALL: [WaitUnit; 5] = [
        WaitUnit::Minutes,
        WaitUnit::Hours,
        WaitUnit::Days,
        WaitUnit::BusinessDays,
        WaitUnit::Weeks,
    ];

    /// The unit's canonical name for `amount` of it: "minute" for 1, "minutes" otherwise.
    pub fn name(self, amount: u32) -> &'static str {
        let one = amount == 1;
        match self {
            WaitUnit::Minutes if one => "minute",
            WaitUnit::Minutes => "minutes",
            WaitUnit::Hours if one => "hour",
            WaitUnit::Hours => "hours",
            WaitUnit::Days if one => "day",
            WaitUnit::Days => "days",
            WaitUnit::BusinessDays if one => "business day",
            WaitUnit::BusinessDays => "business days",
            WaitUnit::Weeks if one => "week",
            WaitUnit::Weeks => "weeks",
        }
    }
}

/// How long a step waits after the previous one (or after enrollment, for the first step).
///
/// `amount` is at most [`MAX_AMOUNT`] when parsed; code that builds a `Wait` by hand may use any
/// amount, and applying it saturates instead of overflowing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wait {
    pub amount: u32,
    pub unit: WaitUnit,
}

impl Wait {
    /// No wait: the step is due as soon as the send window is open.
    pub const ZERO: Wait = Wait {
        amount: 0,
        unit: WaitUnit::Minutes,
    };

    /// Whether this wait is no wait at all, whatever its unit.
    pub fn is_zero(&self) -> bool {
        self.amount == 0
    }
}

impl fmt::Display for Wait {
    /// The canonical text: `0`, `1 minute`, `30 minutes`, `1 business day`, `2 weeks`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_zero() {
            f.write_str("0")
        } else {
            write!(f, "{} {}", self.amount, self.unit.name(self.amount))
        }
    }
}

/// Why a text is not a wait, as a sentence for the person who wrote it.
///
/// The message quotes the text but not where it came from: the caller adds the file, line and
/// step.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct WaitError {
    pub message: String,
}

impl WaitError {
    fn new(message: impl Into<String>) -> Self {
        WaitError {
            message: message.into(),
        }
    }
}

const EXPECTED_UNITS: &str = "minutes, hours, days, business days, weeks";
const EXAMPLE: &str = r#"write a number and a unit, e.g. "2 days" or "3 business days""#;

/// Every spelling of every unit that parsing accepts, after lowercasing and turning `-`/`_`
/// into spaces. The first ones of each unit are also the ones suggested for typos.
const UNIT_SPELLINGS: &[(&str, WaitUnit)] = &[
    ("minutes", WaitUnit::Minutes),
    ("minute", WaitUnit::Minutes),
    ("mins", WaitUnit::Minutes),
    ("min", WaitUnit::Minutes),
    ("m", WaitUnit::Minutes),
    ("hours", WaitUnit::Hours),
    ("hour", WaitUnit::Hours),
    ("hrs", WaitUnit::Hours),
    ("hr", WaitUnit::Hours),
    ("h", WaitUnit::Hours),
    ("days", WaitUnit::Days),
    ("day", WaitUnit::Days),
    ("d", WaitUnit::Days),
    ("business days", WaitUnit::BusinessDays),
    ("business day", WaitUnit::BusinessDays),
    ("workdays", WaitUnit::BusinessDays),
    ("workday", WaitUnit::BusinessDays),
    ("working days", WaitUnit::BusinessDays),
    ("working day", WaitUnit::BusinessDays),
    ("bd", WaitUnit::BusinessDays),
    ("weeks", WaitUnit::Weeks),
    ("week", WaitUnit::Weeks),
    ("w", WaitUnit::Weeks),
];

impl FromStr for Wait {
    type Err = WaitError;

    /// Parses `0`, or a whole number up to [`MAX_AMOUNT`] and a unit, case-insensitively and
    /// with or without a space between them (`30 minutes`, `30m`, `3 Business Days`, `1w`).
    /// A zero amount in any unit is [`Wait::ZERO`].
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let shown = input.split_whitespace().collect::<Vec<_>>().join(" ");
        if shown.is_empty() {
            return Err(WaitError::new(format!(
                r#"the wait is empty (write "0" to send as soon as the window opens, or {EXAMPLE})"#
            )));
        }
        let text = shown.to_lowercase();
        if text.starts_with(['-', '\u{2212}']) && text.contains(|c: char| c.is_ascii_digit()) {
            return Err(WaitError::new(format!(
                r#""{shown}" is negative; a wait counts forward from the previous step ({EXAMPLE})"#
            )));
        }

        let digits_end = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let (digits, after) = text.split_at(digits_end);
        if let Some(fraction) = after.strip_prefix('.')
            && (!digits.is_empty() || fraction.starts_with(|c: char| c.is_ascii_digit()))
        {
            return Err(fractional_error(&shown, digits, fraction));
        }
        if after.starts_with(',') && !digits.is_empty() {
            return Err(WaitError::new(format!(
                r#""{shown}" has a comma in its number; write a whole number without separators, e.g. "1000 minutes""#
            )));
        }
        if digits.is_empty() {
            return Err(WaitError::new(format!(
                r#""{shown}" is not a wait ({EXAMPLE})"#
            )));
        }

        // A number too big for u32 fails to parse and is reported as too large.
        let significant = digits.trim_start_matches('0');
        let amount = match significant.parse::<u32>() {
            Ok(amount) if amount <= MAX_AMOUNT => amount,
            _ if significant.is_empty() => 0,
            _ => {
                return Err(WaitError::new(format!(
                    r#""{shown}" is too long a wait: at most {MAX_AMOUNT} of a unit (use a larger unit)"#
                )));
            }
        };

        let rest = after.trim();
        if rest.is_empty() {
            return if amount == 0 {
                Ok(Wait::ZERO)
            } else {
                Err(WaitError::new(format!(
                    r#""{shown}" has no unit (write e.g. "{amount} days" or "{amount} business days")"#
                )))
            };
        }
        let unit = parse_unit(rest).map_err(|why| {
            // Quote the unit as the user wrote it. Lowercasing keeps the leading ASCII digits
            // where they were, so `digits_end` is a boundary in `shown` too.
            let written = shown.get(digits_end..).map_or(rest, str::trim);
            unit_error(&shown, written, why)
        })?;
        Ok(if amount == 0 {
            Wait::ZERO
        } else {
            Wait { amount, unit }
        })
    }
}

/// Why a unit was not recognized; the message is built by [`unit_error`].
enum UnitProblem {
    Unknown,
    MoreNumbers,
    TooCoarse,
    TooFine,
}

fn normalize_unit(text: &str) -> String {
    text.replace(['-', '_'], " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn parse_unit(rest: &str) -> Result<WaitUnit, UnitProblem> {
    let unit = normalize_unit(rest);
    if let Some(&(_, unit)) = UNIT_SPELLINGS.iter().find(|(s, _)| *s == unit) {
        return Ok(unit);
    }
    if unit.contains(|c: char| c.is_ascii_digit()) {
        return Err(UnitProblem::MoreNumbers);
    }
    let coarse = [
        "month", "months", "mo", "mos", "year", "years", "yr", "yrs", "y",
    ];
    let fine = ["second", "seconds", "sec", "secs", "s"];
    if coarse.contains(&unit.as_str()) {
        Err(UnitProblem::TooCoarse)
    } else if fine.contains(&unit.as_str()) {
        Err(UnitProblem::TooFine)
    } else {
        Err(UnitProblem::Unknown)
    }
}

fn unit_error(shown: &str, written: &str, problem: UnitProblem) -> WaitError {
    let message = match problem {
        UnitProblem::MoreNumbers => format!(
            r#""{shown}" has more than one number; write one number and one unit, e.g. "150 minutes" rather than "2 hours 30 minutes""#
        ),
        UnitProblem::TooCoarse => format!(
            r#""{shown}": months and years vary in length, so they are not wait units; write weeks or days, e.g. "4 weeks""#
        ),
        UnitProblem::TooFine => format!(
            r#""{shown}": waits are counted in whole minutes at the finest; write e.g. "1 minute""#
        ),
        UnitProblem::Unknown => {
            let mut message = format!(r#"unknown unit "{written}" (expected {EXPECTED_UNITS})"#);
            if let Some(suggestion) = suggest_unit(&normalize_unit(&written.to_lowercase())) {
                message.push_str(&format!(r#"; did you mean "{suggestion}"?"#));
            }
            message
        }
    };
    WaitError::new(message)
}

/// The accepted unit spelling closest to a misspelled one, when it is close enough to be what
/// the writer meant.
fn suggest_unit(unit: &str) -> Option<&'static str> {
    // Abbreviations are too short to suggest: every short typo would be one edit from them.
    let candidates = UNIT_SPELLINGS
        .iter()
        .map(|(s, _)| *s)
        .filter(|s| s.len() >= 3);
    if unit.len() >= 3
        && let Some(prefixed) = candidates.clone().find(|s| s.starts_with(unit))
    {
        return Some(prefixed);
    }
    let allowed = 1 + unit.chars().count() / 5;
    candidates
        .map(|s| (strsim::damerau_levenshtein(unit, s), s))
        .filter(|(distance, _)| *distance <= allowed)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, s)| s)
}

/// The error for a number with a decimal point, suggesting the same wait in a smaller unit when
/// it is a whole number there (`1.5 days` → `36 hours`).
fn fractional_error(shown: &str, whole: &str, fraction: &str) -> WaitError {
    let fraction_digits_end = fraction
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(fraction.len());
    let (fraction_digits, rest) = fraction.split_at(fraction_digits_end);
    let suggestion = parse_unit(rest.trim())
        .ok()
        .and_then(|unit| smaller_whole_wait(whole, fraction_digits, unit));
    let message = match suggestion {
        Some(wait) => format!(r#""{shown}" is not a whole number; write "{wait}" instead"#),
        None => format!(r#""{shown}" is not a whole number; waits count whole units ({EXAMPLE})"#),
    };
    WaitError::new(message)
}

/// `whole.fraction` of `unit`, written as a whole number of the largest unit (this one or a
/// smaller) that holds it exactly, if any does within [`MAX_AMOUNT`].
fn smaller_whole_wait(whole: &str, fraction: &str, unit: WaitUnit) -> Option<Wait> {
    // Exact arithmetic on the decimal: value = numerator / 10^scale.
    if whole.len() + fraction.len() > 30 {
        return None;
    }
    let scale = u32::try_from(fraction.len()).ok()?;
    let numerator: u128 = format!("{whole}{fraction}").parse().ok()?;
    let denominator = 10u128.checked_pow(scale)?;
    let mut factor: u128 = 1;
    let mut unit = unit;
    loop {
        let scaled = numerator.checked_mul(factor)?;
        if scaled % denominator == 0 {
            let amount = u32::try_from(scaled / denominator).ok()?;
            return (amount > 0 && amount <= MAX_AMOUNT).then_some(Wait { amount, unit });
        }
        let (smaller, times) = match unit {
            WaitUnit::Weeks => (WaitUnit::Days, 7),
            WaitUnit::Days => (WaitUnit::Hours, 24),
            WaitUnit::Hours => (WaitUnit::Minutes, 60),
            WaitUnit::Minutes | WaitUnit::BusinessDays => return None,
        };
        factor = factor.checked_mul(times)?;
        unit = smaller;
    }
}

impl Serialize for Wait {
    /// As the canonical text, e.g. `"3 business days"`.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Wait {
    /// From any text [`FromStr`] accepts. A bare number is read as its text, so `wait: 0` in
    /// YAML is [`Wait::ZERO`] and `wait: 3` is refused for lacking a unit.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct WaitVisitor;

        impl Visitor<'_> for WaitVisitor {
            type Value = Wait;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(r#"a wait such as "0", "2 hours" or "3 business days""#)
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Wait, E> {
                v.parse().map_err(E::custom)
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Wait, E> {
                self.visit_str(&v.to_string())
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Wait, E> {
                self.visit_str(&v.to_string())
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Wait, E> {
                self.visit_str(&v.to_string())
            }
        }

        deserializer.deserialize_any(WaitVisitor)
    }
}

#[cfg(test)]
mod tests;

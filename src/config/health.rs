//! `[health]`: when a sending mailbox is paused for its own good. The defaults are what a
//! careful sender would choose: hard bounces above 3% of the last 100 sends (a list that was
//! not clean), complaints above 0.3% of the last 1,000 (Gmail's published limit for bulk
//! senders), or 3 refusals of the sender (block list, authentication, reputation) in a day.

use serde::Deserialize;
use toml::Spanned;

use super::problems::Problems;

/// The limits of a mailbox's health.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Health {
    /// Hard bounces per send above which the mailbox pauses.
    pub hard_bounce_rate: f64,
    /// Over how many of the mailbox's latest sends hard bounces are counted.
    pub bounce_window: i64,
    /// Complaints per send above which the mailbox pauses.
    pub complaint_rate: f64,
    /// Over how many of the mailbox's latest sends complaints are counted.
    pub complaint_window: i64,
    /// Refusals of the sender within a day at which the mailbox pauses.
    pub blocks_per_day: i64,
}

impl Default for Health {
    fn default() -> Self {
        Health {
            hard_bounce_rate: 0.03,
            bounce_window: 100,
            complaint_rate: 0.003,
            complaint_window: 1_000,
            blocks_per_day: 3,
        }
    }
}

/// `[health]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHealth {
    hard_bounce_rate: Option<Spanned<f64>>,
    bounce_window: Option<Spanned<i64>>,
    complaint_rate: Option<Spanned<f64>>,
    complaint_window: Option<Spanned<i64>>,
    blocks_per_day: Option<Spanned<i64>>,
}

impl RawHealth {
    /// The limits, or what is wrong with them (each naming its key).
    pub(super) fn resolve(self) -> (Health, Problems) {
        let d = Health::default();
        let mut problems = Vec::new();
        let mut rate = |key: &str, v: Option<Spanned<f64>>, default: f64| match v {
            Some(r) if *r.get_ref() > 0.0 && *r.get_ref() < 1.0 => *r.get_ref(),
            Some(r) => {
                let (span, r) = (r.span(), r.into_inner());
                problems.push((
                    Some(span),
                    format!(
                        "health.{key} = {r}: a rate is a fraction between 0 and 1, e.g. 0.03 for 3%"
                    ),
                ));
                default
            }
            None => default,
        };
        let hard_bounce_rate = rate(
            "hard_bounce_rate",
            self.hard_bounce_rate,
            d.hard_bounce_rate,
        );
        let complaint_rate = rate("complaint_rate", self.complaint_rate, d.complaint_rate);
        let mut count = |key: &str, v: Option<Spanned<i64>>, default: i64| match v {
            Some(n) if (1..=1_000_000).contains(n.get_ref()) => n.into_inner(),
            Some(n) => {
                let (span, n) = (n.span(), n.into_inner());
                problems.push((
                    Some(span),
                    format!("health.{key} = {n}: must be a whole number from 1 to 1000000"),
                ));
                default
            }
            None => default,
        };
        let health = Health {
            hard_bounce_rate,
            bounce_window: count("bounce_window", self.bounce_window, d.bounce_window),
            complaint_rate,
            complaint_window: count(
                "complaint_window",
                self.complaint_window,
                d.complaint_window,
            ),
            blocks_per_day: count("blocks_per_day", self.blocks_per_day, d.blocks_per_day),
        };
        (health, problems)
    }
}

//! The statistics of a report: percentiles of waits, and the A/B comparison of two reply
//! rates with a 95% confidence interval and a plain verdict.

use serde::Serialize;

/// z for a two-sided 95% interval.
const Z_95: f64 = 1.959_964;
/// z for 80% power.
const Z_POWER_80: f64 = 0.841_621;

/// The median of `values` (the mean of the two middle ones for an even count), sorted in place.
pub fn median(values: &mut [i64]) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let n = values.len();
    Some(if !n.is_multiple_of(2) {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2
    })
}

/// The `p`th percentile by nearest rank: the smallest value with at least p% of the values at
/// or below it. `values` must be sorted.
pub fn percentile_sorted(values: &[i64], p: u32) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    let rank = (u64::from(p) * values.len() as u64).div_ceil(100).max(1) as usize;
    values.get(rank - 1).copied()
}

/// `part / whole`, none of nothing.
pub fn rate(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// The Wilson score interval (95%) of `successes` out of `n`.
pub fn wilson(successes: i64, n: i64) -> Option<(f64, f64)> {
    if n <= 0 {
        return None;
    }
    let n = n as f64;
    let p = successes as f64 / n;
    let z2 = Z_95 * Z_95;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = Z_95 * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / (1.0 + z2 / n);
    Some(((centre - half).max(0.0), (centre + half).min(1.0)))
}

/// One arm of an A/B test.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Arm {
    /// The variant's name (`a`, `b`…).
    pub variant: String,
    /// Emails sent.
    pub sent: i64,
    /// Replies credited to it.
    pub replied: i64,
    /// `replied / sent`.
    pub reply_rate: Option<f64>,
    /// 95% interval of the reply rate (Wilson).
    pub interval: Option<(f64, f64)>,
}

impl Arm {
    /// An arm from its counts.
    pub fn new(variant: &str, sent: i64, replied: i64) -> Arm {
        Arm {
            variant: variant.to_string(),
            sent,
            replied,
            reply_rate: rate(replied, sent),
            interval: wilson(replied, sent),
        }
    }
}

/// Two (or more) variants of a step compared: the leader against the runner-up.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// The arms, best reply rate first.
    pub arms: Vec<Arm>,
    /// Leader's rate minus runner-up's.
    pub difference: Option<f64>,
    /// 95% interval of that difference.
    pub interval: Option<(f64, f64)>,
    /// Whether the interval excludes 0.
    pub significant: bool,
    /// About how many more sends (both arms together) it takes to tell, when not yet
    /// significant.
    pub more_sends_needed: Option<u64>,
    /// In words: "B ahead, not yet significant: needs about 420 more sends".
    pub verdict: String,
}

/// Compares `arms` (at least two): the best reply rate against the next best.
pub fn compare(mut arms: Vec<Arm>) -> Comparison {
    arms.sort_by(|a, b| {
        let (ra, rb) = (a.reply_rate.unwrap_or(-1.0), b.reply_rate.unwrap_or(-1.0));
        rb.total_cmp(&ra).then_with(|| a.variant.cmp(&b.variant))
    });
    let upper = |v: &str| v.to_uppercase();
    let mut out = Comparison {
        arms,
        difference: None,
        interval: None,
        significant: false,
        more_sends_needed: None,
        verdict: String::new(),
    };
    if out.arms.len() < 2 {
        out.verdict = "only one variant".into();
        return out;
    }
    if let Some(empty) = out.arms.iter().find(|a| a.sent == 0) {
        out.verdict = format!("too early: {} has no sends yet", upper(&empty.variant));
        return out;
    }
    let (a, b) = (&out.arms[0], &out.arms[1]);
    let (n1, n2) = (a.sent as f64, b.sent as f64);
    let (p1, p2) = (a.replied as f64 / n1, b.replied as f64 / n2);
    let d = p1 - p2;
    let se = (p1 * (1.0 - p1) / n1 + p2 * (1.0 - p2) / n2).sqrt();
    out.difference = Some(d);
    out.interval = Some((d - Z_95 * se, d + Z_95 * se));
    if a.replied == 0 && b.replied == 0 {
        out.verdict = "no replies yet: too early to tell".into();
        return out;
    }
    if d == 0.0 {
        out.verdict = format!(
            "{} and {} even so far ({:.1}% each)",
            upper(&a.variant),
            upper(&b.variant),
            p1 * 100.0
        );
        return out;
    }
    out.significant = se > 0.0 && d - Z_95 * se > 0.0;
    if out.significant {
        out.verdict = format!(
            "{} ahead: {:.1}% vs {:.1}% replies, significant at 95%",
            upper(&a.variant),
            p1 * 100.0,
            p2 * 100.0
        );
    } else {
        // Sends per arm for 80% power to see this difference at 95% (two proportions).
        let per_arm = (Z_95 + Z_POWER_80).powi(2) * (p1 * (1.0 - p1) + p2 * (1.0 - p2)) / (d * d);
        let per_arm = per_arm.ceil();
        let more = (per_arm - n1).max(0.0) + (per_arm - n2).max(0.0);
        let more = (more.max(1.0) as u64).min(u64::MAX / 2);
        out.more_sends_needed = Some(more);
        out.verdict = format!(
            "{} ahead, not yet significant: needs about {} more sends",
            upper(&a.variant),
            round_nicely(more)
        );
    }
    out
}

/// 1234 → 1,200; 87 → 87: an estimate shown with two significant digits (rounded).
fn round_nicely(n: u64) -> String {
    let mut v = n;
    let mut scale = 1;
    while v >= 100 {
        v = (v + 5) / 10;
        scale *= 10;
    }
    group_thousands(v * scale)
}

/// 12345 → "12,345".
pub fn group_thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_nearest_rank_percentiles() {
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [5]), Some(5));
        assert_eq!(median(&mut [9, 1, 5]), Some(5));
        assert_eq!(median(&mut [4, 1, 3, 2]), Some(2)); // (2 + 3) / 2 in whole seconds
        let v: Vec<i64> = (1..=10).collect();
        assert_eq!(percentile_sorted(&v, 90), Some(9));
        assert_eq!(percentile_sorted(&v, 100), Some(10));
        assert_eq!(percentile_sorted(&[7], 90), Some(7));
        let v: Vec<i64> = (1..=11).collect();
        assert_eq!(percentile_sorted(&v, 90), Some(10)); // ceil(9.9) = 10th
    }

    #[test]
    fn wilson_interval_matches_a_textbook_value() {
        // 10 of 100: Wilson 95% is about [0.0552, 0.1744].
        let (lo, hi) = wilson(10, 100).unwrap();
        assert!((lo - 0.0552).abs() < 0.0005, "{lo}");
        assert!((hi - 0.1744).abs() < 0.0005, "{hi}");
        assert_eq!(wilson(0, 0), None);
    }

    #[test]
    fn a_clear_winner_is_significant() {
        let c = compare(vec![Arm::new("a", 1000, 40), Arm::new("b", 1000, 80)]);
        assert_eq!(c.arms[0].variant, "b");
        assert!(c.significant);
        assert_eq!(c.more_sends_needed, None);
        assert_eq!(
            c.verdict,
            "B ahead: 8.0% vs 4.0% replies, significant at 95%"
        );
        let (lo, hi) = c.interval.unwrap();
        // 0.04 ± 1.96 * sqrt(.08*.92/1000 + .04*.96/1000) = 0.04 ± 0.02075
        assert!((lo - 0.01925).abs() < 0.0002 && (hi - 0.06075).abs() < 0.0002);
    }

    #[test]
    fn a_small_lead_needs_more_sends() {
        let c = compare(vec![Arm::new("a", 100, 5), Arm::new("b", 100, 8)]);
        assert!(!c.significant);
        // per arm: (1.959964 + 0.841621)^2 * (.08 * .92 + .05 * .95) / .03^2
        //        = 7.84888 * 0.1211 / 0.0009 = 1056.1 -> 1057; minus the 100 each has.
        assert_eq!(c.more_sends_needed, Some(2 * (1057 - 100)));
        assert_eq!(
            c.verdict,
            "B ahead, not yet significant: needs about 1,900 more sends"
        );
    }

    #[test]
    fn early_and_even_tests_say_so() {
        let c = compare(vec![Arm::new("a", 10, 0), Arm::new("b", 10, 0)]);
        assert_eq!(c.verdict, "no replies yet: too early to tell");
        let c = compare(vec![Arm::new("a", 10, 1), Arm::new("b", 0, 0)]);
        assert_eq!(c.verdict, "too early: B has no sends yet");
        let c = compare(vec![Arm::new("a", 50, 5), Arm::new("b", 50, 5)]);
        assert_eq!(c.verdict, "A and B even so far (10.0% each)");
        assert!(!c.significant);
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(group_thousands(1234567), "1,234,567");
        assert_eq!(group_thousands(12), "12");
        assert_eq!(round_nicely(1910), "1,900");
        assert_eq!(round_nicely(1950), "2,000");
        assert_eq!(round_nicely(87), "87");
        assert_eq!(round_nicely(1234), "1,200");
    }
}

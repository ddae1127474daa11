//! What both benches share: reading their settings and printing figures.

/// The number in environment variable `name` (`1_000_000` and `1,000,000` allowed), or
/// `default` when it is not set.
pub fn env_usize(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v
            .replace(['_', ','], "")
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
        Err(_) => default,
    }
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The best (lowest for times, highest for rates: pass `higher_is_better`) and the median of
/// `values`.
pub fn best_and_median(values: &[f64], higher_is_better: bool) -> (f64, f64) {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    if higher_is_better {
        v.reverse();
    }
    (v[0], v[v.len() / 2])
}

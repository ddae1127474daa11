//! How report numbers read, the same in the terminal and on the HTML page.

use super::stats::group_thousands;

/// `12.3%`, or `-` for a rate of nothing.
pub fn pct(r: Option<f64>) -> String {
    r.map_or("-".into(), |r| format!("{:.1}%", r * 100.0))
}

/// `1,234`.
pub fn count(n: i64) -> String {
    group_thousands(n.max(0) as u64)
}

/// `1,234`, or `-` for a count that has no meaning.
pub fn maybe(n: Option<i64>) -> String {
    n.map_or("-".into(), count)
}

/// A wait: `42s`, `10m`, `1h 05m`, `3d 4h`; `-` for none.
pub fn duration(secs: Option<i64>) -> String {
    let Some(s) = secs else {
        return "-".into();
    };
    match s {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h {:02}m", s / 3600, s % 3600 / 60),
        s => format!("{}d {}h", s / 86_400, s % 86_400 / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_at_a_glance() {
        assert_eq!(duration(None), "-");
        assert_eq!(duration(Some(42)), "42s");
        assert_eq!(duration(Some(600)), "10m");
        assert_eq!(duration(Some(3900)), "1h 05m");
        assert_eq!(duration(Some(3 * 86_400 + 4 * 3600 + 59)), "3d 4h");
        assert_eq!(pct(Some(1.0 / 3.0)), "33.3%");
        assert_eq!(pct(None), "-");
        assert_eq!(maybe(Some(12345)), "12,345");
        assert_eq!(maybe(None), "-");
    }
}

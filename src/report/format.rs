//! How report numbers read, the same in the terminal and on the HTML page.

use super::stats::group_thousands;

/// A name from outside (a lead's owner, a source) as a spreadsheet cell that stays text: one
/// that starts with `=`, `+`, `-`, `@`, tab or CR, which Excel, LibreOffice and Google Sheets
/// would run as a formula (`=HYPERLINK(…)`), gets a leading apostrophe (OWASP's rule against
/// CSV injection). The terminal report shows names the same way, so a copy and paste of it is
/// no more dangerous than the CSV.
pub fn cell(s: &str) -> std::borrow::Cow<'_, str> {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        std::borrow::Cow::Owned(format!("'{s}"))
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

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
    fn names_that_a_spreadsheet_would_run_stay_text() {
        assert_eq!(
            cell("=HYPERLINK(\"http://evil.example\",\"x\")"),
            "'=HYPERLINK(\"http://evil.example\",\"x\")"
        );
        for bad in ["+1", "-2+3", "@SUM(A1)", "\tx", "\rx"] {
            assert!(cell(bad).starts_with('\''), "{bad:?}");
        }
        assert_eq!(cell("ana"), "ana");
        assert_eq!(cell("ana@example.com"), "ana@example.com");
    }

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

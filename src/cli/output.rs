//! Output helpers shared by commands: JSON on stdout, times in a zone and UTC.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use super::Failure;

/// Prints a value as pretty JSON on stdout.
pub fn print_json<T: Serialize>(value: &T) -> Result<(), Failure> {
    let s = serde_json::to_string_pretty(value)
        .map_err(|e| Failure::failed(format!("cannot print JSON: {e}")))?;
    println!("{s}");
    Ok(())
}

/// Text as it may safely reach a terminal: every control character but newline and tab (C0,
/// DEL, C1, which can clear the screen, move the cursor, set the window title or hide text)
/// and every bidirectional override (which can reorder what is shown) is written out visibly:
/// `^[` for ESC, `^M` for CR, `^?` for DEL, `\u{202e}` for the rest.
pub fn printable(s: &str) -> std::borrow::Cow<'_, str> {
    fn unsafe_char(c: char) -> bool {
        (c.is_control() && c != '\n' && c != '\t')
            || matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    }
    if !s.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            c if !unsafe_char(c) => out.push(c),
            '\u{7f}' => out.push_str("^?"),
            c if (c as u32) < 0x20 => {
                out.push('^');
                out.push(char::from(b'@' + c as u8));
            }
            c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// `2026-11-25 09:14 CET (08:14 UTC)`.
pub fn local_and_utc(at: DateTime<Utc>, tz: Tz) -> String {
    let local = at.with_timezone(&tz);
    format!(
        "{} ({} UTC)",
        local.format("%a %Y-%m-%d %H:%M %Z"),
        at.format("%H:%M")
    )
}

/// A unix time as `2026-11-25 08:14 UTC` (empty for none).
pub fn utc(at: Option<i64>) -> String {
    at.and_then(|t| DateTime::<Utc>::from_timestamp(t, 0))
        .map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

/// A unix time as RFC 3339 for JSON.
pub fn rfc3339(at: Option<i64>) -> Option<String> {
    at.and_then(|t| DateTime::<Utc>::from_timestamp(t, 0))
        .map(|d| d.to_rfc3339())
}

/// Parses an `--encoding` label (`windows-1252`, `latin1`, `utf-16le`…).
pub fn parse_encoding(label: &str) -> Result<&'static encoding_rs::Encoding, String> {
    encoding_rs::Encoding::for_label(label.trim().as_bytes()).ok_or_else(|| {
        format!("unknown encoding {label:?} (e.g. utf-8, windows-1252, iso-8859-1, utf-16le)")
    })
}

#[cfg(test)]
mod printable_tests {
    use super::printable;

    #[test]
    fn terminal_controls_from_outside_are_shown_not_obeyed() {
        assert_eq!(
            printable("plain text\nnext\tline"),
            "plain text\nnext\tline"
        );
        assert_eq!(printable("\u{1b}[2Jcleared"), "^[[2Jcleared");
        assert_eq!(printable("\u{1b}]0;title\u{7}"), "^[]0;title^G");
        assert_eq!(printable("a\rb\0c\u{7f}"), "a^Mb^@c^?");
        assert_eq!(printable("\u{9b}31m"), "\\u{9b}31m");
        assert_eq!(printable("abc\u{202e}fed"), "abc\\u{202e}fed");
    }
}

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

//! YAML errors as diagnostics a rep can act on: the position, the key, plain words, and a
//! did-you-mean for unknown keys. Shared by sequence files and template front matter.

use crate::diag::{Diagnostic, did_you_mean};

/// A YAML error as a diagnostic, with a did-you-mean for unknown keys, and the key named when
/// a value has the wrong type (`wait: expected a text value, found a list`). `text` is the
/// YAML source the error positions refer to.
pub(crate) fn yaml_error(file: &str, text: &str, e: &serde_saphyr::Error) -> Diagnostic {
    let (line, col) = e.location().map_or((None, None), |l| {
        (Some(l.line() as usize), Some(l.column() as usize))
    });
    let raw = e.without_snippet().to_string();
    let message = match raw.rfind(" at line ") {
        Some(i) => raw[..i].to_string(),
        None => raw,
    };
    let mut d = Diagnostic::error(file, line, col, message.clone());
    if let (Some(line), Some(col)) = (line, col)
        && let Some(key) = key_before(text, line, col)
        && !message.starts_with("unknown field")
    {
        d.message = format!("{key}: {}", plain_type_message(&message));
    }
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let (field, tail) = rest.split_once('`').unwrap_or((rest, ""));
        let expected: Vec<&str> = tail
            .trim_start_matches(", expected one of ")
            .trim_start_matches(", expected ")
            .split(", ")
            .map(|s| s.trim_matches('`'))
            .filter(|s| !s.is_empty())
            .collect();
        d.message = match did_you_mean(field, expected.iter().copied()) {
            Some(s) => format!("unknown key `{field}`; did you mean `{s}`?"),
            None => format!(
                "unknown key `{field}` (expected one of {})",
                expected.join(", ")
            ),
        };
    }
    d
}

/// The mapping key whose value starts at `line:col` (1-based), when the value sits on the
/// key's own line (`    wait: [1]` → `wait`).
fn key_before(text: &str, line: usize, col: usize) -> Option<String> {
    let src = text.lines().nth(line.checked_sub(1)?)?;
    let before: String = src.chars().take(col.saturating_sub(1)).collect();
    let before = before.trim_end().strip_suffix(':')?;
    let key = before.trim_start().trim_start_matches("- ").trim();
    let key = key.trim_matches(|c| c == '"' || c == '\'');
    (!key.is_empty()
        && key
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-'))
    .then(|| key.to_string())
}

/// serde's type messages in words a rep reads.
fn plain_type_message(message: &str) -> String {
    match message {
        "expected string scalar" => "expected a text value".to_string(),
        "invalid boolean" => "expected true or false".to_string(),
        "expected sequence start" => {
            "expected a list, e.g. [a, b] or lines starting with '- '".to_string()
        }
        "expected mapping start" => "expected keys and values (key: value)".to_string(),
        m => m.to_string(),
    }
}

//! "Needs attention" in `status`: one line per item with the id its command takes, a one-line
//! snippet, and the command that deals with it.

use super::{Attention, shown};

/// How much of a reply's text fits on the item's line (the rest: `drumbeat replies`).
const SNIPPET_CHARS: usize = 80;

/// A reply's text is cut to a snippet; other details (a task's due time, an error) are whole.
fn detail_chars(a: &Attention) -> usize {
    if a.kind.ends_with("reply") {
        SNIPPET_CHARS
    } else {
        usize::MAX
    }
}

pub(super) fn print(items: &[Attention]) {
    say!("\nNeeds attention");
    if items.is_empty() {
        say!("  (nothing)");
    }
    for a in items {
        say!(
            "  {:<18} {:<10} {}  {} {}{}",
            a.kind,
            handle(a),
            shown(a.at.as_deref()),
            a.email.as_deref().unwrap_or(""),
            [a.sequence.as_deref(), a.step.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join("/"),
            a.detail
                .as_deref()
                .map(|d| format!("  {}", one_line(d, detail_chars(a))))
                .unwrap_or_default()
        );
        if let Some(next) = next_command(a) {
            say!("      next: {next}");
        }
    }
}

/// What the item's command takes: `task 3`, `reply 12`, `touch 40`.
fn handle(a: &Attention) -> String {
    match (a.kind.as_str(), a.id, a.touch) {
        ("overdue-task", Some(id), _) => format!("task {id}"),
        ("reply" | "later-reply", Some(id), _) => format!("reply {id}"),
        (_, _, Some(touch)) => format!("touch {touch}"),
        _ => String::new(),
    }
}

/// The command that deals with the item, where there is one.
fn next_command(a: &Attention) -> Option<String> {
    match (a.kind.as_str(), a.id, a.touch) {
        ("overdue-task", Some(id), _) => Some(format!(
            "drumbeat task done {id} --outcome connected   (or: drumbeat task skip {id})"
        )),
        ("reply" | "later-reply", Some(id), _) => {
            Some(format!("drumbeat reply handled {id} --outcome interested"))
        }
        ("uncertain-send", _, Some(t)) => Some(format!(
            "drumbeat resolve {t} --sent   (or --not-sent to send it again)"
        )),
        _ => None,
    }
}

/// Text on one line: every run of white space (new lines included) becomes one space, and
/// what is longer than `max` characters ends in `…`.
fn one_line(text: &str, max: usize) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    let flat = words.join(" ");
    if flat.chars().count() <= max {
        return flat;
    }
    let mut cut: String = flat.chars().take(max - 1).collect();
    cut.truncate(cut.trim_end().len());
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::one_line;

    #[test]
    fn a_multi_line_snippet_is_one_line() {
        assert_eq!(
            one_line("Thanks!\r\n\r\n  Call me\ttomorrow.", 80),
            "Thanks! Call me tomorrow."
        );
    }

    #[test]
    fn a_long_snippet_is_cut_on_a_character() {
        let long = "é".repeat(100);
        let cut = one_line(&long, 10);
        assert_eq!(cut.chars().count(), 10);
        assert!(cut.ends_with('…'));
    }
}

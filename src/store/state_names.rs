//! The state names the store's SQL spells. Partial indexes (`… WHERE state = 'active'`) and
//! the queries that use them need the names as literals, so they stay literal in SQL; this
//! test reads every SQL text of `src/store` (the `.sql` files, and the string literals of the
//! `.rs` files) and fails on a quoted word next to `state` (`state = 'x'`, `state <> 'x'`,
//! `state IN ('a', 'b')`) that is not a name the code knows: an [`EnrollmentState`] or a
//! [`TouchState`], or, in a text that names their table, a task's or an outbox row's.

use std::path::{Path, PathBuf};

use crate::enrollment::{EnrollmentState, TouchState};

/// States of the tables that have no enum (their names are the migrations' column comments),
/// allowed only in a text that names one of the tables. The outbox lease statement names its
/// table `{table}` (it serves both outboxes).
const OTHER_STATES: [(&[&str], &[&str]); 5] = [
    (&["crm_jobs"], &["pending", "done", "failed"]),
    (&["sent_copies"], &["pending", "appended", "failed"]),
    (&["tasks"], &["open", "done", "skipped"]),
    (&["drafts"], &["open", "approved", "sent", "skipped"]),
    (
        &["webhook_deliveries", "notifications", "{table}"],
        &["pending", "delivered", "sent", "skipped", "failed"],
    ),
];

/// This file: its own examples hold unknown names on purpose.
const SELF: &str = "state_names.rs";

/// The quoted words next to `state` in `sql`, in order, each with the line (from 0) of its
/// `state`.
fn state_words(sql: &str) -> Vec<(usize, String)> {
    let lower = sql.to_ascii_lowercase();
    let b = lower.as_bytes();
    let word_char = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = lower[from..].find("state").map(|i| from + i) {
        from = at + 5;
        if (at > 0 && word_char(b[at - 1])) || b.get(from).is_some_and(|&c| word_char(c)) {
            continue;
        }
        let rest = lower[from..].trim_start();
        let rest = ["=", "<>", "!="]
            .iter()
            .find_map(|op| rest.strip_prefix(op))
            .map(|r| (r, false))
            .or_else(|| {
                let r = rest.strip_prefix("not").map_or(rest, str::trim_start);
                r.strip_prefix("in")
                    .filter(|r| !r.starts_with(|c: char| c.is_ascii_alphanumeric()))
                    .and_then(|r| r.trim_start().strip_prefix('('))
                    .map(|r| (r, true))
            });
        let Some((mut rest, list)) = rest else {
            continue;
        };
        loop {
            rest = rest.trim_start();
            let Some(quoted) = rest.strip_prefix('\'') else {
                break;
            };
            let Some(end) = quoted.find('\'') else {
                break;
            };
            let line = b[..at].iter().filter(|&&c| c == b'\n').count();
            out.push((line, quoted[..end].to_string()));
            rest = quoted[end + 1..].trim_start();
            match rest.strip_prefix(',') {
                Some(r) if list => rest = r,
                _ => break,
            }
        }
    }
    out
}

/// The string literals of Rust source `src` (normal and raw), with the line each starts on;
/// comments and character literals are skipped.
fn string_literals(src: &str) -> Vec<(usize, String)> {
    let b = src.as_bytes();
    let line_of = |i: usize| 1 + b[..i].iter().filter(|&&c| c == b'\n').count();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let word_before = i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_');
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                i = src[i..].find('\n').map_or(b.len(), |n| i + n);
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i = src[i..].find("*/").map_or(b.len(), |n| i + n + 2);
            }
            b'r' if !word_before && matches!(b.get(i + 1), Some(b'"' | b'#')) => {
                let hashes = b[i + 1..].iter().take_while(|&&c| c == b'#').count();
                let open = i + 1 + hashes;
                if b.get(open) != Some(&b'"') {
                    i += 1;
                    continue;
                }
                let close = format!("\"{}", "#".repeat(hashes));
                let end = src[open + 1..]
                    .find(&close)
                    .map_or(b.len(), |n| open + 1 + n);
                out.push((line_of(i), src[open + 1..end].to_string()));
                i = end + close.len();
            }
            b'"' => {
                let start = i;
                let mut text = String::new();
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    if let Some(c) = src[i..].chars().next() {
                        text.push(c);
                        i += c.len_utf8();
                    }
                }
                out.push((line_of(start), text));
                i += 1;
            }
            b'\'' => {
                // A character literal (`'x'`, `'\n'`, `'"'`) or a lifetime.
                let c = &src[i + 1..];
                // The length between the quotes: an escape is `\` and what follows, up to the
                // quote after its first character (`\'`, `\n`, `\u{1F600}`).
                let len = if let Some(esc) = c.strip_prefix('\\') {
                    esc.char_indices()
                        .skip(1)
                        .find(|&(_, ch)| ch == '\'')
                        .map(|(n, _)| n + 1)
                } else {
                    c.chars()
                        .next()
                        .filter(|ch| c[ch.len_utf8()..].starts_with('\''))
                        .map(char::len_utf8)
                };
                i += len.map_or(1, |n| n + 2);
            }
            _ => i += 1,
        }
    }
    out
}

/// Every file under `dir`, sorted.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry.expect("a readable folder entry").path();
            if path.is_dir() {
                todo.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Whether `word` may stand next to `state` in `sql`.
fn known(word: &str, sql: &str) -> bool {
    EnrollmentState::ALL.iter().any(|s| s.as_str() == word)
        || TouchState::ALL.iter().any(|s| s.as_str() == word)
        || OTHER_STATES.iter().any(|(tables, words)| {
            words.contains(&word) && tables.iter().any(|t| names_table(sql, t))
        })
}

/// Whether `sql` names `table` as a word of its own.
fn names_table(sql: &str, table: &str) -> bool {
    sql.match_indices(table).any(|(i, _)| {
        let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
        !sql[..i].ends_with(word) && !sql[i + table.len()..].starts_with(word)
    })
}

#[test]
fn sql_in_the_store_names_only_known_states() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/store");
    let (mut checked, mut problems) = (0, Vec::new());
    for path in files(&root) {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let texts = match path.extension().and_then(|e| e.to_str()) {
            _ if name == SELF => continue,
            Some("sql") => vec![(1, std::fs::read_to_string(&path).expect("a readable .sql"))],
            Some("rs") => string_literals(&std::fs::read_to_string(&path).expect("readable")),
            _ => continue,
        };
        for (line, sql) in texts {
            for (offset, word) in state_words(&sql) {
                checked += 1;
                if !known(&word, &sql) {
                    let at = path.strip_prefix(&root).unwrap_or(&path).display();
                    let line = line + offset;
                    problems.push(format!("src/store/{at}:{line}: state '{word}'"));
                }
            }
        }
    }
    // The scan must have found the store's SQL (a broken scanner would pass on nothing).
    assert!(
        checked > 100,
        "only {checked} state names found in src/store"
    );
    assert!(
        problems.is_empty(),
        "unknown state names in SQL (expected one of EnrollmentState or TouchState's as_str(), \
         or a task's or outbox row's state where the text names its table):\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_scanner_finds_compared_and_listed_states_and_nothing_else() {
    let sql = "UPDATE t SET state = 'actve' WHERE e.state IN ('active', 'pausd') \
               AND state NOT IN ('sent') AND touch_state = 'x' AND state = $1 AND states = 'y' \
               AND t.state <> 'uncertain' AND state IN (SELECT 'z')";
    let words: Vec<String> = state_words(sql).into_iter().map(|(_, w)| w).collect();
    assert_eq!(words, ["actve", "active", "pausd", "sent", "uncertain"]);
    assert!(!known(
        "pending",
        "UPDATE enrollments SET state = 'pending'"
    ));
    assert!(known(
        "pending",
        "UPDATE notifications SET state = 'pending'"
    ));
    assert!(!known(
        "open",
        "SELECT 1 FROM tasks_archive WHERE state = 'open'"
    ));
}

#[test]
fn the_scanner_reads_rust_string_literals_but_not_comments_or_chars() {
    let src = "// \"state = 'a'\"\nlet c = ['\"', '\\'', '\\n']; let s = \"x \\\" state = 'b'\";\n\
               fn f<'a>(x: &'a str) {} let r = r#\"state = 'c'\"#;";
    let words: Vec<Vec<(usize, String)>> = string_literals(src)
        .iter()
        .map(|(line, s)| {
            state_words(s)
                .into_iter()
                .map(|(l, w)| (line + l, w))
                .collect()
        })
        .collect();
    assert_eq!(
        words,
        [vec![(2, "b".to_string())], vec![(3, "c".to_string())]]
    );
}

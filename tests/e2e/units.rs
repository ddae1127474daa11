//! Units a person can hold: no source file in `src/` over 600 lines, no function over 80, and
//! no `too_many_arguments` allowance (a small struct says what travels together).

use std::path::{Path, PathBuf};

const MAX_FILE_LINES: usize = 600;
const MAX_FN_LINES: usize = 80;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("src/ is readable") {
        let p = e.expect("a directory entry").path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// `fn` items and their length in lines: from the line that names them to the closing brace
/// at the same indentation.
fn functions(text: &str) -> Vec<(usize, String, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        let rest = ["pub(crate) ", "pub(super) ", "pub "]
            .iter()
            .find_map(|p| trimmed.strip_prefix(p))
            .unwrap_or(trimmed);
        let rest = rest.strip_prefix("async ").unwrap_or(rest);
        let rest = rest.strip_prefix("const ").unwrap_or(rest);
        let Some(name) = rest.strip_prefix("fn ") else {
            continue;
        };
        if line.trim_end().ends_with(';') {
            continue;
        }
        let name: String = name
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let close = format!("{}}}", " ".repeat(indent));
        if let Some(end) = lines[i + 1..].iter().position(|l| l.trim_end() == close) {
            out.push((i + 1, name, end + 2));
        }
    }
    out
}

#[test]
fn no_file_function_or_argument_list_is_too_big_to_hold() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    assert!(files.len() > 50, "found only {} files", files.len());
    let mut problems = Vec::new();
    let mut seen_fns = 0;
    for f in &files {
        let text = std::fs::read_to_string(f).expect("a source file");
        let rel = f.strip_prefix(&src).expect("under src/").display();
        let n = text.lines().count();
        if n > MAX_FILE_LINES {
            problems.push(format!("src/{rel}: {n} lines (at most {MAX_FILE_LINES})"));
        }
        for (line, name, len) in functions(&text) {
            seen_fns += 1;
            if len > MAX_FN_LINES {
                problems.push(format!(
                    "src/{rel}:{line}: fn {name} is {len} lines (at most {MAX_FN_LINES})"
                ));
            }
        }
        if text.contains("too_many_arguments") {
            problems.push(format!("src/{rel}: allows too_many_arguments"));
        }
    }
    assert!(seen_fns > 500, "found only {seen_fns} functions");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_long_function_is_measured_whole() {
    let body = "    let x = 1;\n".repeat(90);
    let text = format!("impl A {{\n    pub async fn long(&self) {{\n{body}    }}\n}}\n");
    let fns = functions(&text);
    assert_eq!(fns, vec![(2, "long".to_string(), 92)]);
}

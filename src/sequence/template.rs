//! Template files: `templates/NAME.txt` (YAML front matter with the subject, then the plain-text
//! body) and an optional `templates/NAME.html` beside it (the HTML body).

use std::path::Path;

use serde::Deserialize;

use super::yaml::yaml_error;
use crate::diag::Diagnostic;

/// One template as read from disk, before compilation.
#[derive(Debug, Clone)]
pub struct TemplateSource {
    /// Name used in sequences: the path under `templates/` without extension (`cold/intro`).
    pub name: String,
    /// The `.txt` file as shown to the user.
    pub file: String,
    /// Subject template and where its text starts in the file.
    pub subject: Option<Subject>,
    /// Plain-text body template.
    pub body: String,
    /// Line of the file where the body starts (so body line N is file line `body_line + N - 1`).
    pub body_line: usize,
    /// HTML body: file shown and source.
    pub html: Option<(String, String)>,
}

/// The subject line of a template, from its front matter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// The subject template.
    pub text: String,
    /// Line of the file where it starts.
    pub line: usize,
    /// Column of that line where its text starts (after the quote of a quoted value), so an
    /// error inside the subject points at the right character.
    pub column: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FrontMatter {
    subject: Option<serde_saphyr::Spanned<String>>,
    #[allow(dead_code)]
    description: Option<String>,
}

/// Reads every template under `dir`. Files other than `.txt`/`.html` are ignored; an `.html`
/// without its `.txt` is an error (every email has a plain-text part).
pub fn load_dir(
    dir: &Path,
    show: &dyn Fn(&Path) -> String,
) -> (Vec<TemplateSource>, Vec<Diagnostic>) {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    let mut files = Vec::new();
    walk(dir, &mut files, &mut problems, show);
    files.sort();
    for path in &files {
        let Some(ext) = path.extension().and_then(|e| e.to_str()) else {
            continue;
        };
        let rel = path.strip_prefix(dir).unwrap_or(path);
        let name = rel.with_extension("").to_string_lossy().replace('\\', "/");
        let shown = show(path);
        match ext {
            "txt" => {
                let text = match std::fs::read_to_string(path) {
                    Ok(t) => t,
                    Err(e) => {
                        problems.push(Diagnostic::error(
                            &shown,
                            None,
                            None,
                            format!("cannot read: {e}"),
                        ));
                        continue;
                    }
                };
                let html_path = path.with_extension("html");
                let html = if html_path.is_file() {
                    match std::fs::read_to_string(&html_path) {
                        Ok(h) => Some((show(&html_path), h)),
                        Err(e) => {
                            problems.push(Diagnostic::error(
                                show(&html_path),
                                None,
                                None,
                                format!("cannot read: {e}"),
                            ));
                            None
                        }
                    }
                } else {
                    None
                };
                match parse(&name, &shown, &text) {
                    Ok(mut t) => {
                        t.html = html;
                        out.push(t);
                    }
                    Err(d) => problems.push(d),
                }
            }
            "html" if !path.with_extension("txt").is_file() => problems.push(
                Diagnostic::error(
                    &shown,
                    None,
                    None,
                    format!("HTML template {name:?} has no plain-text {name}.txt beside it"),
                )
                .with_hint("every email carries a plain-text part; write one next to the HTML"),
            ),
            _ => {}
        }
    }
    (out, problems)
}

fn walk(
    dir: &Path,
    files: &mut Vec<std::path::PathBuf>,
    problems: &mut Vec<Diagnostic>,
    show: &dyn Fn(&Path) -> String,
) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            problems.push(Diagnostic::error(
                show(dir),
                None,
                None,
                format!("cannot read the templates folder: {e}"),
            ));
            return;
        }
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let hidden = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if hidden {
            continue;
        }
        if path.is_dir() {
            walk(&path, files, problems, show);
        } else {
            files.push(path);
        }
    }
}

/// Parses a `.txt` template: optional `---` front matter, then the body.
pub fn parse(name: &str, file: &str, text: &str) -> Result<TemplateSource, Diagnostic> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let (front, body, body_line) = split_front_matter(text);
    let mut subject = None;
    if let Some(front) = front {
        let fm: FrontMatter = if front.trim().is_empty() {
            FrontMatter {
                subject: None,
                description: None,
            }
        } else {
            serde_saphyr::from_str(front).map_err(|e| {
                // Front matter starts on line 2 of the file.
                let mut d = yaml_error(file, front, &e);
                d.line = d.line.map(|l| l + 1);
                d
            })?
        };
        subject = fm.subject.map(|s| {
            let line = s.referenced.line() as usize;
            let column = s.referenced.column() as usize;
            let quoted = front
                .lines()
                .nth(line.saturating_sub(1))
                .and_then(|l| l.chars().nth(column.saturating_sub(1)))
                .is_some_and(|c| c == '"' || c == '\'');
            Subject {
                text: s.value,
                // Front matter starts on line 2 of the file.
                line: line + 1,
                column: if quoted { column + 1 } else { column },
            }
        });
    }
    Ok(TemplateSource {
        name: name.to_string(),
        file: file.to_string(),
        subject,
        body: body.to_string(),
        body_line,
        html: None,
    })
}

/// Splits `---\nYAML\n---\nbody` into (front matter, body, body's first line number).
fn split_front_matter(text: &str) -> (Option<&str>, &str, usize) {
    let first_line_end = text.find('\n').map_or(text.len(), |i| i + 1);
    if text[..first_line_end].trim_end() != "---" {
        return (None, text, 1);
    }
    let rest = &text[first_line_end..];
    let mut offset = 0;
    let mut line = 2;
    for l in rest.split_inclusive('\n') {
        if l.trim_end() == "---" {
            let front = &rest[..offset];
            let body = &rest[offset + l.len()..];
            return (Some(front), body, line + 1);
        }
        offset += l.len();
        line += 1;
    }
    // No closing marker: treat the whole file as front matter with an empty body, which the
    // YAML parser then reports precisely.
    (Some(rest), "", line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn front_matter_gives_subject_and_body_line() {
        let t = parse(
            "intro",
            "templates/intro.txt",
            "---\nsubject: Hi {{ lead.company }}\n---\nHello\n",
        )
        .unwrap();
        assert_eq!(
            t.subject,
            Some(Subject {
                text: "Hi {{ lead.company }}".to_string(),
                line: 2,
                column: 10
            })
        );
        assert_eq!(t.body, "Hello\n");
        assert_eq!(t.body_line, 4);
    }

    #[test]
    fn quoted_subject_starts_after_its_quote() {
        let t = parse(
            "x",
            "templates/x.txt",
            "---\nsubject: \"Hi {{ x }}\"\n---\nHello\n",
        )
        .unwrap();
        assert_eq!(t.subject.map(|s| (s.line, s.column)), Some((2, 11)));
    }

    #[test]
    fn template_without_front_matter_is_all_body() {
        let t = parse("bump", "templates/bump.txt", "Just bumping this.\n").unwrap();
        assert!(t.subject.is_none());
        assert_eq!(t.body_line, 1);
    }

    #[test]
    fn unknown_front_matter_key_names_file_line() {
        let err = parse("x", "templates/x.txt", "---\nsubjet: Hi\n---\nbody").unwrap_err();
        assert_eq!(
            err.to_string(),
            "templates/x.txt:2:1: unknown key `subjet`; did you mean `subject`?"
        );
    }
}

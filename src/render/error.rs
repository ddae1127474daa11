//! Why a render failed, at the template's file position: nothing is sent, and `validate`
//! shows it as a diagnostic.

use std::fmt;

use super::{Meta, STANDARD_LEAD_FIELDS};
use crate::diag::Diagnostic;

/// Why a render failed: nothing is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderError {
    /// Template file.
    pub file: String,
    /// Line in that file, when known.
    pub line: Option<usize>,
    /// Column, when known.
    pub column: Option<usize>,
    /// What went wrong.
    pub kind: RenderErrorKind,
}

/// The kinds of render failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RenderErrorKind {
    /// A variable the template needs is missing or empty for this lead.
    Missing {
        /// Dotted path, e.g. `lead.company`.
        variable: String,
    },
    /// The subject rendered to nothing.
    EmptySubject,
    /// The rendered text still holds template syntax or an unspun `{a|b}` group (what is
    /// found, from its start).
    Unrendered(String),
    /// Anything else Tera reported.
    Other(String),
}

impl fmt::Display for RenderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            RenderErrorKind::Missing { variable } => {
                let field = variable.strip_prefix("lead.").unwrap_or_default();
                let why = if STANDARD_LEAD_FIELDS.contains(&field) || !variable.starts_with("lead.")
                {
                    "which is empty"
                } else {
                    "which is empty or not a column of this lead"
                };
                write!(f, "template \"{}\" needs {variable}, {why}", self.file)?;
                if let Some(line) = self.line {
                    write!(f, " (line {line})")?;
                }
                Ok(())
            }
            RenderErrorKind::EmptySubject => {
                write!(f, "template \"{}\": the subject renders empty", self.file)
            }
            RenderErrorKind::Unrendered(found) => {
                write!(f, "{}", self.file)?;
                if let Some(l) = self.line {
                    write!(f, ":{l}")?;
                }
                write!(f, ": {}", unrendered_message(found))
            }
            RenderErrorKind::Other(msg) => {
                write!(f, "{}", self.file)?;
                if let Some(l) = self.line {
                    write!(f, ":{l}")?;
                    if let Some(c) = self.column {
                        write!(f, ":{c}")?;
                    }
                }
                write!(f, ": {msg}")
            }
        }
    }
}

impl std::error::Error for RenderError {}

/// What a prospect would read, and how to fix it.
pub(super) fn unrendered_message(found: &str) -> String {
    format!(
        "the email would show template syntax as written: {found:?} (a {{a|b}} group needs \"| spin\" inside {{{{ }}}}; check that every {{{{ and {{% is closed)"
    )
}

impl RenderError {
    /// As a diagnostic at the template's position.
    pub fn to_diagnostic(&self) -> Diagnostic {
        Diagnostic::error(
            &self.file,
            self.line,
            self.column,
            match &self.kind {
                RenderErrorKind::Missing { variable } => format!("{variable} is not defined"),
                RenderErrorKind::EmptySubject => "the subject renders empty".to_string(),
                RenderErrorKind::Unrendered(found) => unrendered_message(found),
                RenderErrorKind::Other(m) => m.clone(),
            },
        )
    }
}

/// Every problem of a template Tera refused: one per unknown filter, test or function (Tera
/// reports them all at once), else its one error.
pub(super) fn tera_diagnostics(e: &tera::Error, m: &Meta) -> Vec<Diagnostic> {
    if let tera::ErrorKind::Msg(text) = e.kind() {
        let unknown: Vec<Diagnostic> = text
            .split("\n\n")
            .filter_map(|report| unknown_name(report, m))
            .map(|r| r.to_diagnostic())
            .collect();
        if !unknown.is_empty() {
            return unknown;
        }
    }
    vec![render_error(e, m).to_diagnostic()]
}

pub(super) fn render_error(e: &tera::Error, m: &Meta) -> RenderError {
    let report = match e.kind() {
        tera::ErrorKind::SyntaxError(r) | tera::ErrorKind::RenderingError(r) => Some(r),
        _ => None,
    };
    let Some(r) = report else {
        return unknown_name(&e.to_string(), m).unwrap_or_else(|| RenderError {
            file: m.file.clone(),
            line: None,
            column: None,
            kind: RenderErrorKind::Other(e.to_string()),
        });
    };
    let span = r.span();
    let line = Some(m.first_line + span.start_line.saturating_sub(1));
    let column = Some(if span.start_line <= 1 {
        m.first_column + span.start_col
    } else {
        m.indent + span.start_col + 1
    });
    let message = r.message().to_string();
    let kind = if message.contains("is not defined") {
        RenderErrorKind::Missing {
            variable: variable_at(&m.source, span.range.clone()).unwrap_or_else(|| message.clone()),
        }
    } else {
        RenderErrorKind::Other(message)
    };
    RenderError {
        file: m.file.clone(),
        line,
        column,
        kind,
    }
}

/// Tera's filters (its built-in ones and ours), for a did-you-mean.
const FILTERS: &[&str] = &[
    "spin",
    "safe",
    "default",
    "upper",
    "lower",
    "wordcount",
    "escape",
    "escape_html",
    "escape_xml",
    "newlines_to_br",
    "pluralize",
    "trim",
    "trim_start",
    "trim_end",
    "replace",
    "capitalize",
    "title",
    "truncate",
    "indent",
    "str",
    "int",
    "float",
    "length",
    "reverse",
    "split",
    "abs",
    "round",
    "first",
    "last",
    "nth",
    "join",
    "sort",
    "unique",
    "get",
    "values",
    "keys",
    "pairs",
    "group_by",
];

/// Tera's report of an unknown filter, test or function (`Unknown filter `uppper``, then
/// ` --> NAME:LINE:COL`, then the source excerpt), at its place in the template's file, with
/// a did-you-mean for a filter.
fn unknown_name(report: &str, m: &Meta) -> Option<RenderError> {
    let (_, rest) = report.split_once("Unknown ")?;
    let (kind, rest) = rest.split_once(" `")?;
    let (name, rest) = rest.split_once('`')?;
    let place = rest.split_once("--> ")?.1.lines().next()?.trim();
    let mut at = place.rsplitn(3, ':');
    let column: usize = at.next()?.trim().parse().ok()?;
    let line: usize = at.next()?.trim().parse().ok()?;
    let mut message = format!("unknown {kind} `{name}`");
    if kind == "filter"
        && let Some(s) = crate::diag::did_you_mean(name, FILTERS.iter().copied())
    {
        message.push_str(&format!(" (did you mean `{s}`?)"));
    }
    Some(RenderError {
        file: m.file.clone(),
        line: Some(m.first_line + line.saturating_sub(1)),
        column: Some(if line <= 1 {
            m.first_column + column.saturating_sub(1)
        } else {
            m.indent + column
        }),
        kind: RenderErrorKind::Other(message),
    })
}

/// The dotted variable path (`lead.company`) around `range` of `source`.
fn variable_at(source: &str, range: std::ops::Range<usize>) -> Option<String> {
    if source.is_empty()
        || range.end > source.len()
        || !source.is_char_boundary(range.start)
        || !source.is_char_boundary(range.end)
    {
        return None;
    }
    let is_path = |c: char| c.is_alphanumeric() || c == '_' || c == '.';
    let start = source[..range.start]
        .rfind(|c: char| !is_path(c))
        .map_or(0, |i| i + 1);
    let end = source[range.end..]
        .find(|c: char| !is_path(c))
        .map_or(source.len(), |i| range.end + i);
    let path = source[start..end].trim_matches('.');
    (!path.is_empty()).then(|| path.to_string())
}

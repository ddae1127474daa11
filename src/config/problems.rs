//! Problems found in config.toml, turned into diagnostics at `config.toml:LINE:COL`. Each part
//! of the config (`[http]`, `[[webhook]]`, `[[route]]`…) checks its tables and hands back
//! [`Problems`] as byte spans; [`Report`] places them in the file, in the order found.

use std::ops::Range;

use crate::diag::{Diagnostic, line_col};

/// Problems a part of the config found: where (a byte span of config.toml, when known) and
/// what.
pub(super) type Problems = Vec<(Option<Range<usize>>, String)>;

/// The problems of one config text, as diagnostics in the order they were found.
pub(super) struct Report<'a> {
    text: &'a str,
    shown: &'a str,
    problems: Vec<Diagnostic>,
}

impl<'a> Report<'a> {
    /// No problems yet, in `text`, which diagnostics call `shown`.
    pub(super) fn new(text: &'a str, shown: &'a str) -> Self {
        Report {
            text,
            shown,
            problems: Vec::new(),
        }
    }

    /// An error at the start of `span` (not yet added: give it a hint, then [`Report::push`]).
    pub(super) fn at(&self, span: Range<usize>, msg: impl Into<String>) -> Diagnostic {
        let (line, col) = line_col(self.text, span.start);
        Diagnostic::error(self.shown, Some(line), Some(col), msg)
    }

    /// Adds a diagnostic.
    pub(super) fn push(&mut self, d: Diagnostic) {
        self.problems.push(d);
    }

    /// Adds an error at the start of `span`, or about the whole file when there is none.
    pub(super) fn error(&mut self, span: Option<Range<usize>>, msg: impl Into<String>) {
        let d = match span {
            Some(span) => self.at(span, msg),
            None => Diagnostic::error(self.shown, None, None, msg),
        };
        self.push(d);
    }

    /// Adds a part's problems, in their order.
    pub(super) fn extend(&mut self, problems: Problems) {
        for (span, msg) in problems {
            self.error(span, msg);
        }
    }

    /// Every problem added, when there is one.
    pub(super) fn finish(self) -> Result<(), Vec<Diagnostic>> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(self.problems)
        }
    }
}

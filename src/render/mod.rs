//! Rendering: one personal email (or task note) per lead and step, from the compiled templates.
//!
//! Strict by design: a variable that is missing or empty is an error unless the template gives
//! a fallback (`{{ lead.first_name | default(value="there") }}`), so nobody receives "Hi ,".
//! Deterministic: spintax and A/B variants are seeded by lead and step, so `preview` shows the
//! very email the daemon sends.

mod context;
mod error;
pub mod spintax;

use std::collections::HashMap;

use tera::{Kwargs, State, Tera};

use crate::config::Mailbox;
use crate::diag::Diagnostic;
use crate::lead::LeadRecord;
use crate::sequence::{Sequence, StepKind, TemplateSource};

pub use crate::domain::fnv1a;
pub use context::{SET_LEAD_FIELDS, STANDARD_LEAD_FIELDS};
pub use error::{RenderError, RenderErrorKind};
use error::{render_error, tera_diagnostics};

/// The compiled templates of a catalog.
pub struct Renderer {
    tera: Tera,
    meta: HashMap<String, Meta>,
}

/// Where a compiled Tera template came from, to turn its positions into file positions.
#[derive(Debug, Clone)]
struct Meta {
    file: String,
    /// File line of the template's line 1.
    first_line: usize,
    /// File column of the template's first character (on its first line).
    first_column: usize,
    /// Columns the file has before each later line (a YAML block's indentation).
    indent: usize,
    /// The template source, to name the variable an error points at.
    source: std::sync::Arc<str>,
}

/// One rendered email.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RenderedEmail {
    /// The A/B variant picked for this lead (`main` when the step has one template).
    pub variant: String,
    /// Template name.
    pub template: String,
    /// Subject, on one line (`Re: …` for threaded steps).
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body, when the template has one.
    pub html: Option<String>,
    /// The links written in the template's text and HTML (see [`TemplateLink`]): only URLs
    /// they allow are tracked, never one that came from lead data.
    #[serde(skip)]
    pub written_links: Vec<TemplateLink>,
}

/// A link as the template's author wrote it: the URL up to its first Tera tag, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateLink {
    /// The literal text (`https://example.com/demo?ref=` for
    /// `https://example.com/demo?ref={{ lead.company }}`).
    pub literal: String,
    /// True when the whole URL is literal; false when a tag followed `literal`.
    pub whole: bool,
}

/// Every `http://` or `https://` link written in a template's source, added to `out`.
pub fn written_links(source: &str, out: &mut Vec<TemplateLink>) {
    let lower = source.to_ascii_lowercase();
    let mut from = 0;
    while let Some(start) = ["http://", "https://"]
        .iter()
        .filter_map(|p| lower[from..].find(p))
        .min()
        .map(|p| p + from)
    {
        let rest = &source[start..];
        let len = rest
            .find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"' | '\''))
            .unwrap_or(rest.len());
        let url = &rest[..len];
        let tag = ["{{", "{%", "{#"].iter().filter_map(|t| url.find(t)).min();
        out.push(match tag {
            Some(t) => TemplateLink {
                literal: url[..t].to_string(),
                whole: false,
            },
            None => TemplateLink {
                literal: url.to_string(),
                whole: true,
            },
        });
        from = start + len.max(1);
    }
}

/// Who is being written to and who writes.
pub struct RenderInput<'a> {
    /// The lead, with its current data.
    pub lead: &'a LeadRecord,
    /// The sending mailbox.
    pub sender: &'a Mailbox,
    /// The email's one-click unsubscribe URL (`{{ unsubscribe_url }}` in templates).
    pub unsubscribe_url: &'a str,
}

/// `{{ unsubscribe_url }}` where there is no real email yet (checks with a sample lead).
pub const SAMPLE_UNSUBSCRIBE_URL: &str = "https://drumbeat.invalid/u/sample";

/// The seed of a lead's render of a step.
pub fn seed(email: &str, sequence: &str, step: &str) -> u64 {
    fnv1a(format!("{email}\u{0}{sequence}\u{0}{step}").as_bytes())
}

const SEED_VAR: &str = "_seed";

impl Renderer {
    /// Compiles templates and task notes. Syntax errors come back as diagnostics with file
    /// positions; templates that fail are left out.
    pub fn compile(
        templates: &[TemplateSource],
        sequences: &[&Sequence],
    ) -> (Renderer, Vec<Diagnostic>) {
        let mut tera = Tera::new();
        tera.autoescape_on(vec![".html"]);
        tera.register_filter(
            "spin",
            |s: &str, _: Kwargs, state: &State| -> tera::TeraResult<String> {
                spintax::check(s)
                    .map_err(|e| tera::Error::message(format!("spintax {s:?}: {e}")))?;
                let seed = state.get::<i64>(SEED_VAR).ok().flatten().unwrap_or(0);
                Ok(spintax::expand(s, seed as u64))
            },
        );
        let mut meta = HashMap::new();
        let mut problems = Vec::new();
        let mut add =
            |tera: &mut Tera,
             name: String,
             src: &str,
             file: &str,
             (first_line, first_column, indent): (usize, usize, usize)| {
                let m = Meta {
                    file: file.to_string(),
                    first_line,
                    first_column,
                    indent,
                    source: src.into(),
                };
                match tera.add_raw_template(&name, src) {
                    Ok(()) => {
                        meta.insert(name, m);
                    }
                    Err(e) => problems.extend(tera_diagnostics(&e, &m)),
                }
            };
        for t in templates {
            if let Some(subject) = &t.subject {
                add(
                    &mut tera,
                    format!("{}.subject", t.name),
                    &subject.text,
                    &t.file,
                    (subject.line, subject.column, 0),
                );
            }
            add(
                &mut tera,
                format!("{}.txt", t.name),
                &t.body,
                &t.file,
                (t.body_line, 1, 0),
            );
            if let Some((file, html)) = &t.html {
                add(&mut tera, format!("{}.html", t.name), html, file, (1, 1, 0));
            }
        }
        for seq in sequences {
            for step in &seq.steps {
                if let StepKind::Task(task) = &step.kind
                    && let Some(note) = &task.note
                {
                    add(
                        &mut tera,
                        note_name(&seq.id, &step.id),
                        note,
                        &seq.file,
                        (task.note_line, task.note_column, task.note_indent),
                    );
                }
            }
        }
        (Renderer { tera, meta }, problems)
    }

    /// True when a template of this name compiled (its `.txt` body).
    pub fn has_template(&self, name: &str) -> bool {
        self.meta.contains_key(&format!("{name}.txt"))
    }

    /// True when the template has a subject line.
    pub fn has_subject(&self, name: &str) -> bool {
        self.meta.contains_key(&format!("{name}.subject"))
    }

    /// Renders the email of step `index` of `sequence` for a lead. For a threaded step the
    /// subject is `Re: ` and the thread's first subject: `thread_subject` when the thread
    /// already went out (what the lead saw), else the thread root rendered now.
    pub fn render_email(
        &self,
        input: &RenderInput<'_>,
        sequence: &Sequence,
        index: usize,
        thread_subject: Option<&str>,
    ) -> Result<RenderedEmail, RenderError> {
        self.render_chosen(input, sequence, index, thread_subject, None)
    }

    /// Renders the email of step `index` with its variant number `variant` whatever the lead's
    /// seed picks (`validate` renders every variant of every step).
    pub fn render_variant(
        &self,
        input: &RenderInput<'_>,
        sequence: &Sequence,
        index: usize,
        variant: usize,
    ) -> Result<RenderedEmail, RenderError> {
        self.render_chosen(input, sequence, index, None, Some(variant))
    }

    /// Renders the email of step `index` with its variant number `chosen` when given (as
    /// [`Renderer::render_variant`]), else the one the lead's seed picks, under the thread's
    /// subject as [`Renderer::render_email`] does.
    pub fn render_chosen(
        &self,
        input: &RenderInput<'_>,
        sequence: &Sequence,
        index: usize,
        thread_subject: Option<&str>,
        chosen: Option<usize>,
    ) -> Result<RenderedEmail, RenderError> {
        let step = &sequence.steps[index];
        let StepKind::Email(email) = &step.kind else {
            return Err(RenderError {
                file: sequence.file.clone(),
                line: Some(step.line),
                column: None,
                kind: RenderErrorKind::Other(format!("step {:?} is not an email step", step.id)),
            });
        };
        let seed = seed(input.lead.email.as_str(), &sequence.id, &step.id);
        let variant = chosen
            .and_then(|v| email.variants.get(v))
            .unwrap_or_else(|| pick_variant(&email.variants, seed));
        let ctx = context::build(input, sequence, index, seed);
        let name = &variant.template;

        let subject = if email.thread {
            let root = match thread_subject {
                Some(s) => s.to_string(),
                None => match sequence.thread_root(index) {
                    Some(root) => {
                        let root_index = sequence
                            .step_index(&root.id)
                            .expect("thread root is a step of this sequence");
                        self.render_email(input, sequence, root_index, None)?
                            .subject
                    }
                    None => String::new(),
                },
            };
            reply_subject(&root)
        } else {
            let s = one_line(&self.render(&format!("{name}.subject"), &ctx)?);
            if s.is_empty() {
                let file = self
                    .meta
                    .get(&format!("{name}.txt"))
                    .map(|m| m.file.clone())
                    .unwrap_or_default();
                return Err(RenderError {
                    file,
                    line: None,
                    column: None,
                    kind: RenderErrorKind::EmptySubject,
                });
            }
            s
        };
        let text = tidy_text(&self.render(&format!("{name}.txt"), &ctx)?);
        let html_name = format!("{name}.html");
        let html = if self.meta.contains_key(&html_name) {
            Some(plain(&self.render(&html_name, &ctx)?).into_owned())
        } else {
            None
        };
        let mut links = Vec::new();
        for part in [format!("{name}.txt"), html_name] {
            if let Some(m) = self.meta.get(&part) {
                written_links(&m.source, &mut links);
            }
        }
        Ok(RenderedEmail {
            variant: variant.id.clone(),
            template: name.clone(),
            subject,
            text,
            html,
            written_links: links,
        })
    }

    /// Renders the note of a task step (empty when the step has none).
    pub fn render_note(
        &self,
        input: &RenderInput<'_>,
        sequence: &Sequence,
        index: usize,
    ) -> Result<String, RenderError> {
        let step = &sequence.steps[index];
        let name = note_name(&sequence.id, &step.id);
        if !self.meta.contains_key(&name) {
            return Ok(String::new());
        }
        let seed = seed(input.lead.email.as_str(), &sequence.id, &step.id);
        let ctx = context::build(input, sequence, index, seed);
        Ok(tidy_text(&self.render(&name, &ctx)?))
    }

    fn render(&self, name: &str, ctx: &tera::Context) -> Result<String, RenderError> {
        let file = || {
            self.meta
                .get(name)
                .map_or_else(|| name.to_string(), |m| m.file.clone())
        };
        let text = self
            .tera
            .render(name, ctx)
            .map_err(|e| match self.meta.get(name) {
                Some(m) => render_error(&e, m),
                None => RenderError {
                    file: file(),
                    line: None,
                    column: None,
                    kind: RenderErrorKind::Other(e.to_string()),
                },
            })?;
        // Nothing unrendered reaches a prospect: template syntax or a spintax group that was
        // never spun is an error, so the email is not sent and the rep sees why.
        match spintax::leftover(&text) {
            Some(found) => Err(RenderError {
                file: file(),
                line: self.meta.get(name).and_then(|m| line_of(m, &found)),
                column: None,
                kind: RenderErrorKind::Unrendered(found),
            }),
            None => Ok(text),
        }
    }
}

/// The file line where text left unrendered appears in the template's source, if it does.
fn line_of(m: &Meta, found: &str) -> Option<usize> {
    let probe: String = found.chars().take(12).collect();
    m.source
        .lines()
        .position(|l| l.contains(&probe))
        .map(|i| m.first_line + i)
}

fn note_name(sequence: &str, step: &str) -> String {
    format!("{sequence}/{step}.note")
}

/// Picks a variant by weight; the same seed always picks the same one.
fn pick_variant(variants: &[crate::sequence::Variant], seed: u64) -> &crate::sequence::Variant {
    let total: u64 = variants
        .iter()
        .map(|v| u64::from(v.weight))
        .sum::<u64>()
        .max(1);
    // Mix the seed so the variant choice is independent of spintax choices.
    let roll = fnv1a(&seed.to_le_bytes()) % total;
    let mut acc = 0u64;
    for v in variants {
        acc += u64::from(v.weight);
        if roll < acc {
            return v;
        }
    }
    variants
        .last()
        .expect("an email step has at least one variant")
}

/// `Re: ` + the thread's first subject, without stacking `Re: Re:`.
pub fn reply_subject(root: &str) -> String {
    let mut s = root.trim();
    loop {
        let lower = s.to_ascii_lowercase();
        // Re: (English), AW: (German), SV: (Nordic)
        if ["re:", "aw:", "sv:"].iter().any(|p| lower.starts_with(p)) {
            s = s[3..].trim_start();
        } else {
            break;
        }
    }
    format!("Re: {s}")
}

/// Subjects are one line: newlines and runs of spaces become one space.
fn one_line(s: &str) -> String {
    plain(s).split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Text that may go on the wire: every line end (CRLF, or a bare CR, which some SMTP servers
/// take for one: the precondition for SMTP smuggling) becomes LF, and every other control
/// character (NUL, ESC, DEL, C1) is dropped; tabs stay. Lead fields go through it before a
/// template sees them, and each rendered part after, so nothing from a spreadsheet reaches the
/// message raw.
pub fn plain(s: &str) -> std::borrow::Cow<'_, str> {
    let unwanted = |c: char| c.is_control() && c != '\n' && c != '\t';
    if !s.chars().any(unwanted) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() != Some(&'\n') {
                    out.push('\n');
                }
            }
            c if unwanted(c) => {}
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Plain text as a person would type it: LF line ends, no trailing spaces, no blank lines at
/// the ends or more than one blank line in a row, and a final newline.
fn tidy_text(s: &str) -> String {
    let s = plain(s);
    let mut out = String::with_capacity(s.len() + 1);
    let mut blank_run = 0;
    for line in s.lines() {
        let line = line.trim_end();
        if line.is_empty() {
            blank_run += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank_run > 0 { "\n\n" } else { "\n" });
        }
        blank_run = 0;
        out.push_str(line);
    }
    out.push('\n');
    out
}

//! Sequence files: the YAML a rep writes, parsed into a checked [`Sequence`].
//!
//! The template files that steps name are parsed here too (`template`), with the no-ask check
//! of follow-ups (`no_ask`); the catalog loads both and compiles them.

pub mod no_ask;
pub mod template;
mod yaml;

pub use template::{Subject, TemplateSource};

use std::collections::{BTreeSet, HashSet};

use chrono::NaiveDate;
use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::config::{Config, parse_tz};
use crate::diag::{Diagnostic, did_you_mean};
use crate::schedule::{SendWindow, Wait, Weekdays};

/// A checked sequence: everything the scheduler and renderer need, no raw strings left to parse.
#[derive(Debug, Clone)]
pub struct Sequence {
    /// Stable id (`cold-outbound`), used in the store and on the command line.
    pub id: String,
    /// Human name.
    pub name: String,
    /// The file it came from, as shown to the user.
    pub file: String,
    /// Mailboxes that send it; empty means "the lead owner's mailbox, else any mailbox".
    pub mailboxes: Vec<String>,
    /// When emails may leave, in the lead's time zone.
    pub window: SendWindow,
    /// What a reply or an auto-reply does.
    pub stop: StopRules,
    /// Ordered steps, at least one.
    pub steps: Vec<Step>,
    /// Click and open tracking for this sequence, over config.toml's `[tracking]`.
    pub tracking: SequenceTracking,
    /// Add a plain one-line unsubscribe footer to every email.
    pub unsubscribe_footer: bool,
}

/// `tracking:` in a sequence: turns config.toml's click or open tracking off (or on) for it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct SequenceTracking {
    /// Track clicks (unset: `[tracking] clicks`).
    #[serde(default)]
    pub clicks: Option<bool>,
    /// Track opens (unset: `[tracking] opens`).
    #[serde(default)]
    pub opens: Option<bool>,
}

/// What happens to other enrollments when a lead replies or auto-replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
pub struct StopRules {
    /// On a human reply.
    #[serde(default)]
    pub on_reply: OnReply,
    /// On an automatic reply (out of office).
    #[serde(default)]
    pub on_auto_reply: OnAutoReply,
}

/// On a human reply: stop the lead only, or every lead of the same account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OnReply {
    /// Stop this lead's enrollment.
    #[default]
    StopLead,
    /// Stop every active enrollment of leads at the same account (company domain).
    StopAccount,
}

/// On an auto-reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OnAutoReply {
    /// Pause until the return date stated in the auto-reply (or a few days when none is given).
    #[default]
    Pause,
    /// Carry on as if nothing happened.
    Continue,
}

/// One step of a sequence.
#[derive(Debug, Clone)]
pub struct Step {
    /// Stable id: renaming it makes it a new step for every lead.
    pub id: String,
    /// Wait after the previous step (or after enrollment, for the first).
    pub wait: Wait,
    /// Email or task.
    pub kind: StepKind,
    /// Line of the step in the sequence file.
    pub line: usize,
}

/// What a step does.
#[derive(Debug, Clone)]
pub enum StepKind {
    /// Send an email.
    Email(EmailStep),
    /// Ask the rep to do something by hand.
    Task(TaskStep),
}

/// An email step.
#[derive(Debug, Clone)]
pub struct EmailStep {
    /// One or more templates; with several, each lead gets one picked by weight, seeded by lead and step.
    pub variants: Vec<Variant>,
    /// Reply in the thread of the earlier email (`Re:` subject, In-Reply-To/References).
    pub thread: bool,
    /// A follow-up that gives value and asks for nothing.
    pub no_ask: bool,
}

/// One A/B variant of an email step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variant {
    /// Variant id (`a`, `b`); `main` when the step has a single template.
    pub id: String,
    /// Template name (`cold/intro`).
    pub template: String,
    /// Relative weight.
    pub weight: u32,
}

/// A manual step.
#[derive(Debug, Clone)]
pub struct TaskStep {
    /// Call, LinkedIn or custom.
    pub kind: TaskKind,
    /// Tera source of the note shown to the rep, when given.
    pub note: Option<String>,
    /// Line where the note starts in the sequence file.
    pub note_line: usize,
    /// Column of that line where the note's text starts.
    pub note_column: usize,
    /// Columns of indentation the file has before each later line of the note (a block
    /// note's indentation; 0 when unknown), so positions in the note map to the file.
    pub note_indent: usize,
}

/// Kind of manual task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    /// Phone call (leave a voicemail when nobody answers).
    Call,
    /// LinkedIn connection request or message.
    Linkedin,
    /// Anything else.
    Custom,
}

impl TaskKind {
    /// The name used in files and output.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskKind::Call => "call",
            TaskKind::Linkedin => "linkedin",
            TaskKind::Custom => "custom",
        }
    }
}

impl Step {
    /// The email part, when this is an email step.
    pub fn email(&self) -> Option<&EmailStep> {
        match &self.kind {
            StepKind::Email(e) => Some(e),
            StepKind::Task(_) => None,
        }
    }
}

impl Sequence {
    /// The step with this id.
    pub fn step(&self, id: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.id == id)
    }

    /// Index of the step with this id.
    pub fn step_index(&self, id: &str) -> Option<usize> {
        self.steps.iter().position(|s| s.id == id)
    }

    /// For a threaded email step, the step whose email starts its thread: the nearest earlier
    /// email step that is not itself threaded.
    pub fn thread_root(&self, index: usize) -> Option<&Step> {
        self.steps[..index]
            .iter()
            .rev()
            .find(|s| s.email().is_some_and(|e| !e.thread))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSequence {
    id: Spanned<String>,
    name: Option<String>,
    #[allow(dead_code)]
    description: Option<String>,
    #[serde(default)]
    mailboxes: Vec<Spanned<String>>,
    window: Option<RawWindow>,
    #[serde(default = "default_stop")]
    stop: StopRules,
    #[serde(default)]
    tracking: SequenceTracking,
    #[serde(default)]
    unsubscribe_footer: bool,
    steps: Spanned<Vec<RawStep>>,
}

fn default_stop() -> StopRules {
    StopRules {
        on_reply: OnReply::StopLead,
        on_auto_reply: OnAutoReply::Pause,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWindow {
    days: Option<Spanned<Vec<String>>>,
    hours: Option<Spanned<String>>,
    timezone: Option<Spanned<String>>,
    #[serde(default)]
    holidays: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    id: Spanned<String>,
    wait: Option<Spanned<String>>,
    template: Option<Spanned<String>>,
    #[serde(default)]
    thread: Option<Spanned<bool>>,
    #[serde(default)]
    no_ask: bool,
    variants: Option<Spanned<Vec<RawVariant>>>,
    task: Option<Spanned<TaskKind>>,
    note: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVariant {
    id: Spanned<String>,
    template: Spanned<String>,
    #[serde(default = "one")]
    weight: u32,
}

fn one() -> u32 {
    1
}

/// Where a parsed sequence points at a template, for the catalog to check.
pub struct TemplateRef {
    /// The name as written.
    pub name: String,
    /// Its line in the sequence file.
    pub line: usize,
    /// Its column.
    pub column: usize,
}

/// Parses one sequence file (`file` names it in diagnostics). Never panics, whatever the
/// text. Returns the sequence (when usable), every template it references
/// (with positions), and every problem found.
pub fn parse(
    text: &str,
    file: &str,
    config: &Config,
) -> (Option<Sequence>, Vec<TemplateRef>, Vec<Diagnostic>) {
    let mut problems = Vec::new();
    let mut refs = Vec::new();
    let raw: RawSequence = match serde_saphyr::from_str(text) {
        Ok(r) => r,
        Err(e) => {
            problems.push(yaml::yaml_error(file, text, &e));
            return (None, refs, problems);
        }
    };
    let err = |s: &serde_saphyr::Location, msg: String| {
        Diagnostic::error(
            file,
            Some(s.line() as usize),
            Some(s.column() as usize),
            msg,
        )
    };

    let id = raw.id.value.trim().to_string();
    if !valid_id(&id) {
        problems.push(err(
            &raw.id.referenced,
            format!(
                "sequence id {id:?} must be lowercase letters, digits and '-' (e.g. cold-outbound)"
            ),
        ));
    }

    let mut mailboxes = Vec::new();
    for m in &raw.mailboxes {
        if config.mailbox(&m.value).is_none() {
            let names = config.mailboxes.iter().map(|m| m.name.as_str());
            let mut d = err(&m.referenced, format!("unknown mailbox {:?}", m.value));
            if let Some(s) = did_you_mean(&m.value, names.clone()) {
                d = d.with_hint(format!("did you mean {s:?}?"));
            } else {
                d = d.with_hint(format!(
                    "config.toml defines: {}",
                    names.collect::<Vec<_>>().join(", ")
                ));
            }
            problems.push(d);
        } else {
            mailboxes.push(m.value.clone());
        }
    }

    let window = parse_window(raw.window.as_ref(), file, &mut problems);

    let mut steps = Vec::new();
    let mut seen = HashSet::new();
    let mut any_email = false;
    if raw.steps.value.is_empty() {
        problems.push(err(
            &raw.steps.referenced,
            "a sequence needs at least one step".into(),
        ));
    }
    for rs in &raw.steps.value {
        let sid = rs.id.value.trim().to_string();
        let line = rs.id.referenced.line() as usize;
        if !valid_id(&sid) {
            problems.push(err(
                &rs.id.referenced,
                format!(
                    "step id {sid:?} must be lowercase letters, digits and '-' (e.g. follow-up-2)"
                ),
            ));
        }
        if !seen.insert(sid.clone()) {
            problems.push(
                err(&rs.id.referenced, format!("duplicate step id {sid:?}"))
                    .with_hint("step ids are stable names; give each step its own"),
            );
        }
        let wait = match &rs.wait {
            None => Wait::ZERO,
            Some(w) => match w.value.parse::<Wait>() {
                Ok(w) => w,
                Err(e) => {
                    problems.push(err(
                        &w.referenced,
                        format!("step {sid:?} waits {:?}: {e}", w.value),
                    ));
                    Wait::ZERO
                }
            },
        };
        let kind = match (&rs.task, rs.template.is_some() || rs.variants.is_some()) {
            (Some(_), true) => {
                problems.push(err(
                    &rs.id.referenced,
                    format!(
                        "step {sid:?} has both task and template; a step is an email or a task"
                    ),
                ));
                None
            }
            (None, false) => {
                problems.push(
                    err(&rs.id.referenced, format!("step {sid:?} has neither template nor task"))
                        .with_hint("add `template: NAME` for an email or `task: call|linkedin|custom` for a manual step"),
                );
                None
            }
            (Some(task), false) => {
                if let Some(t) = &rs.thread {
                    problems.push(err(
                        &t.referenced,
                        format!("step {sid:?}: thread is only for email steps"),
                    ));
                }
                if rs.no_ask {
                    problems.push(err(
                        &rs.id.referenced,
                        format!("step {sid:?}: no_ask is only for email steps"),
                    ));
                }
                let (note_line, note_column, note_indent) = rs
                    .note
                    .as_ref()
                    .map_or((line, 1, 0), |n| scalar_start(text, &n.referenced));
                Some(StepKind::Task(TaskStep {
                    kind: task.value,
                    note: rs.note.as_ref().map(|n| n.value.clone()),
                    note_line,
                    note_column,
                    note_indent,
                }))
            }
            (None, true) => {
                if let Some(n) = &rs.note {
                    problems.push(err(
                        &n.referenced,
                        format!("step {sid:?}: note is only for task steps"),
                    ));
                }
                let thread = rs.thread.as_ref().is_some_and(|t| t.value);
                if thread && !any_email {
                    let at = rs
                        .thread
                        .as_ref()
                        .map_or(&rs.id.referenced, |t| &t.referenced);
                    problems.push(
                        err(at, format!("step {sid:?} has thread: true but no earlier email step to reply to"))
                            .with_hint("the first email of a sequence starts the thread; remove `thread: true`"),
                    );
                }
                any_email = true;
                let variants = parse_variants(rs, &sid, file, &mut refs, &mut problems);
                Some(StepKind::Email(EmailStep {
                    variants,
                    thread,
                    no_ask: rs.no_ask,
                }))
            }
        };
        if let Some(kind) = kind {
            steps.push(Step {
                id: sid,
                wait,
                kind,
                line,
            });
        }
    }

    if problems.iter().any(Diagnostic::is_error) {
        return (None, refs, problems);
    }
    let sequence = Sequence {
        name: raw.name.clone().unwrap_or_else(|| id.clone()),
        id,
        file: file.to_string(),
        mailboxes,
        window,
        stop: raw.stop,
        tracking: raw.tracking,
        unsubscribe_footer: raw.unsubscribe_footer,
        steps,
    };
    (Some(sequence), refs, problems)
}

fn parse_variants(
    rs: &RawStep,
    sid: &str,
    file: &str,
    refs: &mut Vec<TemplateRef>,
    problems: &mut Vec<Diagnostic>,
) -> Vec<Variant> {
    let mut push_ref = |t: &Spanned<String>| {
        refs.push(TemplateRef {
            name: t.value.clone(),
            line: t.referenced.line() as usize,
            column: t.referenced.column() as usize,
        });
    };
    match (&rs.template, &rs.variants) {
        (Some(t), None) => {
            push_ref(t);
            vec![Variant {
                id: "main".into(),
                template: normalize_template_name(&t.value),
                weight: 1,
            }]
        }
        (Some(t), Some(_)) => {
            problems.push(Diagnostic::error(
                file,
                Some(t.referenced.line() as usize),
                Some(t.referenced.column() as usize),
                format!(
                    "step {sid:?} has both template and variants; put each template under variants"
                ),
            ));
            Vec::new()
        }
        (None, Some(vs)) => {
            let mut ids = HashSet::new();
            let mut out = Vec::new();
            if vs.value.is_empty() {
                problems.push(Diagnostic::error(
                    file,
                    Some(vs.referenced.line() as usize),
                    Some(vs.referenced.column() as usize),
                    format!("step {sid:?} has an empty variants list"),
                ));
            }
            for v in &vs.value {
                push_ref(&v.template);
                let vid = v.id.value.trim().to_string();
                let at = (
                    Some(v.id.referenced.line() as usize),
                    Some(v.id.referenced.column() as usize),
                );
                if !valid_id(&vid) {
                    problems.push(Diagnostic::error(
                        file,
                        at.0,
                        at.1,
                        format!("variant id {vid:?} must be lowercase letters, digits and '-'"),
                    ));
                }
                if !ids.insert(vid.clone()) {
                    problems.push(Diagnostic::error(
                        file,
                        at.0,
                        at.1,
                        format!("step {sid:?}: duplicate variant id {vid:?}"),
                    ));
                }
                if v.weight == 0 {
                    problems.push(Diagnostic::error(
                        file,
                        at.0,
                        at.1,
                        format!("step {sid:?}: variant {vid:?} has weight 0; remove it instead"),
                    ));
                }
                out.push(Variant {
                    id: vid,
                    template: normalize_template_name(&v.template.value),
                    weight: v.weight,
                });
            }
            out
        }
        (None, None) => Vec::new(),
    }
}

fn parse_window(raw: Option<&RawWindow>, file: &str, problems: &mut Vec<Diagnostic>) -> SendWindow {
    let mut window = SendWindow::business_hours();
    let Some(raw) = raw else { return window };
    let err = |s: &serde_saphyr::Location, msg: String| {
        Diagnostic::error(
            file,
            Some(s.line() as usize),
            Some(s.column() as usize),
            msg,
        )
    };
    if let Some(days) = &raw.days {
        match Weekdays::parse_list(&days.value) {
            Ok(d) if d.is_empty() => problems.push(err(
                &days.referenced,
                "the send window has no days, so nothing would ever be sent".into(),
            )),
            Ok(d) => window.days = d,
            Err(e) => problems.push(err(&days.referenced, format!("window days: {e}"))),
        }
    }
    if let Some(hours) = &raw.hours {
        match SendWindow::parse_hours(&hours.value) {
            Ok((start, end)) => {
                window.start = start;
                window.end = end;
            }
            Err(e) => problems.push(err(
                &hours.referenced,
                format!("window hours {:?}: {e}", hours.value),
            )),
        }
    }
    if let Some(tz) = &raw.timezone {
        match parse_tz(&tz.value) {
            Ok(tz) => window.timezone = Some(tz),
            Err(e) => problems.push(err(&tz.referenced, e)),
        }
    }
    let mut holidays = BTreeSet::new();
    for h in &raw.holidays {
        match NaiveDate::parse_from_str(h.value.trim(), "%Y-%m-%d") {
            Ok(d) => {
                holidays.insert(d);
            }
            Err(_) => problems.push(err(
                &h.referenced,
                format!("holiday {:?} is not a date like 2026-12-25", h.value),
            )),
        }
    }
    window.holidays = holidays;
    window
}

/// Where the text of a string value starts in `text`: (line, column, indentation of its
/// later lines). A block scalar (`note: |`) starts on its own line, and every line of it is
/// indented alike; a quoted value starts after its quote.
fn scalar_start(text: &str, at: &serde_saphyr::Location) -> (usize, usize, usize) {
    let (line, column) = (at.line() as usize, at.column() as usize);
    let Some(source) = text.lines().nth(line.saturating_sub(1)) else {
        return (line, column, 0);
    };
    let before: String = source.chars().take(column.saturating_sub(1)).collect();
    if before.trim().is_empty() {
        return (line, column, column.saturating_sub(1));
    }
    match source.chars().nth(column.saturating_sub(1)) {
        Some('"' | '\'') => (line, column + 1, 0),
        _ => (line, column, 0),
    }
}

/// `cold/intro.txt` and `cold/intro` name the same template.
pub(crate) fn normalize_template_name(name: &str) -> String {
    let name = name
        .trim()
        .trim_start_matches("./")
        .trim_start_matches("templates/");
    name.strip_suffix(".txt")
        .or_else(|| name.strip_suffix(".html"))
        .unwrap_or(name)
        .to_string()
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

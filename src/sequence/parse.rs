//! Reading a sequence file: the YAML as written (`Raw*`), checked key by key into a
//! [`Sequence`], every problem at `file:line:col`.

use std::collections::{BTreeMap, HashSet};

use serde::Deserialize;
use serde_saphyr::{Location, Spanned};

use super::{
    EmailStep, OnAutoReply, OnReply, Sequence, SequenceTracking, Step, StepKind, StopRules,
    TaskKind, TaskStep, Variant, normalize_template_name, yaml,
};
use crate::config::{Config, parse_tz};
use crate::diag::{Diagnostic, did_you_mean};
use crate::schedule::{SendWindow, Wait, Weekdays};

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
    exclusive: Option<bool>,
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
    when: Option<Spanned<String>>,
    unless: Option<Spanned<String>>,
    goto: Option<Spanned<String>>,
    end: Option<Spanned<bool>>,
    on_outcome: Option<Spanned<BTreeMap<String, Spanned<String>>>>,
    review: Option<Spanned<super::review::RawReview>>,
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
    let raw: RawSequence = match serde_saphyr::from_str(text) {
        Ok(r) => r,
        Err(e) => return (None, Vec::new(), vec![yaml::yaml_error(file, text, &e)]),
    };
    let mut p = Parser {
        text,
        file,
        problems: Vec::new(),
        refs: Vec::new(),
    };
    let id = raw.id.value.trim().to_string();
    if !valid_id(&id) {
        p.error(
            &raw.id.referenced,
            format!(
                "sequence id {id:?} must be lowercase letters, digits and '-' (e.g. cold-outbound)"
            ),
        );
    }
    let mailboxes = p.mailboxes(&raw.mailboxes, config);
    let window = p.window(raw.window.as_ref());
    let (steps, targets) = p.steps(&raw.steps);
    let tracked = branch::Tracked {
        clicks: raw.tracking.clicks.unwrap_or(config.http.tracking.clicks),
        opens: raw.tracking.opens.unwrap_or(config.http.tracking.opens),
    };
    if !p.problems.iter().any(Diagnostic::is_error) {
        p.check_flow(&steps, &targets, tracked);
    }
    if p.problems.iter().any(Diagnostic::is_error) {
        return (None, p.refs, p.problems);
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
        exclusive: raw.exclusive,
        steps,
    };
    (Some(sequence), p.refs, p.problems)
}

mod branch;

/// One sequence file being read: its text, its name in diagnostics, and what was found so far.
struct Parser<'a> {
    text: &'a str,
    file: &'a str,
    problems: Vec<Diagnostic>,
    refs: Vec<TemplateRef>,
}

impl Parser<'_> {
    /// An error at `at` (not yet added: give it a hint, then push it).
    fn at(&self, at: &Location, msg: impl Into<String>) -> Diagnostic {
        Diagnostic::error(
            self.file,
            Some(at.line() as usize),
            Some(at.column() as usize),
            msg,
        )
    }

    /// Adds an error at `at`.
    fn error(&mut self, at: &Location, msg: impl Into<String>) {
        let d = self.at(at, msg);
        self.problems.push(d);
    }

    /// The mailboxes named that config.toml defines; each other one is a problem, with a
    /// did-you-mean or the list.
    fn mailboxes(&mut self, raw: &[Spanned<String>], config: &Config) -> Vec<String> {
        let mut mailboxes = Vec::new();
        for m in raw {
            if config.mailbox(&m.value).is_some() {
                mailboxes.push(m.value.clone());
                continue;
            }
            let names = config.mailboxes.iter().map(|m| m.name.as_str());
            let d = self.at(&m.referenced, format!("unknown mailbox {:?}", m.value));
            let d = match did_you_mean(&m.value, names.clone()) {
                Some(s) => d.with_hint(format!("did you mean {s:?}?")),
                None => d.with_hint(format!(
                    "config.toml defines: {}",
                    names.collect::<Vec<_>>().join(", ")
                )),
            };
            self.problems.push(d);
        }
        mailboxes
    }

    /// The steps that are usable, in order (at least one must be written), with the targets
    /// their branches name.
    fn steps(&mut self, raw: &Spanned<Vec<RawStep>>) -> (Vec<Step>, Vec<branch::Target>) {
        if raw.value.is_empty() {
            self.error(&raw.referenced, "a sequence needs at least one step");
        }
        let mut steps = Vec::new();
        let mut seen = HashSet::new();
        let mut any_email = false;
        let mut targets = Vec::new();
        for rs in &raw.value {
            let sid = rs.id.value.trim().to_string();
            if !valid_id(&sid) {
                self.error(
                    &rs.id.referenced,
                    format!(
                        "step id {sid:?} must be lowercase letters, digits and '-' (e.g. follow-up-2)"
                    ),
                );
            }
            if !seen.insert(sid.clone()) {
                let d = self
                    .at(&rs.id.referenced, format!("duplicate step id {sid:?}"))
                    .with_hint("step ids are stable names; give each step its own");
                self.problems.push(d);
            }
            let wait = self.wait(rs, &sid);
            let kind = self.step_kind(rs, &sid, &mut any_email);
            if let Some(kind) = kind {
                let is_task = matches!(kind, StepKind::Task(_));
                let flow = self.flow(rs, &sid, is_task, steps.len(), &mut targets);
                steps.push(Step {
                    id: sid,
                    wait,
                    kind,
                    line: rs.id.referenced.line() as usize,
                    flow,
                });
            }
        }
        (steps, targets)
    }

    /// A step's wait (none: at once).
    fn wait(&mut self, rs: &RawStep, sid: &str) -> Wait {
        let Some(w) = &rs.wait else {
            return Wait::ZERO;
        };
        w.value.parse::<Wait>().unwrap_or_else(|e| {
            self.error(
                &w.referenced,
                format!("step {sid:?} waits {:?}: {e}", w.value),
            );
            Wait::ZERO
        })
    }

    /// What a step does: an email (a template or variants) or a task, never both. `any_email`
    /// tells whether an earlier step was an email, which a threaded email replies to.
    fn step_kind(&mut self, rs: &RawStep, sid: &str, any_email: &mut bool) -> Option<StepKind> {
        match (&rs.task, rs.template.is_some() || rs.variants.is_some()) {
            (Some(_), true) => {
                self.error(
                    &rs.id.referenced,
                    format!(
                        "step {sid:?} has both task and template; a step is an email or a task"
                    ),
                );
                None
            }
            (None, false) => {
                let d = self
                    .at(&rs.id.referenced, format!("step {sid:?} has neither template nor task"))
                    .with_hint("add `template: NAME` for an email or `task: call|linkedin|custom` for a manual step");
                self.problems.push(d);
                None
            }
            (Some(task), false) => Some(StepKind::Task(self.task_step(rs, sid, task.value))),
            (None, true) => {
                let email = self.email_step(rs, sid, *any_email);
                *any_email = true;
                Some(StepKind::Email(email))
            }
        }
    }

    /// A task step: email-only keys are problems; the note keeps where its text starts.
    fn task_step(&mut self, rs: &RawStep, sid: &str, kind: TaskKind) -> TaskStep {
        if let Some(t) = &rs.thread {
            self.error(
                &t.referenced,
                format!("step {sid:?}: thread is only for email steps"),
            );
        }
        if rs.no_ask {
            self.error(
                &rs.id.referenced,
                format!("step {sid:?}: no_ask is only for email steps"),
            );
        }
        if let Some(r) = &rs.review {
            self.error(
                &r.referenced,
                format!("step {sid:?}: review is only for email steps"),
            );
        }
        let line = rs.id.referenced.line() as usize;
        let (note_line, note_column, note_indent) = rs
            .note
            .as_ref()
            .map_or((line, 1, 0), |n| scalar_start(self.text, &n.referenced));
        TaskStep {
            kind,
            note: rs.note.as_ref().map(|n| n.value.clone()),
            note_line,
            note_column,
            note_indent,
        }
    }

    /// An email step: a note is a problem, and so is a thread with no earlier email
    /// (`any_email`) to reply to.
    fn email_step(&mut self, rs: &RawStep, sid: &str, any_email: bool) -> EmailStep {
        if let Some(n) = &rs.note {
            self.error(
                &n.referenced,
                format!("step {sid:?}: note is only for task steps"),
            );
        }
        let thread = rs.thread.as_ref().is_some_and(|t| t.value);
        if thread && !any_email {
            let at = rs
                .thread
                .as_ref()
                .map_or(&rs.id.referenced, |t| &t.referenced);
            let d = self
                .at(
                    at,
                    format!("step {sid:?} has thread: true but no earlier email step to reply to"),
                )
                .with_hint(
                    "the first email of a sequence starts the thread; remove `thread: true`",
                );
            self.problems.push(d);
        }
        EmailStep {
            variants: self.variants(rs, sid),
            thread,
            no_ask: rs.no_ask,
            review: rs
                .review
                .as_ref()
                .and_then(|r| super::review::review(r, self.file, sid, &mut self.problems)),
        }
    }

    /// Notes where a template is named, for the catalog to check it exists.
    fn template_ref(&mut self, t: &Spanned<String>) {
        self.refs.push(TemplateRef {
            name: t.value.clone(),
            line: t.referenced.line() as usize,
            column: t.referenced.column() as usize,
        });
    }

    /// An email step's templates: one (`template`, variant `main`) or weighted variants.
    fn variants(&mut self, rs: &RawStep, sid: &str) -> Vec<Variant> {
        match (&rs.template, &rs.variants) {
            (Some(t), None) => {
                self.template_ref(t);
                vec![Variant {
                    id: "main".into(),
                    template: normalize_template_name(&t.value),
                    weight: 1,
                }]
            }
            (Some(t), Some(_)) => {
                self.error(
                    &t.referenced,
                    format!(
                        "step {sid:?} has both template and variants; put each template under variants"
                    ),
                );
                Vec::new()
            }
            (None, Some(vs)) => self.variant_list(vs, sid),
            (None, None) => Vec::new(),
        }
    }

    /// A step's `variants:` list: each with its own valid id and a weight above 0.
    fn variant_list(&mut self, vs: &Spanned<Vec<RawVariant>>, sid: &str) -> Vec<Variant> {
        let mut ids = HashSet::new();
        let mut out = Vec::new();
        if vs.value.is_empty() {
            self.error(
                &vs.referenced,
                format!("step {sid:?} has an empty variants list"),
            );
        }
        for v in &vs.value {
            self.template_ref(&v.template);
            let vid = v.id.value.trim().to_string();
            let at = &v.id.referenced;
            if !valid_id(&vid) {
                self.error(
                    at,
                    format!("variant id {vid:?} must be lowercase letters, digits and '-'"),
                );
            }
            if !ids.insert(vid.clone()) {
                self.error(at, format!("step {sid:?}: duplicate variant id {vid:?}"));
            }
            if v.weight == 0 {
                self.error(
                    at,
                    format!("step {sid:?}: variant {vid:?} has weight 0; remove it instead"),
                );
            }
            out.push(Variant {
                id: vid,
                template: normalize_template_name(&v.template.value),
                weight: v.weight,
            });
        }
        out
    }

    /// The send window: business hours unless the file says otherwise.
    fn window(&mut self, raw: Option<&RawWindow>) -> SendWindow {
        let mut window = SendWindow::business_hours();
        let Some(raw) = raw else { return window };
        if let Some(days) = &raw.days {
            match Weekdays::parse_list(&days.value) {
                Ok(d) if d.is_empty() => self.error(
                    &days.referenced,
                    "the send window has no days, so nothing would ever be sent",
                ),
                Ok(d) => window.days = d,
                Err(e) => self.error(&days.referenced, format!("window days: {e}")),
            }
        }
        if let Some(hours) = &raw.hours {
            match SendWindow::parse_hours(&hours.value) {
                Ok((start, end)) => {
                    window.start = start;
                    window.end = end;
                }
                Err(e) => self.error(
                    &hours.referenced,
                    format!("window hours {:?}: {e}", hours.value),
                ),
            }
        }
        if let Some(tz) = &raw.timezone {
            match parse_tz(&tz.value) {
                Ok(tz) => window.timezone = Some(tz),
                Err(e) => self.error(&tz.referenced, e),
            }
        }
        for h in &raw.holidays {
            match crate::schedule::holidays::Holiday::parse(&h.value) {
                Ok(holiday) => holiday.add_to(&mut window),
                Err(e) => self.error(&h.referenced, format!("holiday {e}")),
            }
        }
        window
    }
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

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

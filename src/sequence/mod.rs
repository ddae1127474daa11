//! Sequence files: the YAML a rep writes, parsed into a checked [`Sequence`].
//!
//! The template files that steps name are parsed here too (`template`), with the no-ask check
//! of follow-ups (`no_ask`); the catalog loads both and compiles them.

pub mod condition;
pub mod flow;
pub mod no_ask;
mod parse;
pub mod template;
mod yaml;

pub use flow::{Applies, StepFlow, Then};
pub use parse::{TemplateRef, parse};
pub use template::{Subject, TemplateSource};

use serde::Deserialize;

use crate::schedule::{SendWindow, Wait};

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
    /// When it runs (`when:`, `unless:`) and where the lead goes after it (`goto:`, `end:`,
    /// `on_outcome:`).
    pub flow: StepFlow,
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
    /// Whether a step's condition tests opens or clicks (the daemon reads them only then).
    pub fn tests_engagement(&self) -> bool {
        self.steps.iter().any(|s| {
            s.flow.guard.as_ref().is_some_and(|g| {
                g.expr
                    .tests()
                    .any(|t| !matches!(t.fact, condition::Fact::Field { .. }))
            })
        })
    }

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

//! Where a lead goes through a sequence: a step's condition (`when:` / `unless:`) says whether
//! it runs or is skipped, and its branch (`goto:`, `end:`, a task's `on_outcome:`) where the
//! lead goes after it. Gotos only point forward (validate refuses the rest), so a path never
//! loops and a step runs at most once per lead (DESIGN.md invariant 6).

use super::condition::{Expr, Facts, Truth};

/// A step's condition and branches.
#[derive(Debug, Clone, Default)]
pub struct StepFlow {
    /// When the step runs; none: always.
    pub guard: Option<Guard>,
    /// Where the lead goes after the step ran (its outcome aside).
    pub then: Then,
    /// For a task: where the lead goes after the task was done with an outcome, by outcome
    /// (normalized: lowercase, `-` for spaces and `_`).
    pub on_outcome: Vec<(String, Then)>,
}

/// `when: COND` or `unless: COND`.
#[derive(Debug, Clone)]
pub struct Guard {
    /// The condition.
    pub expr: Expr,
    /// Written as `unless:` (the step runs when the condition does not hold).
    pub unless: bool,
    /// The condition as written.
    pub text: String,
    /// Line of the condition in the sequence file.
    pub line: usize,
    /// Its column.
    pub column: usize,
}

/// Where a lead goes after a step.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Then {
    /// The next step in the file.
    #[default]
    Next,
    /// The named (later) step.
    Goto(String),
    /// The end: the enrollment finishes.
    End,
}

impl std::fmt::Display for Then {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Then::Next => f.write_str("next"),
            Then::Goto(s) => write!(f, "goto {s}"),
            Then::End => f.write_str("end"),
        }
    }
}

/// Whether a step runs for a lead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applies {
    /// No condition, or it holds.
    Yes,
    /// The condition does not hold: the step is skipped, with why.
    Skip(String),
    /// Depends on engagement, known at send time only.
    AtSendTime,
}

impl Guard {
    /// As written in the file: `when: …` or `unless: …`.
    pub fn shown(&self) -> String {
        format!(
            "{}: {}",
            if self.unless { "unless" } else { "when" },
            self.text
        )
    }
}

impl StepFlow {
    /// Whether the step runs for these facts.
    pub fn applies(&self, facts: Facts<'_>) -> Applies {
        let Some(g) = &self.guard else {
            return Applies::Yes;
        };
        let holds = match (g.expr.eval(facts), g.unless) {
            (Truth::Unknown, _) => return Applies::AtSendTime,
            (Truth::Yes, unless) => !unless,
            (Truth::No, unless) => unless,
        };
        if holds {
            Applies::Yes
        } else {
            Applies::Skip(format!("skipped: {} does not hold", g.shown()))
        }
    }

    /// Where the lead goes after the step ran with `outcome` (a task's, when done with one).
    pub fn route(&self, outcome: Option<&str>) -> &Then {
        outcome
            .map(normalize_outcome)
            .and_then(|o| self.on_outcome.iter().find(|(k, _)| *k == o))
            .map_or(&self.then, |(_, t)| t)
    }
}

/// An outcome as compared: `No answer`, `no_answer` and `no-answer` are one.
pub fn normalize_outcome(o: &str) -> String {
    o.trim()
        .to_lowercase()
        .split(|c: char| c.is_whitespace() || c == '_' || c == '-')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_are_matched_loosely() {
        assert_eq!(normalize_outcome(" No answer "), "no-answer");
        assert_eq!(normalize_outcome("no_answer"), "no-answer");
        let flow = StepFlow {
            guard: None,
            then: Then::Goto("bump".into()),
            on_outcome: vec![("connected".into(), Then::End)],
        };
        assert_eq!(flow.route(Some("Connected")), &Then::End);
        assert_eq!(flow.route(Some("voicemail")), &Then::Goto("bump".into()));
        assert_eq!(flow.route(None), &Then::Goto("bump".into()));
    }
}

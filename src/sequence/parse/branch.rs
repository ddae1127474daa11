//! A step's condition and branches as written (`when:`, `unless:`, `goto:`, `end:`,
//! `on_outcome:`), and the checks of the whole path once every step is known: gotos point at
//! later steps (so nothing loops), every step can be reached, engagement tests name earlier
//! emails and are tracked.

use std::collections::VecDeque;

use serde_saphyr::{Location, Spanned};

use super::{Parser, RawStep, scalar_start};
use crate::diag::{Diagnostic, did_you_mean};
use crate::sequence::condition::{self, Fact};
use crate::sequence::flow::{Guard, StepFlow, Then, normalize_outcome};
use crate::sequence::{Step, StepKind};

/// A step a branch names, as written, for the checks once every step is known.
pub(super) struct Target {
    /// Index of the step the branch leaves.
    from: usize,
    /// The step id named.
    to: String,
    /// Where it is written.
    at: Location,
}

/// Whether this sequence's emails track clicks and opens (a test of one that is not tracked
/// never holds).
#[derive(Clone, Copy)]
pub(super) struct Tracked {
    pub(super) clicks: bool,
    pub(super) opens: bool,
}

impl Parser<'_> {
    /// A step's condition and branches; `index` is its place among the usable steps.
    pub(super) fn flow(
        &mut self,
        rs: &RawStep,
        sid: &str,
        is_task: bool,
        index: usize,
        targets: &mut Vec<Target>,
    ) -> StepFlow {
        let guard = match (&rs.when, &rs.unless) {
            (Some(w), Some(u)) => {
                let d = self
                    .at(
                        &u.referenced,
                        format!("step {sid:?} has both when and unless"),
                    )
                    .with_hint("write one: `unless: X` runs the step when X does not hold");
                self.problems.push(d);
                self.guard(w, false)
            }
            (Some(w), None) => self.guard(w, false),
            (None, Some(u)) => self.guard(u, true),
            (None, None) => None,
        };
        let ends = rs.end.as_ref().is_some_and(|e| e.value);
        let then = match &rs.goto {
            Some(g) if ends => {
                self.error(
                    &g.referenced,
                    format!("step {sid:?} has both goto and end: true; keep one"),
                );
                Then::End
            }
            Some(g) => self.target(g, g.value.trim(), index, targets),
            None if ends => Then::End,
            None => Then::Next,
        };
        let mut on_outcome = Vec::new();
        if let Some(m) = &rs.on_outcome {
            if !is_task {
                let d = self
                    .at(&m.referenced, format!("step {sid:?}: on_outcome is only for task steps"))
                    .with_hint("a task's outcome is what the rep gives with `drumbeat task done ID --outcome …`");
                self.problems.push(d);
            }
            for (k, v) in &m.value {
                let then = self.branch(v, index, targets);
                on_outcome.push((normalize_outcome(k), then));
            }
        }
        StepFlow {
            guard,
            then,
            on_outcome,
        }
    }

    /// `when:` or `unless:`, parsed; a mistake is an error at its line and column.
    fn guard(&mut self, s: &Spanned<String>, unless: bool) -> Option<Guard> {
        let (line, column, _) = scalar_start(self.text, &s.referenced);
        match condition::parse(&s.value) {
            Ok(expr) => Some(Guard {
                expr,
                unless,
                text: s.value.trim().to_string(),
                line,
                column,
            }),
            Err(e) => {
                let kw = if unless { "unless" } else { "when" };
                self.problems.push(Diagnostic::error(
                    self.file,
                    Some(line),
                    Some(column + e.at),
                    format!("{kw}: {}", e.message),
                ));
                None
            }
        }
    }

    /// An `on_outcome:` value: `end`, `next`, `goto STEP` or just `STEP`.
    fn branch(&mut self, v: &Spanned<String>, from: usize, targets: &mut Vec<Target>) -> Then {
        match v.value.trim() {
            "end" => Then::End,
            "next" => Then::Next,
            t => {
                let id = t.strip_prefix("goto ").map_or(t, str::trim);
                self.target(v, id, from, targets)
            }
        }
    }

    fn target(
        &mut self,
        v: &Spanned<String>,
        id: &str,
        from: usize,
        targets: &mut Vec<Target>,
    ) -> Then {
        targets.push(Target {
            from,
            to: id.to_string(),
            at: v.referenced,
        });
        Then::Goto(id.to_string())
    }

    /// The checks of the whole path: targets exist and lie ahead, engagement tests name earlier
    /// emails and are tracked, every step can be reached.
    pub(super) fn check_flow(&mut self, steps: &[Step], targets: &[Target], tracked: Tracked) {
        let before = self.problems.len();
        for t in targets {
            let from = &steps[t.from].id;
            match steps.iter().position(|s| s.id == t.to) {
                None => {
                    let d = self.at(
                        &t.at,
                        format!(
                            "step {from:?} goes to {:?}, which is no step of this sequence",
                            t.to
                        ),
                    );
                    let d = match did_you_mean(&t.to, steps.iter().map(|s| s.id.as_str())) {
                        Some(s) => d.with_hint(format!("did you mean {s:?}?")),
                        None => d.with_hint("name a later step's id, or write end or next"),
                    };
                    self.problems.push(d);
                }
                Some(j) if j <= t.from => {
                    let d = self
                        .at(&t.at, format!("step {from:?} goes back to {:?}: a loop could email a lead forever", t.to))
                        .with_hint("a goto points at a later step (a lead runs each step once); copy the step to repeat it");
                    self.problems.push(d);
                }
                Some(_) => {}
            }
        }
        for (i, s) in steps.iter().enumerate() {
            self.check_engagement(steps, i, s, tracked);
        }
        if self.problems[before..].iter().any(Diagnostic::is_error) {
            return;
        }
        for i in unreachable(steps) {
            let d = Diagnostic::error(
                self.file,
                Some(steps[i].line),
                None,
                format!("step {:?} can never run: every path through the sequence ends or jumps past it", steps[i].id),
            )
            .with_hint("remove the step, or point a goto or an on_outcome at it");
            self.problems.push(d);
        }
    }

    /// `clicked STEP` / `opened STEP` name an earlier email step; a test of something this
    /// sequence does not track is a warning (it never holds).
    fn check_engagement(&mut self, steps: &[Step], i: usize, s: &Step, tracked: Tracked) {
        let Some(g) = &s.flow.guard else { return };
        for t in g.expr.tests() {
            let (named, what, on) = match &t.fact {
                Fact::Clicked(n) => (n, "clicked", tracked.clicks),
                Fact::Opened(n) => (n, "opened", tracked.opens),
                Fact::Field { .. } => continue,
            };
            if !on {
                let d = Diagnostic::warning(
                    self.file,
                    Some(g.line),
                    Some(g.column),
                    format!("step {:?} tests {what}, but this sequence does not track {what}; the test never holds", s.id),
                )
                .with_hint(format!("turn it on with `tracking: {{ {}: true }}` in the sequence or [tracking] in config.toml", if what == "clicked" { "clicks" } else { "opens" }));
                self.problems.push(d);
            }
            let Some(n) = named else { continue };
            let earlier = steps[..i]
                .iter()
                .any(|e| e.id == *n && matches!(e.kind, StepKind::Email(_)));
            if !earlier {
                let d = Diagnostic::error(
                    self.file,
                    Some(g.line),
                    Some(g.column),
                    format!("step {:?} tests {what} {n}, but {n:?} is not an earlier email step", s.id),
                )
                .with_hint("name an email step before this one, or leave the step out to test any earlier email");
                self.problems.push(d);
            }
        }
    }
}

/// The steps no path from the first step reaches. A step with a condition may be skipped
/// (on to the next); after a step ran, the lead follows its branch or any of its outcomes.
fn unreachable(steps: &[Step]) -> Vec<usize> {
    let n = steps.len();
    let index = |id: &str| steps.iter().position(|s| s.id == id);
    let mut seen = vec![false; n];
    let mut queue = VecDeque::from([0]);
    while let Some(i) = queue.pop_front() {
        if i >= n || seen[i] {
            continue;
        }
        seen[i] = true;
        let f = &steps[i].flow;
        if f.guard.is_some() {
            queue.push_back(i + 1);
        }
        for then in std::iter::once(&f.then).chain(f.on_outcome.iter().map(|(_, t)| t)) {
            match then {
                Then::Next => queue.push_back(i + 1),
                Then::Goto(id) => queue.extend(index(id)),
                Then::End => {}
            }
        }
    }
    (0..n).filter(|&i| !seen[i]).collect()
}

#[cfg(test)]
mod tests;

use std::path::Path;

use crate::config::Config;
use crate::diag::Diagnostic;
use crate::sequence::{Sequence, Then, parse};

fn config(extra: &str) -> Config {
    Config::parse(
        extra,
        "config.toml",
        Path::new("config.toml"),
        Path::new("."),
    )
    .expect("a config")
}

fn read(steps: &str) -> (Option<Sequence>, Vec<Diagnostic>) {
    let text = format!("id: s\nsteps:\n{steps}");
    let (s, _, problems) = parse(&text, "s.yaml", &config(""));
    (s, problems)
}

fn problems(steps: &str) -> Vec<String> {
    read(steps)
        .1
        .iter()
        .map(|d| {
            format!(
                "{}:{}: {}",
                d.line.unwrap_or(0),
                d.column.unwrap_or(0),
                d.message
            )
        })
        .collect()
}

const BRANCHED: &str = "  - { id: intro, template: t }
  - id: call
    task: call
    when: lead.phone
    on_outcome: { connected: end, wrong number: goto linkedin, voicemail: bump }
  - { id: linkedin, task: linkedin, unless: lead.phone }
  - { id: case, template: t, when: clicked intro, goto: break-up }
  - { id: bump, template: t }
  - { id: break-up, template: t }
";

#[test]
fn conditions_and_branches_are_read() {
    let (s, p) = read(BRANCHED);
    let s = s.unwrap_or_else(|| panic!("{p:?}"));
    let call = &s.steps[1].flow;
    assert_eq!(
        call.guard.as_ref().map(|g| g.shown()).as_deref(),
        Some("when: lead.phone")
    );
    assert_eq!(call.route(Some("Connected")), &Then::End);
    assert_eq!(
        call.route(Some("wrong-number")),
        &Then::Goto("linkedin".into())
    );
    assert_eq!(call.route(Some("voicemail")), &Then::Goto("bump".into()));
    assert_eq!(call.route(Some("no-answer")), &Then::Next);
    assert!(s.steps[2].flow.guard.as_ref().is_some_and(|g| g.unless));
    assert_eq!(s.steps[3].flow.then, Then::Goto("break-up".into()));
    assert!(s.tests_engagement());
    assert!(p.is_empty(), "{p:?}");
}

#[test]
fn a_goto_back_is_a_loop_and_refused_at_the_goto() {
    let p = problems("  - { id: a, template: t }\n  - { id: b, template: t, goto: a }\n");
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].starts_with("4:33: step \"b\" goes back to \"a\": a loop"),
        "{p:?}"
    );
    let own = problems("  - { id: a, template: t, goto: a }\n");
    assert!(own[0].contains("goes back to \"a\""), "{own:?}");
}

#[test]
fn a_step_nothing_reaches_is_refused() {
    let p = problems(
        "  - { id: a, template: t, goto: c }\n  - { id: b, template: t }\n  - { id: c, template: t }\n",
    );
    assert_eq!(
        p,
        ["4:0: step \"b\" can never run: every path through the sequence ends or jumps past it"]
    );
    // After an end, nothing runs; a condition makes the step skippable, so the next is reachable.
    let p = problems("  - { id: a, template: t, end: true }\n  - { id: b, template: t }\n");
    assert_eq!(p.len(), 1, "{p:?}");
    let p = problems(
        "  - { id: a, template: t, end: true, when: lead.phone }\n  - { id: b, template: t }\n",
    );
    assert!(p.is_empty(), "{p:?}");
    // An outcome branch reaches a step the default jumps over.
    let p = problems(
        "  - { id: a, task: call, goto: c, on_outcome: { no-answer: next } }\n  - { id: b, template: t }\n  - { id: c, template: t }\n",
    );
    assert!(p.is_empty(), "{p:?}");
}

#[test]
fn mistakes_in_branches_and_conditions_are_named_at_their_place() {
    let p =
        problems("  - { id: a, template: t, goto: brek-up }\n  - { id: break-up, template: t }\n");
    assert!(
        p[0].starts_with("3:33: step \"a\" goes to \"brek-up\", which is no step"),
        "{p:?}"
    );
    let p = problems("  - { id: a, template: t, when: \"lead.phone and clickd\" }\n");
    assert_eq!(
        p,
        [
            "3:49: when: unknown test \"clickd\"; write lead.FIELD, lead.FIELD == \"value\", lead.FIELD != \"value\", lead.FIELD contains \"text\", lead.FIELD matches \"regex\", clicked, clicked STEP, opened or opened STEP (each may follow not; join them with and, or)"
        ]
    );
    let p = problems("  - { id: a, template: t, on_outcome: { connected: end } }\n");
    assert!(p[0].contains("on_outcome is only for task steps"), "{p:?}");
    let p = problems(
        "  - { id: a, template: t }\n  - { id: b, template: t, when: clicked c }\n  - { id: c, template: t }\n",
    );
    assert!(
        p[0].contains("tests clicked c, but \"c\" is not an earlier email step"),
        "{p:?}"
    );
    let p = problems("  - { id: a, template: t, when: lead.phone, unless: lead.phone }\n");
    assert!(p[0].contains("both when and unless"), "{p:?}");
}

#[test]
fn a_test_of_opens_that_are_not_tracked_is_a_warning() {
    let (s, p) = read("  - { id: a, template: t }\n  - { id: b, template: t, when: not opened }\n");
    assert!(s.is_some());
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(!p[0].is_error());
    assert!(p[0].message.contains("does not track opened"), "{p:?}");
    let text = "id: s\ntracking: { opens: true }\nsteps:\n  - { id: a, template: t }\n  - { id: b, template: t, when: not opened }\n";
    let (_, _, p) = parse(text, "s.yaml", &config(""));
    assert!(p.is_empty(), "{p:?}");
}

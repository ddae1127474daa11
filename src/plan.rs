//! Where an enrollment stands in its sequence, given the touches it already has. Steps are
//! matched by id, so an edited sequence (steps added, removed, reordered) never repeats a step
//! a lead had, moves leads waiting at a removed step on to the next one, and applies new steps
//! to leads that have not passed them (DESIGN.md invariant 6).

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;

use crate::domain::{Next, PastTouch, TouchKind, fnv1a};
use crate::enrollment::TouchState;
use crate::schedule::{SendWindow, Wait};
use crate::sequence::{Sequence, Then};

/// Whether a past touch means "this step is behind the lead" (it ran, or is running, or was
/// skipped), as opposed to waiting to be (re)tried.
fn is_behind(t: &PastTouch) -> bool {
    match t.state {
        // An email waiting for a retry, or an open task: the lead waits at that step.
        TouchState::Scheduled => false,
        // A failure before anything was handed over (a render error) is retried on resume.
        TouchState::Failed => t.message_id.is_some(),
        TouchState::Sending | TouchState::Sent | TouchState::Uncertain | TouchState::Skipped => {
            true
        }
    }
}

/// The index of the step that is due now for an enrollment whose stored next step is
/// `stored`: that step if it still exists and has not run, else the first step after the
/// last one the lead passed (in the sequence's current order) that has not run. `None` when
/// every remaining step has run: the enrollment is finished.
pub fn current_step(seq: &Sequence, stored: Option<&str>, past: &[PastTouch]) -> Option<usize> {
    let behind = |id: &str| past.iter().any(|t| t.step_id == id && is_behind(t));
    if let Some(i) = stored.and_then(|s| seq.step_index(s))
        && !behind(&seq.steps[i].id)
    {
        return Some(i);
    }
    let Some(last) = seq.steps.iter().rposition(|s| behind(&s.id)) else {
        return (0..seq.steps.len()).find(|&i| !behind(&seq.steps[i].id));
    };
    // A skipped step's branch was not taken; a step that ran goes where its branch says.
    let skipped = past
        .iter()
        .any(|t| t.step_id == seq.steps[last].id && t.state == TouchState::Skipped);
    let from = if skipped {
        last + 1
    } else {
        start_after(seq, last, None)?
    };
    (from..seq.steps.len()).find(|&i| !behind(&seq.steps[i].id))
}

/// How a step was done, for where the path goes next.
#[derive(Debug, Clone, Copy)]
pub enum Done<'a> {
    /// It ran (a task: with the rep's outcome, when given): its branch is followed.
    Ran(Option<&'a str>),
    /// It was skipped (its condition, or the rep skipped the task): on to the next step.
    Skipped,
}

/// Where the path goes after step `done`, done as `how`: the index to look from (see
/// [`start_after`]).
pub fn start_from(seq: &Sequence, done: usize, how: Done<'_>) -> Option<usize> {
    match how {
        Done::Ran(outcome) => start_after(seq, done, outcome),
        Done::Skipped => Some(done + 1),
    }
}

/// Where the path goes after step `done` ran (with a task's `outcome`): the index of the step
/// to start looking from (`len` or more: past the last), or `None` when the branch ends the
/// enrollment.
pub fn start_after(seq: &Sequence, done: usize, outcome: Option<&str>) -> Option<usize> {
    match seq.steps[done].flow.route(outcome) {
        Then::Next => Some(done + 1),
        Then::Goto(id) => Some(seq.step_index(id).unwrap_or(done + 1)),
        Then::End => None,
    }
}

/// An instant moved into the window: `at` itself when the window is open then, else the next
/// opening plus a jitter of up to `jitter` seconds picked by `seed` (and kept inside that
/// day's window), so leads that wait for the same opening do not all leave at 09:00:00.
pub fn spread(
    window: &SendWindow,
    tz: Tz,
    at: DateTime<Utc>,
    seed: u64,
    jitter: i64,
) -> Option<DateTime<Utc>> {
    let open = window.next_opening(tz, at)?;
    if open == at || jitter <= 0 {
        return Some(open);
    }
    let local = open.with_timezone(&tz).naive_local();
    let end = local.date().and_time(window.end);
    let room = (end - local).num_seconds().clamp(1, jitter);
    let offset = i64::try_from(seed % u64::try_from(room).unwrap_or(1)).unwrap_or(0);
    Some(open + TimeDelta::seconds(offset))
}

/// When a step with `wait`, planned at `from`, goes out: after the wait, inside the window,
/// spread by jitter when it has to wait for an opening.
pub fn due_after(
    window: &SendWindow,
    tz: Tz,
    from: DateTime<Utc>,
    wait: Wait,
    seed: u64,
    jitter: i64,
) -> Option<DateTime<Utc>> {
    spread(window, tz, window.apply_wait(tz, from, wait), seed, jitter)
}

/// The seed of a lead's jitter at a step: stable, so a preview and the daemon agree.
pub fn jitter_seed(email: &str, sequence: &str, step: &str) -> u64 {
    fnv1a(format!("jitter:{email}:{sequence}:{step}").as_bytes())
}

/// Where the enrollment goes after step `done` ran at `at` (following its branch): the next
/// step that has not run, due after its wait, inside `window` (the sequence's, for this lead)
/// in `tz` (spread by `jitter` seconds when it waits for an opening); or finished.
pub fn next_after(
    seq: &Sequence,
    (window, tz): (&SendWindow, Tz),
    done: usize,
    past: &[PastTouch],
    at: DateTime<Utc>,
    email: &str,
    jitter: i64,
) -> Next {
    next_from(
        seq,
        start_after(seq, done, None),
        past,
        (window, at, tz),
        email,
        jitter,
    )
}

/// Where the enrollment goes from step index `start` on (`None`: the branch ended it), at
/// `at` in `tz`: the first step from there that has not run, due after its wait inside
/// `window` (the sequence's, for this lead); or finished.
pub fn next_from(
    seq: &Sequence,
    start: Option<usize>,
    past: &[PastTouch],
    (window, at, tz): (&SendWindow, DateTime<Utc>, Tz),
    email: &str,
    jitter: i64,
) -> Next {
    let ran = |id: &str| past.iter().any(|t| t.step_id == id && is_behind(t));
    let Some(start) = start else {
        return Next::Finished;
    };
    let Some(i) = (start..seq.steps.len()).find(|&i| !ran(&seq.steps[i].id)) else {
        return Next::Finished;
    };
    let step = &seq.steps[i];
    let seed = jitter_seed(email, &seq.id, &step.id);
    match due_after(window, tz, at, step.wait, seed, jitter) {
        Some(due) => Next::Step {
            id: step.id.clone(),
            due_at: due.timestamp(),
        },
        // A window that never opens again cannot send; validate refuses such sequences, so
        // this only happens with holidays covering years.
        None => Next::Finished,
    }
}

/// The Message-IDs of the thread a threaded step at `index` replies in, oldest first: the
/// emails sent from the thread's root step up to `index`.
pub fn thread_of(seq: &Sequence, index: usize, past: &[PastTouch]) -> Vec<String> {
    let Some(root) = seq.thread_root(index).and_then(|r| seq.step_index(&r.id)) else {
        return Vec::new();
    };
    let in_thread: Vec<&str> = seq.steps[root..index]
        .iter()
        .filter(|s| s.email().is_some())
        .map(|s| s.id.as_str())
        .collect();
    let mut sent: Vec<&PastTouch> = past
        .iter()
        .filter(|t| {
            t.kind == TouchKind::Email
                && matches!(t.state, TouchState::Sent | TouchState::Uncertain)
                && in_thread.contains(&t.step_id.as_str())
        })
        .collect();
    sent.sort_by_key(|t| (t.sent_at.unwrap_or(i64::MAX), t.id));
    sent.iter().filter_map(|t| t.message_id.clone()).collect()
}

/// The subject of the thread's first email as the lead saw it.
pub fn thread_subject(seq: &Sequence, index: usize, past: &[PastTouch]) -> Option<String> {
    let root = seq.thread_root(index)?;
    past.iter()
        .find(|t| t.step_id == root.id && t.kind == TouchKind::Email && t.state == TouchState::Sent)
        .and_then(|t| t.subject.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use std::path::Path;

    fn seq(steps: &str) -> Sequence {
        let config = Config::parse("", "config.toml", Path::new("config.toml"), Path::new("."))
            .expect("empty config");
        let text = format!(
            "id: s\nwindow:\n  days: [mon-fri]\n  hours: \"09:00-17:00\"\n  timezone: UTC\nsteps:\n{steps}"
        );
        let (s, _, problems) = crate::sequence::parse(&text, "s.yaml", &config);
        s.unwrap_or_else(|| panic!("{problems:?}"))
    }

    fn touch(step: &str, state: &str, kind: &str) -> PastTouch {
        PastTouch {
            id: 1,
            step_id: step.into(),
            kind: TouchKind::parse(kind).expect("email or task"),
            state: state.parse().expect("a touch state"),
            message_id: (kind == "email").then(|| format!("<{step}@x>")),
            subject: None,
            sent_at: Some(1),
            attempt: 1,
            mailbox: None,
        }
    }

    const FOUR: &str = "  - { id: a, wait: 0, template: t }\n  - { id: b, wait: 1 day, template: t, thread: true }\n  - { id: c, wait: 1 day, task: call }\n  - { id: d, wait: 1 day, template: t }\n";

    #[test]
    fn the_stored_step_is_current_until_it_ran() {
        let s = seq(FOUR);
        assert_eq!(
            current_step(&s, Some("b"), &[touch("a", "sent", "email")]),
            Some(1)
        );
        // A retry waits at its own step.
        let retry = PastTouch {
            state: TouchState::Scheduled,
            ..touch("b", "sent", "email")
        };
        assert_eq!(
            current_step(&s, Some("b"), &[touch("a", "sent", "email"), retry]),
            Some(1)
        );
        // An open task keeps the lead at it.
        let open = touch("c", "scheduled", "task");
        assert_eq!(current_step(&s, Some("c"), &[open]), Some(2));
    }

    #[test]
    fn a_lead_at_a_removed_step_moves_on_to_the_next_one() {
        // b was removed after a ran; the lead was waiting at b.
        let s = seq(
            "  - { id: a, wait: 0, template: t }\n  - { id: c, wait: 1 day, task: call }\n  - { id: d, wait: 1 day, template: t }\n",
        );
        assert_eq!(
            current_step(&s, Some("b"), &[touch("a", "sent", "email")]),
            Some(1)
        );
    }

    #[test]
    fn a_step_never_runs_twice_and_new_steps_apply_to_leads_that_have_not_passed_them() {
        // a and b ran; a new step x was inserted before b, and b moved after d.
        let s = seq(
            "  - { id: a, wait: 0, template: t }\n  - { id: x, wait: 1 day, template: t }\n  - { id: d, wait: 1 day, template: t }\n  - { id: b, wait: 1 day, template: t }\n",
        );
        let past = [touch("a", "sent", "email"), touch("b", "sent", "email")];
        // The lead passed b (now last): nothing after it is left.
        assert_eq!(current_step(&s, None, &past), None);
        // A lead that only had a gets the new step x.
        assert_eq!(
            current_step(&s, Some("b"), &[touch("a", "sent", "email")]),
            Some(3)
        );
        assert_eq!(
            current_step(&s, None, &[touch("a", "sent", "email")]),
            Some(1)
        );
        let at = DateTime::parse_from_rfc3339("2026-03-02T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        match next_after(
            &s,
            (&s.window, Tz::UTC),
            0,
            &[touch("a", "sent", "email")],
            at,
            "x@y.z",
            0,
        ) {
            Next::Step { id, .. } => assert_eq!(id, "x"),
            Next::Finished => panic!("finished too early"),
        }
        assert!(matches!(
            next_after(&s, (&s.window, Tz::UTC), 2, &past, at, "x@y.z", 0),
            Next::Finished
        ));
    }

    #[test]
    fn the_thread_is_the_emails_sent_since_its_root() {
        let s = seq(FOUR);
        let past = [touch("a", "sent", "email"), touch("b", "sent", "email")];
        assert_eq!(thread_of(&s, 1, &past[..1]), vec!["<a@x>".to_string()]);
        // d starts a new thread; e replies in d's thread only.
        let s = seq(&format!(
            "{FOUR}  - {{ id: e, wait: 1 day, template: t, thread: true }}\n"
        ));
        let past = [
            touch("a", "sent", "email"),
            touch("b", "sent", "email"),
            touch("d", "sent", "email"),
        ];
        assert_eq!(thread_of(&s, 4, &past), vec!["<d@x>".to_string()]);
    }

    #[test]
    fn jitter_spreads_an_opening_but_stays_in_the_window() {
        let s = seq(FOUR);
        let friday_night = DateTime::parse_from_rfc3339("2026-03-06T20:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let monday_nine = DateTime::parse_from_rfc3339("2026-03-09T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut seen = std::collections::HashSet::new();
        for seed in 0..200u64 {
            let t = spread(
                &s.window,
                Tz::UTC,
                friday_night,
                fnv1a(&seed.to_le_bytes()),
                1200,
            )
            .expect("opens");
            assert!(
                t >= monday_nine && t < monday_nine + TimeDelta::seconds(1200),
                "{t}"
            );
            seen.insert(t);
        }
        assert!(
            seen.len() > 100,
            "jitter spreads: {} distinct times",
            seen.len()
        );
        // Inside the window nothing moves.
        let inside = monday_nine + TimeDelta::hours(2);
        assert_eq!(spread(&s.window, Tz::UTC, inside, 7, 1200), Some(inside));
    }
}

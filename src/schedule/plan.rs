//! Where an enrollment stands in its sequence, given the touches it already has. Steps are
//! matched by id, so an edited sequence (steps added, removed, reordered) never repeats a step
//! a lead had, moves leads waiting at a removed step on to the next one, and applies new steps
//! to leads that have not passed them (DESIGN.md invariant 6).

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;

use super::{SendWindow, Wait};
use crate::catalog::Sequence;
use crate::store::{Next, PastTouch};

/// Whether a past touch means "this step is behind the lead" (it ran, or is running, or was
/// skipped), as opposed to waiting to be (re)tried.
fn is_behind(t: &PastTouch) -> bool {
    match t.state.as_str() {
        "scheduled" => t.kind == "task", // an open task: the lead waits at it
        "failed" => t.message_id.is_some(),
        _ => true,
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
    let last_passed = seq.steps.iter().rposition(|s| behind(&s.id));
    let from = last_passed.map_or(0, |i| i + 1);
    (from..seq.steps.len()).find(|&i| !behind(&seq.steps[i].id))
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
    crate::render::fnv1a(format!("jitter:{email}:{sequence}:{step}").as_bytes())
}

/// Where the enrollment goes after step `done` ran at `at`: the next step that has not run,
/// due after its wait, inside the window in `tz` (spread by `jitter` seconds when it waits for
/// an opening); or finished.
pub fn next_after(
    seq: &Sequence,
    done: usize,
    past: &[PastTouch],
    at: DateTime<Utc>,
    tz: Tz,
    email: &str,
    jitter: i64,
) -> Next {
    let ran = |id: &str| past.iter().any(|t| t.step_id == id && is_behind(t));
    let Some(i) = (done + 1..seq.steps.len()).find(|&i| !ran(&seq.steps[i].id)) else {
        return Next::Finished;
    };
    let step = &seq.steps[i];
    let seed = jitter_seed(email, &seq.id, &step.id);
    match due_after(&seq.window, tz, at, step.wait, seed, jitter) {
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
            t.kind == "email"
                && matches!(t.state.as_str(), "sent" | "uncertain")
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
        .find(|t| t.step_id == root.id && t.kind == "email" && t.state == "sent")
        .and_then(|t| t.subject.clone())
}

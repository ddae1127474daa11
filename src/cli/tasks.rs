//! `drumbeat tasks`, `drumbeat task done|skip ID`, and `drumbeat resolve TOUCH`: the work a
//! person does for the daemon (a call, a LinkedIn touch, deciding about an uncertain send).

use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::output::{print_json, rfc3339, utc};
use super::task_times::TaskTimes;
use super::{Failure, Outcome, load_catalog, load_config, now, open_store};
use crate::context::{next_after_done, resolve_as_sent};
use crate::enrollment::TouchState;
use crate::import::intake::enroll_request;
use crate::plan::Done;
use crate::policy::REFERRAL_TASK;
use crate::store::{EnrollOutcome, Next, TaskFilter, TaskFinish};

/// Flags of `tasks`.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Only this rep's tasks (a mailbox name).
    #[arg(long, value_name = "NAME")]
    mailbox: Option<String>,
    /// Only tasks from before today (in the rep's time zone: the owner mailbox's).
    #[arg(long)]
    overdue: bool,
    /// Also done and skipped tasks.
    #[arg(long, conflicts_with = "overdue")]
    all: bool,
    /// Print as JSON.
    #[arg(long)]
    json: bool,
}

/// `task done` / `task skip`.
#[derive(Debug, clap::Subcommand)]
pub enum TaskCommand {
    /// Mark a task done; the lead moves on to the next step.
    Done(DoneArgs),
    /// Skip a task; the lead moves on to the next step.
    Skip(SkipArgs),
}

/// Flags of `task done`.
#[derive(Debug, clap::Args)]
pub struct DoneArgs {
    /// The task id (from `drumbeat tasks`).
    id: i64,
    /// What happened: connected, voicemail, no-answer, wrong-number, or your own word.
    #[arg(long, value_name = "OUTCOME")]
    outcome: Option<String>,
    /// A note for the timeline.
    #[arg(long)]
    note: Option<String>,
}

/// Flags of `task skip`.
#[derive(Debug, clap::Args)]
pub struct SkipArgs {
    /// The task id.
    id: i64,
    /// Why.
    #[arg(long)]
    note: Option<String>,
}

/// Flags of `resolve`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("verdict").required(true).args(["sent", "not_sent"])))]
pub struct ResolveArgs {
    /// The touch id (from `drumbeat status`).
    touch: i64,
    /// The message did reach the server (you found it in the Sent folder or at the
    /// recipient): record it as sent and move the lead on.
    #[arg(long)]
    sent: bool,
    /// It did not: send it again at the next tick, with the same Message-ID.
    #[arg(long)]
    not_sent: bool,
}

#[derive(Serialize)]
struct TaskOut<'a> {
    #[serde(flatten)]
    task: &'a crate::store::TaskRow,
    due: Option<String>,
    #[serde(flatten)]
    times: TaskTimes,
}

pub async fn list(config_path: &Path, args: ListArgs) -> Outcome {
    let config = load_config(config_path)?;
    let store = open_store(&config).await?;
    let now = now();
    let tasks = store
        .tasks(&TaskFilter {
            owner: args.mailbox.as_deref(),
            due_before: args.overdue.then_some(now.timestamp()),
            all: args.all,
        })
        .await?;
    // Overdue: due before today began in the rep's own zone.
    let out: Vec<TaskOut<'_>> = tasks
        .iter()
        .map(|t| TaskOut {
            task: t,
            due: rfc3339(Some(t.due_at)),
            times: TaskTimes::of(&config, t, now),
        })
        .filter(|t| !args.overdue || t.times.overdue)
        .collect();
    if args.json {
        return print_json(&out);
    }
    if out.is_empty() {
        say!("no tasks");
        return Ok(());
    }
    for t in &out {
        let task = t.task;
        let name = [task.first_name.as_deref(), task.last_name.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        say!(
            "#{} {} {} {}{}  due {}{}",
            task.id,
            task.kind,
            task.email,
            if name.is_empty() {
                String::new()
            } else {
                format!("({name}")
            },
            match (&task.company, name.is_empty()) {
                (Some(c), false) => format!(", {c})"),
                (_, false) => ")".to_string(),
                _ => String::new(),
            },
            t.times.shown(),
            if t.times.overdue { "  OVERDUE" } else { "" }
        );
        if task.state != "open" {
            say!(
                "    {} {}",
                task.state,
                task.outcome.as_deref().unwrap_or("")
            );
        }
        if let Some(phone) = &task.phone {
            say!("    phone: {phone}");
        }
        if let (Some(seq), Some(step)) = (&task.sequence_id, &task.step_id) {
            say!(
                "    from {seq} / {step}; owner {}",
                task.owner.as_deref().unwrap_or("-")
            );
        }
        if let Some(note) = task.note.as_deref().filter(|n| !n.is_empty()) {
            for line in note.lines() {
                say!("    | {line}");
            }
        }
    }
    Ok(())
}

pub async fn task(config_path: &Path, cmd: TaskCommand) -> Outcome {
    let (id, state, outcome, note) = match &cmd {
        TaskCommand::Done(a) => (a.id, "done", a.outcome.as_deref(), a.note.as_deref()),
        TaskCommand::Skip(a) => (a.id, "skipped", None, a.note.as_deref()),
    };
    let config = load_config(config_path)?;
    let catalog = load_catalog(&config)?;
    let store = open_store(&config).await?;
    let Some(t) = store.task(id).await? else {
        return Err(Failure::failed(format!(
            "no task #{id}; see `drumbeat tasks`"
        )));
    };
    let now = now();
    let next = match t.touch_id {
        Some(touch) => match store.touch(touch).await? {
            Some(info) => {
                let how = match &cmd {
                    TaskCommand::Done(_) => Done::Ran(outcome),
                    TaskCommand::Skip(_) => Done::Skipped,
                };
                next_after_done(&config, &catalog, &store, &info, (now, how)).await?
            }
            None => Next::Finished,
        },
        None => Next::Finished,
    };
    match store
        .finish_task(id, state, outcome, note, &next, now.timestamp())
        .await?
    {
        TaskFinish::Finished if t.kind == REFERRAL_TASK => {
            let what = match state {
                "done" => enroll_referred(&config, &catalog, &store, &t, now.timestamp()).await?,
                _ => format!("{} is not enrolled", t.email),
            };
            say!("task #{id} {state}; {what}");
            Ok(())
        }
        TaskFinish::Finished => {
            say!("task #{id} {state}; {}", describe_next(&next));
            Ok(())
        }
        TaskFinish::Unknown => Err(Failure::failed(format!("no task #{id}"))),
        TaskFinish::AlreadyClosed(s) => Err(Failure::failed(format!("task #{id} is already {s}"))),
    }
}

/// A referral approved: the referred lead enters the sequence the referring lead was in,
/// through the ordinary enrollment (suppressions and the rules every enrollment keeps).
async fn enroll_referred(
    config: &crate::config::Config,
    catalog: &crate::catalog::Catalog,
    store: &crate::store::Store,
    t: &crate::store::TaskRow,
    now: i64,
) -> Result<String, Failure> {
    let sequence = t.sequence_id.as_deref().unwrap_or_default();
    let Some(seq) = catalog.sequence(sequence) else {
        return Err(Failure::failed(format!(
            "{} is not enrolled: the sequence {sequence:?} is no longer in sequences/; \
             enroll them with `drumbeat enroll SEQUENCE {}`",
            t.email, t.email
        )));
    };
    let email = crate::lead::Email::parse(&t.email).map_err(|e| Failure::failed(e.to_string()))?;
    let Some(lead) = store.lead_by_email(&email).await? else {
        return Err(Failure::failed(format!("{} is no lead any more", t.email)));
    };
    let request = enroll_request(config, seq, &lead.record, lead.id, now);
    let due = request.due_at;
    // The referred person is enrolled as any lead is: under [enrollment]'s rules.
    let (rules, by) = (
        super::enroll::rules(config, catalog),
        super::enroll::forced_by("task done"),
    );
    let admission = crate::store::Admission {
        rules: &rules,
        force: false,
        by: &by,
    };
    let outcome = store
        .enroll_under(&seq.id, &[request], &admission, now, false)
        .await?;
    Ok(match outcome.first() {
        Some(EnrollOutcome::Refused(why)) => format!(
            "{} is not enrolled: {why} (`drumbeat enroll {} {} --force` overrides)",
            t.email, seq.id, t.email
        ),
        Some(EnrollOutcome::Enrolled(_) | EnrollOutcome::Forced(..)) => format!(
            "{} enrolled in {}; first step due {}",
            t.email,
            seq.id,
            utc(Some(due))
        ),
        Some(EnrollOutcome::Suppressed) => {
            format!("{} is suppressed: not enrolled", t.email)
        }
        _ => format!("{} is already in {}", t.email, seq.id),
    })
}

fn describe_next(next: &Next) -> String {
    match next {
        Next::Step { id, due_at } => format!("next step {id:?} due {}", utc(Some(*due_at))),
        Next::Finished => "that was the last step".into(),
    }
}

pub async fn resolve(config_path: &Path, args: ResolveArgs) -> Outcome {
    let config = load_config(config_path)?;
    let catalog = load_catalog(&config)?;
    let store = open_store(&config).await?;
    let Some(t) = store.touch(args.touch).await? else {
        return Err(Failure::failed(format!(
            "no touch #{}; `drumbeat status` lists uncertain sends",
            args.touch
        )));
    };
    if t.state != TouchState::Uncertain.as_str() {
        return Err(Failure::failed(format!(
            "touch #{} is {}, not uncertain; nothing to resolve",
            t.id, t.state
        )));
    }
    let now: DateTime<Utc> = now();
    if args.not_sent {
        store.resolve_not_sent(t.id, now.timestamp()).await?;
        say!(
            "touch #{} will be sent again at the next tick, with the same Message-ID {}",
            t.id,
            t.message_id.as_deref().unwrap_or("-")
        );
        return Ok(());
    }
    let next =
        resolve_as_sent(&config, &catalog, &store, &t, "resolved by hand: sent", now).await?;
    say!("touch #{} recorded as sent; {}", t.id, describe_next(&next));
    Ok(())
}

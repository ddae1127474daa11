//! `drumbeat mailbox list` and `drumbeat mailbox resume NAME`: each sending mailbox's health
//! (hard-bounce and complaint rates over its latest sends, refusals of the sender today) and
//! whether it is paused for it; resuming starts its count afresh.

use std::path::Path;

use serde::Serialize;

use super::output::{print_json, rfc3339};
use super::{Failure, Outcome, load_config, now, open_store};
use crate::policy::{self, HealthFigures};

/// `mailbox …`.
#[derive(Debug, clap::Subcommand)]
pub enum MailboxCommand {
    /// Each mailbox's health, and whether it is paused.
    List(ListArgs),
    /// Let a mailbox paused for its health send again (after fixing the cause).
    Resume(ResumeArgs),
}

/// Flags of `mailbox list`.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Print as JSON.
    #[arg(long)]
    json: bool,
}

/// Flags of `mailbox resume`.
#[derive(Debug, clap::Args)]
pub struct ResumeArgs {
    /// The mailbox's name (as in config.toml).
    name: String,
}

/// One mailbox in `mailbox list --json`.
#[derive(Serialize)]
struct Row {
    mailbox: String,
    /// ok or paused.
    state: &'static str,
    paused_at: Option<String>,
    why: Option<String>,
    #[serde(flatten)]
    figures: HealthFigures,
}

pub async fn run(config_path: &Path, cmd: MailboxCommand) -> Outcome {
    match cmd {
        MailboxCommand::List(a) => list(config_path, a).await,
        MailboxCommand::Resume(a) => resume(config_path, a).await,
    }
}

async fn list(config_path: &Path, args: ListArgs) -> Outcome {
    let config = load_config(config_path)?;
    let store = open_store(&config).await?;
    let t = now().timestamp();
    let pauses = store.mailbox_pauses().await?;
    let limits = &config.health;
    let mut rows = Vec::new();
    for m in &config.mailboxes {
        let figures = store
            .mailbox_figures(&m.name, limits.bounce_window, limits.complaint_window, t)
            .await?;
        let pause = pauses.iter().find(|p| p.mailbox == m.name);
        rows.push(Row {
            mailbox: m.name.clone(),
            state: if pause.is_some() { "paused" } else { "ok" },
            paused_at: pause.and_then(|p| rfc3339(Some(p.paused_at))),
            why: pause.map(|p| p.why.clone()).or_else(|| {
                policy::mailbox_health(figures, limits).map(|w| format!("over a limit: {w}"))
            }),
            figures,
        });
    }
    if args.json {
        return print_json(&rows);
    }
    for r in &rows {
        let f = &r.figures;
        say!(
            "{:<16} {:<7} hard bounces {}/{} sends, complaints {}/{} sends, sender refusals today {}",
            r.mailbox,
            r.state,
            f.hard_bounces,
            f.bounce_sends,
            f.complaints,
            f.complaint_sends,
            f.blocks_today
        );
        if let Some(why) = &r.why {
            say!("  {why}");
        }
        if r.state == "paused" {
            say!("  resume with: drumbeat mailbox resume {}", r.mailbox);
        }
    }
    Ok(())
}

async fn resume(config_path: &Path, args: ResumeArgs) -> Outcome {
    let config = load_config(config_path)?;
    if config.mailbox(&args.name).is_none() {
        return Err(Failure::usage(format!(
            "no mailbox named {:?} in {}",
            args.name,
            config.path.display()
        )));
    }
    let store = open_store(&config).await?;
    if store.resume_mailbox(&args.name, now().timestamp()).await? {
        say!(
            "{}: resumed; its leads go on at their next window",
            args.name
        );
    } else {
        say!("{}: was not paused", args.name);
    }
    Ok(())
}

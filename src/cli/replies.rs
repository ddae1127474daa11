//! `drumbeat replies` and `drumbeat reply handled ID`: the mail from leads that a person should
//! read (human replies, "contact me later" without a date), until the rep marks it handled.

use std::path::Path;

use serde::Serialize;

use super::output::{print_json, rfc3339, utc};
use super::{Failure, Outcome, load_config, now, open_store};

/// Flags of `replies`.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Also replies already handled, and everything else recorded (auto-replies, bounces…).
    #[arg(long)]
    all: bool,
    /// At most this many, newest first.
    #[arg(long, default_value_t = 100)]
    limit: i64,
    /// Print as JSON.
    #[arg(long)]
    json: bool,
}

/// `reply handled`.
#[derive(Debug, clap::Subcommand)]
pub enum ReplyCommand {
    /// Mark a reply as dealt with; it leaves "needs attention".
    Handled(HandledArgs),
}

/// Flags of `reply handled`.
#[derive(Debug, clap::Args)]
pub struct HandledArgs {
    /// The reply's id (from `drumbeat status` or `drumbeat replies`).
    id: i64,
    /// What came of it, for reports: interested, not-interested, referral, meeting-booked, or
    /// your own word.
    #[arg(long, value_name = "OUTCOME")]
    outcome: Option<String>,
}

#[derive(Serialize)]
struct ReplyOut<'a> {
    #[serde(flatten)]
    row: &'a crate::store::InboundRow,
    received: Option<String>,
    handled: Option<String>,
}

pub async fn list(config_path: &Path, args: ListArgs) -> Outcome {
    let config = load_config(config_path)?;
    let store = open_store(&config).await?;
    let rows = store.inbound(args.all, args.limit.max(0)).await?;
    let out: Vec<ReplyOut<'_>> = rows
        .iter()
        .map(|r| ReplyOut {
            row: r,
            received: rfc3339(Some(r.received_at)),
            handled: rfc3339(r.handled_at),
        })
        .collect();
    if args.json {
        return print_json(&out);
    }
    if out.is_empty() {
        say!("no replies waiting");
        return Ok(());
    }
    for r in &out {
        let row = r.row;
        // A reply's intent, as the watcher read it: "reply (meeting-request)".
        let kind = match row.evidence.get("intent").and_then(|i| i.as_str()) {
            Some(i) if i != "unclear" => format!("{} ({i})", row.kind),
            _ => row.kind.clone(),
        };
        say!(
            "#{} {} {} {}  ({}){}",
            row.id,
            utc(Some(row.received_at)),
            kind,
            row.email.as_deref().unwrap_or("-"),
            row.rule,
            row.outcome
                .as_deref()
                .map(|o| format!("  handled: {o}"))
                .unwrap_or_default()
        );
        if let Some(s) = row.evidence.get("snippet").and_then(|s| s.as_str()) {
            for line in s.lines().take(4) {
                say!("    | {line}");
            }
        }
    }
    Ok(())
}

pub async fn reply(config_path: &Path, cmd: ReplyCommand) -> Outcome {
    let ReplyCommand::Handled(args) = cmd;
    let config = load_config(config_path)?;
    let store = open_store(&config).await?;
    if store
        .handle_reply(args.id, args.outcome.as_deref(), now().timestamp())
        .await?
    {
        say!("reply #{} handled", args.id);
        Ok(())
    } else {
        Err(Failure::failed(format!(
            "no unhandled reply #{}; see `drumbeat replies`",
            args.id
        )))
    }
}

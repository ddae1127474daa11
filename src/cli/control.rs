//! `pause EMAIL`, `resume EMAIL`, `stop`, `suppress`, `unsuppress`, `suppressions`, `forget`.

use std::io::IsTerminal;
use std::path::Path;

use serde::Serialize;

use super::holds::Target;
use super::output::{print_json, utc};
use super::{Failure, Outcome, load_config, now, open_store, parse_email};
use crate::enrollment::EnrollmentState;
use crate::store::HoldScope;

/// Flags of `pause`, `resume` and `stop`.
#[derive(Debug, clap::Args)]
pub struct StateArgs {
    /// The lead's email address.
    email: String,
    /// Only the enrollment in this sequence.
    #[arg(long, value_name = "ID")]
    sequence: Option<String>,
    /// Why (kept in the lead's timeline).
    #[arg(long, default_value = "by hand")]
    reason: String,
    /// Print the changes as JSON.
    #[arg(long)]
    json: bool,
}

/// Flags of `pause`.
#[derive(Debug, clap::Args)]
pub struct PauseArgs {
    /// The lead's email address; or name --mailbox or --sequence alone to pause many leads.
    email: Option<String>,
    /// A rep's mailbox (a vacation): every lead whose emails and tasks come from it waits;
    /// other mailboxes are untouched.
    #[arg(long, value_name = "NAME", conflicts_with_all = ["email", "sequence"])]
    mailbox: Option<String>,
    /// With EMAIL, only the lead's enrollment in this sequence; alone, every lead of it.
    #[arg(long, value_name = "ID")]
    sequence: Option<String>,
    /// With --mailbox or --sequence: when the pause starts (a date, whose day it starts, or
    /// 2026-12-24T13:00 local, or RFC 3339); now by default. Dates are read in the mailbox's
    /// time zone (config.toml's for a sequence).
    #[arg(long, value_name = "DATE", conflicts_with = "email")]
    from: Option<String>,
    /// With --mailbox or --sequence: the last day of the pause (sending resumes the next
    /// day), or an exact local time or RFC 3339 instant; until `resume` without it.
    #[arg(long, value_name = "DATE", conflicts_with = "email")]
    until: Option<String>,
    /// Why (kept in the leads' timelines and shown in status).
    #[arg(long, default_value = "by hand")]
    reason: String,
    /// Print the changes as JSON.
    #[arg(long)]
    json: bool,
}

/// Flags of `resume`.
#[derive(Debug, clap::Args)]
pub struct ResumeArgs {
    /// The lead's email address; or name --mailbox or --sequence alone.
    email: Option<String>,
    /// End the pause of this mailbox (`pause --mailbox`): what waited is due at once.
    #[arg(long, value_name = "NAME", conflicts_with_all = ["email", "sequence"])]
    mailbox: Option<String>,
    /// With EMAIL, only the lead's enrollment in this sequence; alone, end the sequence's
    /// pause.
    #[arg(long, value_name = "ID")]
    sequence: Option<String>,
    /// Why (kept in the lead's timeline).
    #[arg(long, default_value = "by hand")]
    reason: String,
    /// Print the changes as JSON.
    #[arg(long)]
    json: bool,
}

/// What `pause`/`resume` without EMAIL names, or a usage error when it names nothing.
fn many<'a>(mailbox: Option<&'a str>, sequence: Option<&'a str>) -> Result<Target<'a>, Failure> {
    match (mailbox, sequence) {
        (Some(name), _) => Ok(Target {
            scope: HoldScope::Mailbox,
            name,
        }),
        (None, Some(name)) => Ok(Target {
            scope: HoldScope::Sequence,
            name,
        }),
        (None, None) => Err(Failure::usage(
            "name a lead (EMAIL), a rep's mailbox (--mailbox NAME) or a sequence (--sequence ID)",
        )),
    }
}

/// `pause`: one lead (EMAIL), or a planned pause of a mailbox or a sequence.
pub async fn pause(config_path: &Path, a: PauseArgs) -> Outcome {
    let Some(email) = a.email else {
        let target = many(a.mailbox.as_deref(), a.sequence.as_deref())?;
        let span = (a.from.as_deref(), a.until.as_deref());
        return super::holds::pause(config_path, target, span, &a.reason, a.json).await;
    };
    let args = StateArgs {
        email,
        sequence: a.sequence,
        reason: a.reason,
        json: a.json,
    };
    change_state(config_path, args, EnrollmentState::Paused).await
}

/// `resume`: one lead (EMAIL), or the end of a mailbox's or a sequence's pause.
pub async fn resume(config_path: &Path, a: ResumeArgs) -> Outcome {
    let Some(email) = a.email else {
        let target = many(a.mailbox.as_deref(), a.sequence.as_deref())?;
        return super::holds::resume(config_path, target).await;
    };
    let args = StateArgs {
        email,
        sequence: a.sequence,
        reason: a.reason,
        json: a.json,
    };
    change_state(config_path, args, EnrollmentState::Active).await
}

/// Flags of `suppress`.
#[derive(Debug, clap::Args)]
pub struct SuppressArgs {
    /// An email address, or @domain for every address at a domain.
    value: String,
    /// Why (kept on the list).
    #[arg(long)]
    note: Option<String>,
}

/// Flags of `unsuppress`.
#[derive(Debug, clap::Args)]
pub struct UnsuppressArgs {
    /// An email address or @domain.
    value: String,
}

/// Flags of `suppressions`.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Print as JSON.
    #[arg(long)]
    json: bool,
}

/// Flags of `forget`.
#[derive(Debug, clap::Args)]
pub struct ForgetArgs {
    /// The person's email address.
    email: String,
    /// Do not ask for confirmation.
    #[arg(long, short)]
    yes: bool,
}

pub async fn change_state(config_path: &Path, args: StateArgs, to: EnrollmentState) -> Outcome {
    let email = parse_email(&args.email)?;
    let config = load_config(config_path)?;
    let store = open_store(&config).await?;
    let Some(lead) = store.lead_by_email(&email).await? else {
        return Err(Failure::failed(format!("no lead {email}")));
    };
    let changes = store
        .change_state(
            lead.id,
            args.sequence.as_deref(),
            to,
            &args.reason,
            now().timestamp(),
        )
        .await?;
    if args.json {
        return print_json(&changes);
    }
    if changes.is_empty() {
        let enrollments = store.enrollments_for_lead(lead.id).await?;
        let states: Vec<String> = enrollments
            .iter()
            .filter(|e| args.sequence.as_deref().is_none_or(|s| s == e.sequence_id))
            .map(|e| format!("{} is {}", e.sequence_id, e.state))
            .collect();
        let detail = if states.is_empty() {
            "no enrollments".to_string()
        } else {
            states.join(", ")
        };
        return Err(Failure::failed(format!(
            "{email}: nothing to change to {to} ({detail})"
        )));
    }
    for c in &changes {
        say!("{email}: {} {} -> {}", c.sequence_id, c.from, c.to);
    }
    Ok(())
}

/// An address or `@domain`, normalized.
fn suppression_value(raw: &str) -> Result<String, Failure> {
    let raw = raw.trim();
    if let Some(domain) = raw.strip_prefix('@') {
        let domain = domain.trim().to_lowercase();
        // Reuse the address parser to validate the domain.
        parse_email(&format!("x@{domain}"))?;
        return Ok(format!("@{domain}"));
    }
    Ok(parse_email(raw)?.to_string())
}

pub async fn suppress(config_path: &Path, args: SuppressArgs) -> Outcome {
    let value = suppression_value(&args.value)?;
    let config = load_config(config_path)?;
    let store = open_store(&config).await?;
    if store
        .suppress(&value, "manual", args.note.as_deref(), now().timestamp())
        .await?
    {
        say!("{value}: suppressed; open enrollments stopped");
    } else {
        say!("{value}: already suppressed");
    }
    Ok(())
}

pub async fn unsuppress(config_path: &Path, args: UnsuppressArgs) -> Outcome {
    let value = suppression_value(&args.value)?;
    let config = load_config(config_path)?;
    let store = open_store(&config).await?;
    if store.unsuppress(&value, now().timestamp()).await? {
        say!("{value}: removed from the suppression list (stopped enrollments stay stopped)");
        Ok(())
    } else {
        Err(Failure::failed(format!(
            "{value} is not on the suppression list"
        )))
    }
}

#[derive(Serialize)]
struct Entry {
    value: String,
    reason: String,
    note: Option<String>,
    created_at: Option<String>,
}

pub async fn list(config_path: &Path, args: ListArgs) -> Outcome {
    let config = load_config(config_path)?;
    let store = open_store(&config).await?;
    let rows = store.suppressions().await?;
    if args.json {
        let entries: Vec<Entry> = rows
            .into_iter()
            .map(|r| Entry {
                value: r.value,
                reason: r.reason,
                note: r.note,
                created_at: super::output::rfc3339(Some(r.created_at)),
            })
            .collect();
        return print_json(&entries);
    }
    for r in &rows {
        say!(
            "{}  {:<14} {}{}",
            utc(Some(r.created_at)),
            r.reason,
            r.value,
            r.note
                .as_deref()
                .map(|n| format!("  ({n})"))
                .unwrap_or_default()
        );
    }
    if rows.is_empty() {
        say!("(the suppression list is empty)");
    }
    Ok(())
}

pub async fn forget(config_path: &Path, args: ForgetArgs) -> Outcome {
    let email = parse_email(&args.email)?;
    if !args.yes {
        if !std::io::stdin().is_terminal() {
            return Err(Failure::usage(
                "forget erases data for good; pass --yes to confirm",
            ));
        }
        eprint!("Erase everything about {email} and never email them again? [y/N] ");
        let mut answer = String::new();
        std::io::stdin()
            .read_line(&mut answer)
            .map_err(|e| Failure::failed(e.to_string()))?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            return Err(Failure::failed("not confirmed; nothing changed"));
        }
    }
    let config = load_config(config_path)?;
    let store = open_store(&config).await?;
    let had = store.forget(&email, now().timestamp()).await?;
    if had {
        say!("{email}: erased; only a hash stays on the suppression list");
    } else {
        say!("{email}: no data stored; added a hash to the suppression list");
    }
    Ok(())
}

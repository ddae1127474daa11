//! `drumbeat enroll`: imported leads into a sequence, under the `[enrollment]` rules (one
//! exclusive sequence at a time, the re-contact interval, the account cap), which `--force`
//! overrides, logged.

use std::path::Path;

use serde::Serialize;

use super::leads::{report_capped, unknown_sequence};
use super::output::{print_json, rfc3339};
use super::{Failure, Outcome, load_catalog, load_config, now, open_store, parse_email};
use crate::catalog::Catalog;
use crate::config::Config;
use crate::import::enroll_request;
use crate::policy::EnrollRules;
use crate::store::{Admission, EnrollOutcome, Store, StoredLead};

/// Flags of `enroll`.
#[derive(Debug, clap::Args)]
pub struct EnrollArgs {
    /// The sequence id.
    sequence: String,
    /// Email addresses of imported leads.
    #[arg(required = true)]
    emails: Vec<String>,
    /// Enroll even where a rule of [enrollment] refuses (already active in another sequence,
    /// contacted recently, the account's cap); each forced enrollment is logged and shows in
    /// the lead's timeline.
    #[arg(long)]
    force: bool,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

/// The JSON of `enroll --json`: one entry per address.
#[derive(Serialize)]
struct EnrollResult {
    email: String,
    result: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    due_at: Option<String>,
    /// A refusal's detail (`active_in`, `possible_from`, `account`, `cap`), or for a forced
    /// enrollment the rule it overrode (`forced`).
    #[serde(flatten)]
    detail: serde_json::Map<String, serde_json::Value>,
    #[serde(skip)]
    reason: Option<String>,
}

/// The rules of config.toml's `[enrollment]` with the sequences' own `exclusive:`.
pub(super) fn rules(config: &Config, catalog: &Catalog) -> EnrollRules {
    EnrollRules::new(&config.enrollment, catalog)
}

/// Who forces an enrollment from the command line, for the log and the timeline:
/// `cli enroll (user ana)`.
pub(super) fn forced_by(command: &str) -> String {
    match std::env::var("USER") {
        Ok(u) if !u.is_empty() => format!("cli {command} (user {u})"),
        _ => format!("cli {command}"),
    }
}

pub async fn enroll(config_path: &Path, args: EnrollArgs) -> Outcome {
    let emails = args
        .emails
        .iter()
        .map(|e| parse_email(e))
        .collect::<Result<Vec<_>, _>>()?;
    let config = load_config(config_path)?;
    let catalog = load_catalog(&config)?;
    let seq = catalog
        .sequence(&args.sequence)
        .ok_or_else(|| unknown_sequence(&args.sequence, &catalog))?;
    let store = open_store(&config).await?;
    let now = now().timestamp();
    let mut results = Vec::new();
    let mut leads = Vec::new();
    for email in &emails {
        match store.lead_by_email(email).await? {
            Some(l) => leads.push(l),
            None => results.push(result(email.to_string(), "not-found")),
        }
    }
    route_unowned(&store, &config, &leads, now).await?;
    let requests: Vec<_> = leads
        .iter()
        .map(|l| enroll_request(&config, seq, &l.record, l.id, now))
        .collect();
    let (rules, by) = (rules(&config, &catalog), forced_by("enroll"));
    let admission = Admission {
        rules: &rules,
        force: args.force,
        by: &by,
    };
    let outcomes = store
        .enroll_under(&seq.id, &requests, &admission, now, false)
        .await?;
    for (req, o) in requests.iter().zip(outcomes) {
        results.push(outcome(req.email.to_string(), o, req.due_at));
    }
    // Unknown and refused leads fail the command (exit 1); a forced one does not.
    let failed = results
        .iter()
        .any(|r| r.result == "not-found" || r.result != "enrolled" && r.reason.is_some());
    if args.json {
        print_json(&results)?;
    } else {
        print_enrolled(&results, &seq.id);
    }
    if failed {
        Err(Failure::silent())
    } else {
        Ok(())
    }
}

fn result(email: String, result: &'static str) -> EnrollResult {
    EnrollResult {
        email,
        result,
        due_at: None,
        detail: serde_json::Map::new(),
        reason: None,
    }
}

/// One lead's line of `enroll`: a refusal with its detail and reason, a forced enrollment
/// with the rule it overrode.
fn outcome(email: String, o: EnrollOutcome, due_at: i64) -> EnrollResult {
    match o {
        EnrollOutcome::Enrolled(_) => EnrollResult {
            due_at: rfc3339(Some(due_at)),
            ..result(email, "enrolled")
        },
        EnrollOutcome::Forced(_, why) => {
            let mut detail = serde_json::Map::new();
            detail.insert("forced".into(), why.to_json());
            EnrollResult {
                due_at: rfc3339(Some(due_at)),
                detail,
                reason: Some(why.to_string()),
                ..result(email, "enrolled")
            }
        }
        EnrollOutcome::AlreadyEnrolled => result(email, "already-enrolled"),
        EnrollOutcome::Suppressed => result(email, "suppressed"),
        EnrollOutcome::Refused(why) => {
            let mut detail = why.to_json().as_object().cloned().unwrap_or_default();
            detail.remove("result");
            EnrollResult {
                detail,
                reason: Some(why.to_string()),
                ..result(email, why.name())
            }
        }
    }
}

/// Leads enrolled without an owner get one by the [[route]] rules.
async fn route_unowned(
    store: &Store,
    config: &Config,
    leads: &[StoredLead],
    now: i64,
) -> Result<(), Failure> {
    let mut records: Vec<_> = leads
        .iter()
        .filter(|l| l.record.owner.is_none())
        .map(|l| l.record.clone())
        .collect();
    if records.is_empty() || config.routing.rules.is_empty() {
        return Ok(());
    }
    let mut refs: Vec<_> = records.iter_mut().collect();
    let summary = crate::routing::route(store, config, &mut refs, true, false, now).await?;
    let unowned = leads.iter().filter(|l| l.record.owner.is_none());
    let changes: Vec<_> = unowned
        .zip(&records)
        .filter_map(|(l, r)| r.owner.as_deref().map(|o| (l, o)))
        .collect();
    store.change_owners(&changes, now).await?;
    report_capped(&summary);
    Ok(())
}

/// `enroll` for a person: one line per address (unknown and refused ones on stderr).
fn print_enrolled(results: &[EnrollResult], sequence: &str) {
    for r in results {
        let due = r.due_at.as_deref().unwrap_or("");
        match (r.result, &r.reason) {
            ("not-found", _) => eprintln!(
                "{}: no such lead; import it first (drumbeat leads import FILE.csv)",
                r.email
            ),
            ("enrolled", Some(why)) => say!(
                "{}: enrolled in {sequence} by force ({why}), first step due {due}",
                r.email
            ),
            ("enrolled", None) => say!("{}: enrolled in {sequence}, first step due {due}", r.email),
            ("already-enrolled", _) => say!("{}: already in {sequence}", r.email),
            ("suppressed", _) => say!("{}: suppressed, not enrolled", r.email),
            (name, why) => eprintln!(
                "{}: not enrolled ({name}): {}; --force enrolls anyway",
                r.email,
                why.as_deref().unwrap_or("")
            ),
        }
    }
}

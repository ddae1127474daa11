//! `drumbeat leads import|show` and `drumbeat enroll`.

mod show;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};

use super::output::{parse_encoding, print_json};
use super::{Failure, Outcome, load_catalog, load_config, now, open_store, parse_email};
use crate::import::{ImportOptions, ImportSummary, import_sheet};
use crate::lead::{ColumnMap, Email, LeadFile};
use crate::routing::RouteSummary;
use crate::store::{Admission, Store, StoredLead};

/// `drumbeat leads …`
#[derive(Debug, clap::Subcommand)]
pub enum LeadsCommand {
    /// Import leads from a CSV export (Excel, Google Sheets, a CRM). Rows are matched by email:
    /// new ones are added, changed ones updated, bad ones reported with their row number.
    Import(ImportArgs),
    /// Everything about one lead: fields, enrollments, touches and events.
    Show(ShowArgs),
    /// Give leads an owner by the [[route]] rules of config.toml: the leads named (routed
    /// again even when they have an owner), or every lead without one.
    Assign(AssignArgs),
    /// Move every lead of one rep to another (when someone leaves). Their next emails leave
    /// from the new owner's mailbox as new threads.
    Reassign(ReassignArgs),
}

/// Flags of `leads assign`.
#[derive(Debug, clap::Args)]
pub struct AssignArgs {
    /// Email addresses of stored leads.
    #[arg(
        required_unless_present = "all_unowned",
        conflicts_with = "all_unowned"
    )]
    emails: Vec<String>,
    /// Every lead that has no owner.
    #[arg(long)]
    all_unowned: bool,
    /// Print as JSON.
    #[arg(long)]
    json: bool,
}

/// Flags of `leads reassign`.
#[derive(Debug, clap::Args)]
pub struct ReassignArgs {
    /// The rep whose leads move (a mailbox name, or an owner as stored).
    #[arg(long, value_name = "REP")]
    from: String,
    /// The mailbox that owns them from now on.
    #[arg(long, value_name = "MAILBOX")]
    to: String,
    /// Print as JSON.
    #[arg(long)]
    json: bool,
}

/// Flags of `leads import`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The contacts: a CSV or tab-separated export, or a vCard file (.vcf).
    file: PathBuf,
    /// Enroll the imported leads into this sequence (not those already in it or suppressed).
    #[arg(long, value_name = "ID")]
    sequence: Option<String>,
    /// Make this mailbox the owner of every imported lead.
    #[arg(long, value_name = "MAILBOX")]
    owner: Option<String>,
    /// Check and count everything; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// The file's encoding when it is not UTF-8 (Excel's legacy CSV: windows-1252).
    #[arg(long, value_parser = parse_encoding)]
    encoding: Option<&'static encoding_rs::Encoding>,
    /// Feed a column to a field, e.g. --map "Correo electrónico=email" (repeatable; fields:
    /// email, first_name, last_name, name, company, title, timezone, phone, owner, ignore,
    /// custom:KEY).
    #[arg(long = "map", value_name = "COLUMN=FIELD")]
    map: Vec<String>,
    /// A TOML file of such pairs under [columns]; --map pairs override it.
    #[arg(long, value_name = "FILE")]
    mapping: Option<PathBuf>,
    /// With --sequence: enroll even where a rule of [enrollment] refuses (already active in
    /// another sequence, contacted recently, the account's cap); logged, and shown in each
    /// lead's timeline.
    #[arg(long, requires = "sequence")]
    force: bool,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

/// Flags of `leads show`.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// The lead's email address.
    email: String,
    /// Print as JSON.
    #[arg(long)]
    json: bool,
}

pub async fn run(config_path: &Path, cmd: LeadsCommand) -> Outcome {
    match cmd {
        LeadsCommand::Import(a) => import(config_path, a).await,
        LeadsCommand::Show(a) => show(config_path, a).await,
        LeadsCommand::Assign(a) => assign(config_path, a).await,
        LeadsCommand::Reassign(a) => reassign(config_path, a).await,
    }
}

async fn assign(config_path: &Path, args: AssignArgs) -> Outcome {
    let config = load_config(config_path)?;
    if config.routing.rules.is_empty() {
        return Err(Failure::usage(
            "config.toml has no [[route]] rules; add some (see docs/leads.md, Routing leads)"
                .to_string(),
        ));
    }
    let emails = args
        .emails
        .iter()
        .map(|e| parse_email(e))
        .collect::<Result<Vec<_>, _>>()?;
    let store = open_store(&config).await?;
    let leads = if args.all_unowned {
        store.unowned_leads().await?
    } else {
        stored_leads(&store, &emails).await?
    };
    let mut records: Vec<_> = leads
        .iter()
        .map(|l| {
            let mut r = l.record.clone();
            r.owner = None;
            r
        })
        .collect();
    let mut refs: Vec<_> = records.iter_mut().collect();
    let now = now().timestamp();
    let summary = crate::routing::route(&store, &config, &mut refs, true, false, now).await?;
    let changes: Vec<_> = leads
        .iter()
        .zip(&records)
        .filter_map(|(l, r)| r.owner.as_deref().map(|o| (l, o)))
        .collect();
    let changed = store.change_owners(&changes, now).await?;
    print_assigned(args.json, leads.len(), &changes, changed, &summary)
}

/// The stored lead of each address, in order; an address with none fails the command.
async fn stored_leads(store: &Store, emails: &[Email]) -> Result<Vec<StoredLead>, Failure> {
    let mut leads = Vec::new();
    for email in emails {
        match store.lead_by_email(email).await? {
            Some(l) => leads.push(l),
            None => {
                return Err(Failure::failed(format!(
                    "{email}: no such lead; import it first (drumbeat leads import FILE.csv)"
                )));
            }
        }
    }
    Ok(leads)
}

/// What `leads assign` did to `n` leads: `changes` are their owners by the rules, of which
/// `changed` differ from before.
fn print_assigned(
    json: bool,
    n: usize,
    changes: &[(&StoredLead, &str)],
    changed: u64,
    summary: &RouteSummary,
) -> Outcome {
    if json {
        let moved: Vec<_> = changes
            .iter()
            .filter(|(l, o)| l.record.owner.as_deref() != Some(*o))
            .map(|(l, o)| {
                serde_json::json!({
                    "email": l.record.email.as_str(),
                    "owner": o,
                    "from": l.record.owner,
                })
            })
            .collect();
        return print_json(&serde_json::json!({
            "leads": n,
            "assigned": changed,
            "kept": summary.routed - changed,
            "unmatched": summary.unmatched,
            "capped": summary.capped.iter().map(|(g, n)| serde_json::json!({ "group": g, "leads": n })).collect::<Vec<_>>(),
            "changes": moved,
        }));
    }
    for (l, o) in changes {
        if l.record.owner.as_deref() != Some(*o) {
            say!("{}: {o}", l.record.email);
        }
    }
    say!(
        "assigned {changed} of {n} leads ({} kept their owner, {} matched no rule)",
        summary.routed - changed,
        summary.unmatched
    );
    report_capped(summary);
    Ok(())
}

/// Warns about leads left without an owner because every rep of their group is at their cap.
pub(super) fn report_capped(summary: &RouteSummary) {
    for (group, n) in &summary.capped {
        eprintln!(
            "warning: {n} leads left without an owner: every rep of group {group:?} is at their max_open; \
             run `drumbeat leads assign --all-unowned` when they have room"
        );
    }
}

async fn reassign(config_path: &Path, args: ReassignArgs) -> Outcome {
    let config = load_config(config_path)?;
    let Some(to) = config.mailbox(&args.to) else {
        let names: Vec<&str> = config.mailboxes.iter().map(|m| m.name.as_str()).collect();
        return Err(Failure::usage(format!(
            "--to {:?} is not a mailbox in config.toml (mailboxes: {})",
            args.to,
            names.join(", ")
        )));
    };
    let from = crate::import::resolve_owner(&config, &args.from, &mut Default::default());
    let store = open_store(&config).await?;
    let leads = store.leads_owned_by(&from).await?;
    let changes: Vec<_> = leads.iter().map(|l| (l, to.name.as_str())).collect();
    let moved = store.change_owners(&changes, now().timestamp()).await?;
    if args.json {
        return print_json(&serde_json::json!({ "from": from, "to": to.name, "moved": moved }));
    }
    say!(
        "moved {moved} leads from {from} to {}; their next emails start new threads from {}",
        to.name,
        to.from
    );
    Ok(())
}

async fn import(config_path: &Path, args: ImportArgs) -> Outcome {
    let config = load_config(config_path)?;
    if let Some(owner) = &args.owner
        && config.mailbox(owner).is_none()
    {
        let names: Vec<&str> = config.mailboxes.iter().map(|m| m.name.as_str()).collect();
        return Err(Failure::usage(format!(
            "--owner {owner:?} is not a mailbox in config.toml (mailboxes: {})",
            names.join(", ")
        )));
    }
    let catalog = match &args.sequence {
        Some(_) => Some(load_catalog(&config)?),
        None => None,
    };
    let sequence = match (&args.sequence, &catalog) {
        (Some(id), Some(c)) => Some(c.sequence(id).ok_or_else(|| unknown_sequence(id, c))?),
        _ => None,
    };
    // An unusable file (missing, no email column…) fails before the store is opened, so it
    // leaves no trace, not even a new empty store.
    let map = column_map(&args)?;
    let reader = LeadFile::open(&args.file, args.encoding, &map)
        .map_err(|e| Failure::failed(e.to_string()))?;
    let store = open_store(&config).await?;
    let bar = progress_bar(&args);
    let progress = |b: u64| {
        if let Some(bar) = &bar {
            bar.set_position(b);
        }
    };
    // Without --sequence nothing is enrolled, so no rule applies.
    let rules = catalog
        .as_ref()
        .map_or(crate::policy::EnrollRules::OPEN, |c| {
            super::enroll::rules(&config, c)
        });
    let by = super::enroll::forced_by("leads import");
    let opts = ImportOptions {
        sequence,
        owner: args.owner.as_deref(),
        dry_run: args.dry_run,
        encoding: args.encoding,
        admission: Admission {
            rules: &rules,
            force: args.force,
            by: &by,
        },
    };
    let result = import_sheet(&store, &config, reader, &args.file, &opts, now(), &progress).await;
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let summary = result.map_err(|e| Failure::failed(e.to_string()))?;
    if args.json {
        print_json(&summary)?;
    } else {
        print_imported(&args, &summary);
    }
    // Good rows are in; bad ones were reported and skipped: the command found problems.
    if summary.invalid == 0 {
        Ok(())
    } else {
        Err(Failure::silent())
    }
}

/// The column mapping of `--mapping` and `--map`, the pairs of `--map` last.
fn column_map(args: &ImportArgs) -> Result<ColumnMap, Failure> {
    let mut map = ColumnMap::default();
    if let Some(path) = &args.mapping {
        map.add_file(path)
            .map_err(|e| Failure::usage(e.to_string()))?;
    }
    for pair in &args.map {
        map.add_pair(pair)
            .map_err(|e| Failure::usage(e.to_string()))?;
    }
    Ok(map)
}

/// A progress bar over the file's bytes, on a terminal and without `--json`.
fn progress_bar(args: &ImportArgs) -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() || args.json {
        return None;
    }
    let size = std::fs::metadata(&args.file).map(|m| m.len()).unwrap_or(0);
    let bar = ProgressBar::new(size);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} importing [{bar:30}] {bytes}/{total_bytes} ({eta})",
        )
        .expect("a valid progress template")
        .progress_chars("=> "),
    );
    Some(bar)
}

/// `leads import` for a person: the bad rows and unknown owners on stderr, the counts on
/// stdout.
fn print_imported(args: &ImportArgs, summary: &ImportSummary) {
    for e in &summary.errors {
        eprintln!(
            "{}",
            super::output::printable(&format!("{}:{}: {}", e.file, e.row, e.reason))
        );
    }
    for o in &summary.unknown_owners {
        eprintln!("warning: owner {o:?} is not a mailbox in config.toml; kept as written");
    }
    for r in &summary.refusals {
        let text = format!(
            "{}:{}: {}: not enrolled: {}",
            r.file, r.row, r.email, r.reason
        );
        eprintln!("{}", super::output::printable(&text));
    }
    if !summary.refusals.is_empty() {
        eprintln!("(--force enrolls them anyway)");
    }
    for d in &summary.duplicates {
        let rows: Vec<String> = d.rows.iter().map(u64::to_string).collect();
        let text = format!(
            "warning: {}: {} is on rows {}; the later rows update the lead of the first",
            args.file.display(),
            d.email,
            rows.join(", ")
        );
        eprintln!("{}", super::output::printable(&text));
    }
    let verb = if summary.dry_run {
        "would import"
    } else {
        "imported"
    };
    let mut line = format!(
        "{verb} {}: {} new, {} updated, {} unchanged, {} skipped",
        args.file.display(),
        summary.new,
        summary.updated,
        summary.unchanged,
        summary.skipped
    );
    if let Some(seq) = &args.sequence {
        line.push_str(&format!(
            "; {} enrolled in {seq} ({} already in it, {} suppressed",
            summary.enrolled, summary.already_enrolled, summary.suppressed
        ));
        for (rule, n) in &summary.refused {
            line.push_str(&format!(", {n} {rule}"));
        }
        if summary.forced > 0 {
            line.push_str(&format!(", {} by force", summary.forced));
        }
        line.push(')');
    }
    if summary.dry_run {
        line.push_str(" (dry run: nothing changed)");
    }
    say!("{line}");
    for (column, n) in &summary.opted_out {
        let text = format!("{n} imported as suppressed (opted out in column \"{column}\")");
        say!("{}", super::output::printable(&text));
    }
    let r = &summary.routing;
    if r.routed > 0 || r.unmatched > 0 {
        say!(
            "routed {} leads to owners by the [[route]] rules ({} matched no rule)",
            r.routed,
            r.unmatched
        );
    }
    report_capped(r);
}

pub(super) fn unknown_sequence(id: &str, catalog: &crate::catalog::Catalog) -> Failure {
    let ids: Vec<&str> = catalog.sequences.keys().map(String::as_str).collect();
    let mut msg = format!("unknown sequence {id:?}");
    if let Some(s) = crate::diag::did_you_mean(id, ids.iter().copied()) {
        msg.push_str(&format!("; did you mean {s:?}?"));
    } else {
        msg.push_str(&format!(" (sequences: {})", ids.join(", ")));
    }
    Failure::usage(msg)
}

async fn show(config_path: &Path, args: ShowArgs) -> Outcome {
    let email = parse_email(&args.email)?;
    let config = load_config(config_path)?;
    let store = open_store(&config).await?;
    let Some(view) = store.lead_view(&email).await? else {
        return Err(Failure::failed(format!("no lead {email}")));
    };
    if args.json {
        return print_json(&view);
    }
    show::print_lead(&view, &config);
    Ok(())
}

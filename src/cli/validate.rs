//! `drumbeat validate`: every problem in config.toml, sequences and templates (and with
//! `--leads FILE`, every row whose emails would fail to render or to build, and warnings for
//! leads at domains that cannot receive mail or are disposable), as `path:line:col: message`.
//! With `--spam`, every email step's SpamAssassin score and the rules it hits.

mod spam;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, Utc};

use serde::Serialize;

use super::output::{parse_encoding, print_json};
use super::{Failure, Outcome, now};
use crate::catalog::{Catalog, StepKind, show_path};
use crate::config::{Config, Mailbox};
use crate::diag::{Diagnostic, Severity};
use crate::dns::{LeadDomains, disposable};
use crate::lead::{LeadRecord, SheetReader, SheetRow};
use crate::render::{RenderInput, SAMPLE_UNSUBSCRIBE_URL};
use crate::send::compose::{Draft, compose, seeded_message_id};
use crate::send::{Deal, choose_mailbox};
use crate::sequence::Sequence;
use crate::spam::SpamAssassin;

/// Flags of `validate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Also render every step of every sequence for every row of this CSV file.
    #[arg(long, value_name = "FILE.csv")]
    leads: Option<PathBuf>,
    /// With --leads: only this sequence.
    #[arg(long, value_name = "ID", requires = "leads")]
    sequence: Option<String>,
    /// With --leads: the file's encoding when it is not UTF-8 (e.g. windows-1252).
    #[arg(long, value_parser = parse_encoding, requires = "leads")]
    encoding: Option<&'static encoding_rs::Encoding>,
    /// Also score every email step (each A/B variant) with SpamAssassin (`spamassassin -L
    /// -t`, local tests only), as composed for a sample lead (with --leads: the file's first
    /// lead), and list the rules each one hits.
    #[arg(long)]
    spam: bool,
    /// With --spam: an email scoring this or more is a problem.
    #[arg(long, value_name = "N", default_value = "2.0", value_parser = parse_threshold, requires = "spam")]
    spam_threshold: f64,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

/// A `--spam-threshold`: a finite number.
fn parse_threshold(s: &str) -> Result<f64, String> {
    s.trim()
        .parse::<f64>()
        .ok()
        .filter(|n| n.is_finite())
        .ok_or_else(|| format!("{s:?} is not a number of points (e.g. 2.0)"))
}

/// The JSON of `validate --json`.
#[derive(Serialize)]
struct Report {
    ok: bool,
    sequences: usize,
    templates: usize,
    errors: usize,
    warnings: usize,
    diagnostics: Vec<Diagnostic>,
    #[serde(skip_serializing_if = "Option::is_none")]
    leads: Option<LeadsReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    spam: Option<spam::SpamSection>,
}

#[derive(Serialize)]
struct LeadsReport {
    file: String,
    rows: u64,
    failed_rows: u64,
    /// Rows whose domain cannot receive mail or is disposable (warnings: the daemon skips the
    /// first kind before their first email).
    undeliverable_rows: u64,
}

/// Most row problems printed (all are counted).
const MAX_PRINTED: usize = 1_000;

pub async fn run(config_path: &Path, args: Args) -> Outcome {
    // Asked for explicitly: without the program, say so before anything else.
    let spamassassin = args.spam.then(spam::find).transpose()?;
    let (config, catalog, mut diags) = load(config_path);
    let catalog_ok = !diags.iter().any(Diagnostic::is_error);

    let leads_report = match (&args.leads, &config, &catalog) {
        (Some(file), Some(config), Some(catalog)) => {
            check_leads_file(config, catalog, catalog_ok, file, &args, &mut diags).await?
        }
        _ => None,
    };
    let spam_section = match (&spamassassin, &config, &catalog) {
        (Some(sa), Some(config), Some(catalog)) => {
            check_spam(sa, config, catalog, catalog_ok, &args, &mut diags)?
        }
        _ => None,
    };

    let errors = diags
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let (sequences, templates) = catalog
        .as_ref()
        .map_or((0, 0), |c| (c.sequences.len(), c.templates.len()));
    let spam_ok = spam_section.as_ref().is_none_or(spam::SpamSection::ok);
    let report = Report {
        ok: errors == 0 && spam_ok,
        sequences,
        templates,
        errors,
        warnings: diags.len() - errors,
        diagnostics: diags,
        leads: leads_report,
        spam: spam_section,
    };
    if args.json {
        print_json(&report)?;
    } else {
        print_human(&report);
    }
    if errors > 0 || !spam_ok {
        Err(Failure::silent())
    } else {
        Ok(())
    }
}

/// config.toml, its secrets and the catalog, with every problem found on the way.
fn load(config_path: &Path) -> (Option<Config>, Option<Catalog>, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let (config, catalog) = match Config::load(config_path) {
        Ok(config) => {
            diags.extend(config.check_secrets());
            let (catalog, d) = Catalog::load(&config);
            diags.extend(d);
            (Some(config), Some(catalog))
        }
        Err(d) => {
            diags.extend(d);
            (None, None)
        }
    };
    if let Some(c) = &config
        && c.mailboxes.is_empty()
    {
        diags.push(
            Diagnostic::warning(show_path(&c.path), None, None, "no [[mailbox]] defined: nothing can be sent")
                .with_hint("add a [[mailbox]] with outbox = \"data/outbox\" to try drumbeat without a mail server"),
        );
    }
    if let Some(catalog) = &catalog {
        diags.extend(holidays_run_out(catalog, now().year()));
    }
    (config, catalog, diags)
}

/// A warning for each sequence that counts countries' public holidays when the bundled ones end
/// within a year: after that, its business days would quietly skip no holiday.
fn holidays_run_out(catalog: &Catalog, year: i32) -> Vec<Diagnostic> {
    use crate::schedule::holidays::LAST_YEAR;
    if year < LAST_YEAR {
        return Vec::new();
    }
    catalog
        .sequences
        .values()
        .filter(|s| !s.window.countries.is_empty() || s.window.lead_holidays)
        .map(|s| {
            Diagnostic::warning(
                s.file.clone(),
                None,
                None,
                format!("the countries' public holidays drumbeat knows end with {LAST_YEAR}: after that this window's country holidays add no dates"),
            )
            .with_hint("update drumbeat, or regenerate src/schedule/holidays/ with scripts/holidays")
        })
        .collect()
}

fn print_human(r: &Report) {
    for d in r.diagnostics.iter().take(MAX_PRINTED) {
        say!("{d}");
    }
    if r.diagnostics.len() > MAX_PRINTED {
        say!("… and {} more", r.diagnostics.len() - MAX_PRINTED);
    }
    let mut summary = format!(
        "{} sequence(s), {} template(s): {} error(s), {} warning(s)",
        r.sequences, r.templates, r.errors, r.warnings
    );
    if let Some(l) = &r.leads {
        summary.push_str(&format!(
            "; {}: {} row(s), {} would fail",
            l.file, l.rows, l.failed_rows
        ));
    }
    if let Some(s) = &r.spam {
        s.print();
        summary.push_str("; ");
        summary.push_str(&s.summary());
    }
    say!("{summary}");
}

/// With `--leads`: every row's emails and domain, when the catalog has no error (else a
/// warning why not).
async fn check_leads_file(
    config: &Config,
    catalog: &Catalog,
    catalog_ok: bool,
    file: &Path,
    args: &Args,
    diags: &mut Vec<Diagnostic>,
) -> Result<Option<LeadsReport>, Failure> {
    if !catalog_ok {
        diags.push(Diagnostic::warning(
            show_path(file),
            None,
            None,
            "leads not checked: fix the errors above first",
        ));
        return Ok(None);
    }
    let (mut report, row_diags, domains) = check_leads(
        config,
        catalog,
        file,
        args.sequence.as_deref(),
        args.encoding,
    )?;
    diags.extend(row_diags);
    let domain_diags = check_domains(config, &report.file, &domains).await;
    report.undeliverable_rows = domain_diags.len() as u64;
    diags.extend(domain_diags);
    Ok(Some(report))
}

/// With `--spam`: each email's score, when the catalog has no error (else a warning why not).
fn check_spam(
    sa: &SpamAssassin,
    config: &Config,
    catalog: &Catalog,
    catalog_ok: bool,
    args: &Args,
    diags: &mut Vec<Diagnostic>,
) -> Result<Option<spam::SpamSection>, Failure> {
    if !catalog_ok {
        diags.push(Diagnostic::warning(
            show_path(&config.path),
            None,
            None,
            "emails not scored for spam: fix the errors above first",
        ));
        return Ok(None);
    }
    let lead = spam_lead(args)?;
    Ok(Some(spam::check(
        sa,
        config,
        catalog,
        &lead,
        args.spam_threshold,
        now(),
    )))
}

/// The lead `--spam` composes for: the first lead of `--leads FILE` when given and readable,
/// else the sample lead that `validate` checks templates with.
fn spam_lead(args: &Args) -> Result<LeadRecord, Failure> {
    if let Some(file) = &args.leads {
        let reader =
            SheetReader::open(file, args.encoding).map_err(|e| Failure::failed(e.to_string()))?;
        if let Some(row) = reader.flatten().next() {
            return Ok(row.lead);
        }
    }
    Ok(crate::catalog::sample_lead())
}

/// What every lead's rows are checked against: the project, the sequences asked for, and the
/// Date the composed messages carry.
struct LeadCheck<'a> {
    config: &'a Config,
    catalog: &'a Catalog,
    sequences: Vec<&'a Sequence>,
    /// The file as diagnostics name it.
    shown: String,
    date: DateTime<Utc>,
}

/// A row of the file and its lead's domain.
type RowDomain = (u64, String);

/// Each row's lead's domain: a warning for a disposable one, and (DNS asked, see
/// `dns::LeadDomains`) for one that cannot receive mail.
async fn check_domains(config: &Config, shown: &str, rows: &[RowDomain]) -> Vec<Diagnostic> {
    let dead = match LeadDomains::for_config(config) {
        Ok(Some(check)) => {
            check
                .cannot_receive(rows.iter().map(|(_, d)| d.as_str()))
                .await
        }
        Ok(None) => HashMap::new(),
        Err(e) => {
            return vec![Diagnostic::warning(
                shown,
                None,
                None,
                format!("leads' domains not checked: {e}"),
            )];
        }
    };
    let mut diags = Vec::new();
    for (row, domain) in rows {
        let message = if let Some(why) = dead.get(&domain.to_ascii_lowercase()) {
            format!("{domain}: {why}; the daemon skips this lead before its first email")
        } else if disposable(domain) {
            format!("{domain} is a disposable (throwaway) mail domain: nobody reads it for long")
        } else {
            continue;
        };
        diags.push(Diagnostic::warning(
            shown,
            Some(*row as usize),
            None,
            message,
        ));
    }
    diags
}

/// Composes every email step and renders every task note for every row; one diagnostic per
/// failing row and step. Also returns each row's lead's domain.
fn check_leads(
    config: &Config,
    catalog: &Catalog,
    file: &Path,
    only: Option<&str>,
    encoding: Option<&'static encoding_rs::Encoding>,
) -> Result<(LeadsReport, Vec<Diagnostic>, Vec<RowDomain>), Failure> {
    let sequences: Vec<_> = match only {
        Some(id) => vec![
            catalog
                .sequence(id)
                .ok_or_else(|| Failure::usage(format!("unknown sequence {id:?}")))?,
        ],
        None => catalog.sequences.values().collect(),
    };
    let check = LeadCheck {
        config,
        catalog,
        sequences,
        shown: show_path(file),
        date: now(),
    };
    let reader = SheetReader::open(file, encoding).map_err(|e| Failure::failed(e.to_string()))?;
    let mut diags = Vec::new();
    let mut domains = Vec::new();
    let mut rows = 0;
    let mut failed_rows = 0;
    for item in reader {
        rows += 1;
        let failed = match item {
            Ok(row) => {
                domains.push((row.row, row.lead.email.domain().to_string()));
                check.row(&row, &mut diags)
            }
            Err(e) => {
                diags.push(Diagnostic::error(
                    &check.shown,
                    Some(e.row as usize),
                    None,
                    e.reason,
                ));
                true
            }
        };
        if failed {
            failed_rows += 1;
        }
    }
    Ok((
        LeadsReport {
            file: check.shown,
            rows,
            failed_rows,
            undeliverable_rows: 0,
        },
        diags,
        domains,
    ))
}

impl LeadCheck<'_> {
    /// Checks one row against every sequence; true when a step failed.
    fn row(&self, row: &SheetRow, diags: &mut Vec<Diagnostic>) -> bool {
        let mut failed = false;
        for seq in &self.sequences {
            let Some(sender) = choose_mailbox(
                self.config,
                seq,
                Deal::Address(row.lead.email.as_str()),
                row.lead.owner.as_deref(),
                None,
            ) else {
                continue;
            };
            let mut failed_steps: Vec<&str> = Vec::new();
            for (i, step) in seq.steps.iter().enumerate() {
                // A reply in a thread whose first email failed fails for the same reason,
                // which that email's line already reports.
                let root_failed = step.email().is_some_and(|e| e.thread)
                    && seq
                        .thread_root(i)
                        .is_some_and(|r| failed_steps.contains(&r.id.as_str()));
                if root_failed {
                    continue;
                }
                if let Err(e) = self.step(&row.lead, sender, seq, i) {
                    failed = true;
                    failed_steps.push(&step.id);
                    let prefix = if self.sequences.len() > 1 {
                        format!("{}: ", seq.id)
                    } else {
                        String::new()
                    };
                    diags.push(Diagnostic::error(
                        &self.shown,
                        Some(row.row as usize),
                        None,
                        format!("{prefix}step \"{}\": {e}", step.id),
                    ));
                }
            }
        }
        failed
    }

    /// An email step through the one composer, as the daemon would send it as the first
    /// touch of a fresh enrollment; a task step's note through the renderer.
    fn step(
        &self,
        lead: &LeadRecord,
        sender: &Mailbox,
        seq: &Sequence,
        index: usize,
    ) -> Result<(), String> {
        let step = &seq.steps[index];
        match step.kind {
            StepKind::Email(_) => {
                let message_id = seeded_message_id(sender, 0, &seq.id, &step.id);
                let draft = Draft {
                    sequence: seq,
                    index,
                    lead,
                    mailbox: sender,
                    past: &[],
                    stored_subject: None,
                    message_id: &message_id,
                    date: self.date,
                    variant: None,
                };
                compose(self.catalog, self.config, None, &draft).map(|_| ())
            }
            StepKind::Task(_) => {
                let input = RenderInput {
                    lead,
                    sender,
                    unsubscribe_url: SAMPLE_UNSUBSCRIBE_URL,
                };
                self.catalog
                    .renderer
                    .render_note(&input, seq, index)
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
        }
    }
}

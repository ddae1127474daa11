//! `drumbeat validate`: every problem in config.toml, sequences and templates (and with
//! `--leads FILE`, every row whose emails would fail to render), as `path:line:col: message`.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::output::{parse_encoding, print_json};
use super::{Failure, Outcome};
use crate::catalog::{Catalog, StepKind, show_path};
use crate::config::Config;
use crate::diag::{Diagnostic, Severity};
use crate::lead::SheetReader;
use crate::render::RenderInput;
use crate::send::choose_mailbox;

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
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
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
}

#[derive(Serialize)]
struct LeadsReport {
    file: String,
    rows: u64,
    failed_rows: u64,
}

/// Most row problems printed (all are counted).
const MAX_PRINTED: usize = 1_000;

pub async fn run(config_path: &Path, args: Args) -> Outcome {
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
    let catalog_ok = !diags.iter().any(Diagnostic::is_error);

    let mut leads_report = None;
    if let (Some(file), Some(config), Some(catalog)) = (&args.leads, &config, &catalog) {
        if catalog_ok {
            let (report, row_diags) = check_leads(
                config,
                catalog,
                file,
                args.sequence.as_deref(),
                args.encoding,
            )?;
            diags.extend(row_diags);
            leads_report = Some(report);
        } else {
            diags.push(Diagnostic::warning(
                show_path(file),
                None,
                None,
                "leads not checked: fix the errors above first",
            ));
        }
    }

    let errors = diags
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let warnings = diags.len() - errors;
    let (n_seq, n_tpl) = catalog
        .as_ref()
        .map_or((0, 0), |c| (c.sequences.len(), c.templates.len()));
    if args.json {
        print_json(&Report {
            ok: errors == 0,
            sequences: n_seq,
            templates: n_tpl,
            errors,
            warnings,
            diagnostics: diags,
            leads: leads_report,
        })?;
    } else {
        for d in diags.iter().take(MAX_PRINTED) {
            say!("{d}");
        }
        if diags.len() > MAX_PRINTED {
            say!("… and {} more", diags.len() - MAX_PRINTED);
        }
        let mut summary = format!(
            "{n_seq} sequence(s), {n_tpl} template(s): {errors} error(s), {warnings} warning(s)"
        );
        if let Some(l) = &leads_report {
            summary.push_str(&format!(
                "; {}: {} row(s), {} would fail",
                l.file, l.rows, l.failed_rows
            ));
        }
        say!("{summary}");
    }
    if errors > 0 {
        Err(Failure::silent())
    } else {
        Ok(())
    }
}

/// Renders every step for every row; one diagnostic per failing row and step.
fn check_leads(
    config: &Config,
    catalog: &Catalog,
    file: &Path,
    only: Option<&str>,
    encoding: Option<&'static encoding_rs::Encoding>,
) -> Result<(LeadsReport, Vec<Diagnostic>), Failure> {
    let shown = show_path(file);
    let sequences: Vec<_> = match only {
        Some(id) => vec![
            catalog
                .sequence(id)
                .ok_or_else(|| Failure::usage(format!("unknown sequence {id:?}")))?,
        ],
        None => catalog.sequences.values().collect(),
    };
    let reader = SheetReader::open(file, encoding).map_err(|e| Failure::failed(e.to_string()))?;
    let mut diags = Vec::new();
    let mut rows = 0;
    let mut failed_rows = 0;
    for item in reader {
        rows += 1;
        let row = match item {
            Ok(r) => r,
            Err(e) => {
                failed_rows += 1;
                diags.push(Diagnostic::error(
                    &shown,
                    Some(e.row as usize),
                    None,
                    e.reason,
                ));
                continue;
            }
        };
        let mut failed = false;
        for seq in &sequences {
            let Some(sender) = choose_mailbox(
                config,
                seq,
                row.lead.email.as_str(),
                row.lead.owner.as_deref(),
                None,
            ) else {
                continue;
            };
            let input = RenderInput {
                lead: &row.lead,
                sender,
                unsubscribe_url: crate::render::SAMPLE_UNSUBSCRIBE_URL,
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
                let result = match step.kind {
                    StepKind::Email(_) => catalog
                        .renderer
                        .render_email(&input, seq, i, None)
                        .map(|_| ()),
                    StepKind::Task(_) => catalog.renderer.render_note(&input, seq, i).map(|_| ()),
                };
                if let Err(e) = result {
                    failed = true;
                    failed_steps.push(&step.id);
                    let prefix = if sequences.len() > 1 {
                        format!("{}: ", seq.id)
                    } else {
                        String::new()
                    };
                    diags.push(Diagnostic::error(
                        &shown,
                        Some(row.row as usize),
                        None,
                        format!("{prefix}step \"{}\": {e}", step.id),
                    ));
                }
            }
        }
        if failed {
            failed_rows += 1;
        }
    }
    Ok((
        LeadsReport {
            file: shown,
            rows,
            failed_rows,
        },
        diags,
    ))
}

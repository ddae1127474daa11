//! `drumbeat doctor`: looks up each mailbox's sending domain in DNS (SPF, DKIM, DMARC, MX) and
//! says, for each problem, what is wrong and the record to publish. Exit 1 on an error;
//! warnings alone exit 0, as for `validate`.

use std::path::Path;

use serde::Serialize;

use super::output::print_json;
use super::{Failure, Outcome, load_config};
use crate::dns::Dns;
use crate::dns::doctor::{MailboxReport, Status, check_mailbox};

/// Flags of `doctor`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only this mailbox.
    #[arg(long, value_name = "NAME")]
    mailbox: Option<String>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

/// The JSON of `doctor --json`.
#[derive(Serialize)]
struct Report {
    ok: bool,
    errors: usize,
    warnings: usize,
    mailboxes: Vec<MailboxReport>,
}

pub async fn run(config_path: &Path, args: Args) -> Outcome {
    let config = load_config(config_path)?;
    let mailboxes: Vec<_> = match &args.mailbox {
        Some(name) => vec![config.mailbox(name).ok_or_else(|| {
            Failure::usage(format!("no mailbox {name:?} in {}", config.path.display()))
        })?],
        None => config.mailboxes.iter().collect(),
    };
    let dns = Dns::new(&config.dns).map_err(|e| Failure::failed(e.to_string()))?;
    // A resolver that denies even the root (a sandbox's, a captive network's) would have every
    // record "missing": say so instead of a page of wrong advice.
    if config.dns.resolvers.is_empty() && !dns.answers_for_the_root().await {
        return Err(Failure::failed(
            "the system's DNS resolver does not answer for the root zone (\". NS\"): nothing \
             it says about these domains can be believed; check /etc/resolv.conf or name a \
             working resolver in [dns] resolver",
        ));
    }
    let mut reports = Vec::new();
    for m in mailboxes {
        reports.push(check_mailbox(&dns, &config, m).await);
    }
    let count = |s: Status| {
        reports
            .iter()
            .flat_map(|r| &r.checks)
            .filter(|c| c.status == s)
            .count()
    };
    let report = Report {
        ok: count(Status::Error) == 0,
        errors: count(Status::Error),
        warnings: count(Status::Warning),
        mailboxes: reports,
    };
    if args.json {
        print_json(&report)?;
    } else {
        print_human(&report);
    }
    if report.ok {
        Ok(())
    } else {
        Err(Failure::silent())
    }
}

fn print_human(report: &Report) {
    if report.mailboxes.is_empty() {
        say!("no mailboxes in config.toml: nothing to check");
    }
    for m in &report.mailboxes {
        say!(
            "mailbox {} <{}>, sending domain {}",
            m.mailbox,
            m.from,
            m.domain
        );
        for c in &m.checks {
            let status = match c.status {
                Status::Ok => "ok",
                Status::Warning => "warning",
                Status::Error => "error",
                Status::Skipped => "skipped",
            };
            say!("  {status:<8} {:<6} {}", c.check.to_uppercase(), c.message);
            if let Some(p) = &c.publish {
                say!("  {:<15} {p}", "");
            }
        }
    }
    say!(
        "{} mailbox(es): {} error(s), {} warning(s)",
        report.mailboxes.len(),
        report.errors,
        report.warnings
    );
}

//! `drumbeat classify FILE.eml…`: what the inbox watcher would make of saved messages —
//! bounce, auto-reply, unsubscribe, later or reply, with the rule that decided, and a reply's
//! intent with the words that decided it. Reads files
//! only: no config, no store, no network.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::output::print_json;
use super::{Failure, Outcome};
use crate::inbox::{self, Classification};
use crate::policy;

/// Flags of `classify`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Raw messages, one per file (as saved by a mail client: .eml, or a Maildir file).
    #[arg(required = true, value_name = "FILE.eml")]
    files: Vec<PathBuf>,
    /// Print a JSON array, one object per file.
    #[arg(long)]
    json: bool,
}

/// One file's result in `--json`.
#[derive(Serialize)]
struct Row {
    file: String,
    #[serde(flatten)]
    classification: Option<Classification>,
    /// What drumbeat does about it (the policy's name for the effect, under a sequence's
    /// default stop rules): suppress, retry-lead-later, count-against-mailbox, stop, pause…
    #[serde(skip_serializing_if = "Option::is_none")]
    effect: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

pub fn run(args: Args) -> Outcome {
    let mut rows = Vec::with_capacity(args.files.len());
    let mut failed = 0;
    for path in &args.files {
        let file = path.display().to_string();
        match classify_file(path) {
            Ok(c) => {
                if !args.json {
                    print_plain(&file, &c);
                }
                rows.push(Row {
                    file,
                    effect: Some(effect(&c)),
                    classification: Some(c),
                    error: None,
                });
            }
            Err(e) => {
                failed += 1;
                eprintln!("drumbeat: {file}: {e}");
                rows.push(Row {
                    file,
                    effect: None,
                    classification: None,
                    error: Some(e),
                });
            }
        }
    }
    if args.json {
        print_json(&rows)?;
    }
    if failed > 0 {
        return Err(Failure::silent());
    }
    Ok(())
}

/// What drumbeat does about `c`, under a sequence's default stop rules.
fn effect(c: &Classification) -> &'static str {
    let intent = c.intent.as_ref();
    policy::intent_effect_name(
        c.kind,
        c.reason,
        intent.map(|r| r.intent),
        intent.is_some_and(|r| r.left),
    )
}

/// Reads and classifies one file; the day received is the message's Date (else today).
fn classify_file(path: &Path) -> Result<Classification, String> {
    let raw = std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    let mail = inbox::parse(&raw).map_err(|e| e.to_string())?;
    let received = mail.date.unwrap_or_else(super::now).date_naive();
    Ok(inbox::classify(&mail, received))
}

fn print_plain(file: &str, c: &Classification) {
    say!("{file}: {} ({})", c.kind, c.rule);
    if let Some(r) = c.reason {
        say!("  reason: {r} ({})", r.side_name());
    }
    say!("  effect: {}", effect(c));
    if let Some(s) = &c.status {
        say!("  status: {s}");
    }
    if let Some(r) = &c.recipient {
        say!("  recipient: {r}");
    }
    if let Some(d) = c.return_date {
        say!("  return date: {d}");
    }
    if let Some(d) = c.later_date {
        say!("  later date: {d}");
    }
    if let Some(r) = &c.intent {
        match r.words.is_empty() {
            true => say!("  intent: {}", r.intent),
            false => say!("  intent: {} ({})", r.intent, r.words.join(", ")),
        }
        for p in &r.referred {
            match &p.name {
                Some(n) => say!("  referred: {n} <{}>", p.email),
                None => say!("  referred: {}", p.email),
            }
        }
    }
    if !c.text.is_empty() {
        let mut lines = c.text.lines();
        if let Some(first) = lines.next() {
            say!("  text: {first}");
        }
        for line in lines {
            if line.trim().is_empty() {
                say!();
            } else {
                say!("        {line}");
            }
        }
    }
}

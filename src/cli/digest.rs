//! `drumbeat digest --rep NAME`: the rep's daily digest, now (or at `DRUMBEAT_NOW`), exactly
//! as the daemon sends it each morning at the time `[mailbox.notify] digest` gives.

use std::path::Path;

use super::output::{local_and_utc, print_json};
use super::{Failure, Outcome, load_catalog, load_config, now, open_store};
use crate::notify::{gather, render, rep_zone};

/// Flags of `digest`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The rep (a mailbox name); may be left out when config.toml has one mailbox.
    #[arg(long, value_name = "NAME")]
    rep: Option<String>,
    /// Print as JSON.
    #[arg(long)]
    json: bool,
}

pub async fn run(config_path: &Path, args: Args) -> Outcome {
    let config = load_config(config_path)?;
    let names: Vec<&str> = config.mailboxes.iter().map(|m| m.name.as_str()).collect();
    let rep = match &args.rep {
        Some(name) => config.mailbox(name).ok_or_else(|| {
            Failure::usage(format!(
                "--rep {name:?} is not a rep: the reps are the mailboxes of config.toml ({})",
                if names.is_empty() {
                    "none yet".to_string()
                } else {
                    names.join(", ")
                }
            ))
        })?,
        None => match config.mailboxes.as_slice() {
            [only] => only,
            [] => return Err(Failure::failed("config.toml has no mailbox, so no rep")),
            _ => {
                return Err(Failure::usage(format!(
                    "name the rep with --rep ({})",
                    names.join(", ")
                )));
            }
        },
    };
    let catalog = load_catalog(&config)?;
    let store = open_store(&config).await?;
    let now = now();
    let digest = gather(&config, &catalog, &store, rep, now).await?;
    if args.json {
        return print_json(&digest);
    }
    say_inline!("{}", render(&digest).body);
    let tz = rep_zone(&config, rep);
    match rep.notify.as_ref().and_then(|n| n.digest.as_ref()) {
        Some(s) => {
            let next = s
                .next_after(tz, now)
                .map_or_else(|| "never".to_string(), |t| local_and_utc(t, tz));
            say!(
                "\n(the daemon sends this at \"{}\" in {tz}; next: {next})",
                s.source()
            );
        }
        None => say!(
            "\n(no daily digest is sent for {}: add digest = \"0 8 * * Mon-Fri\" to its [mailbox.notify])",
            rep.name
        ),
    }
    Ok(())
}

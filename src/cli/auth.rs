//! `drumbeat auth MAILBOX [--print]`: signs a mailbox in to Google or Microsoft with the
//! device authorization grant (RFC 8628), from a server without a browser, and keeps the
//! refresh token in the file `[mailbox.oauth] refresh_token` names (created 0600), or, with
//! `--print`, prints it for a credential store.

use std::path::Path;

use super::{Failure, Outcome, load_config};
use crate::config::SecretSource;
use crate::send::oauth::{device, write_secret_file};

/// Flags of `auth`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The mailbox's name (as in config.toml); it needs an `[mailbox.oauth]` table.
    mailbox: String,
    /// Print the refresh token on stdout instead of writing it (for `systemd-creds encrypt`
    /// or another credential store); the instructions go to stderr.
    #[arg(long)]
    print: bool,
}

pub async fn run(config_path: &Path, args: Args) -> Outcome {
    let config = load_config(config_path)?;
    let Some(m) = config.mailbox(&args.mailbox) else {
        let names: Vec<&str> = config.mailboxes.iter().map(|m| m.name.as_str()).collect();
        return Err(Failure::usage(format!(
            "no mailbox {:?} in {} (mailboxes: {})",
            args.mailbox,
            config.path.display(),
            names.join(", ")
        )));
    };
    let Some(oauth) = &m.oauth else {
        return Err(Failure::failed(format!(
            "mailbox {:?} has no [mailbox.oauth] table; add one (see docs/oauth.md)",
            m.name
        )));
    };
    let file = match (&oauth.refresh_token, args.print) {
        (_, true) => None,
        (SecretSource::File(p), false) => Some(config.dir.join(p)),
        (other, false) => {
            return Err(Failure::failed(format!(
                "mailbox {:?}: refresh_token is {other}, which drumbeat cannot write; run `drumbeat auth {} --print` and store what it prints there",
                m.name, m.name
            )));
        }
    };
    let token = device::authorize(oauth, &config.dir, |p| {
        eprintln!(
            "To let drumbeat send and read mail as {}, open {} and enter the code {} (within {} minutes).\nWaiting for you to sign in…",
            m.from,
            p.verification_uri,
            p.user_code,
            p.expires_in.as_secs().div_ceil(60)
        );
    })
    .await
    .map_err(|e| Failure::failed(format!("mailbox {:?}: {e}", m.name)))?;
    match file {
        None => {
            println!("{}", token.expose());
            eprintln!(
                "Signed in. The line above is the refresh token: store it where refresh_token points."
            );
        }
        Some(path) => {
            write_secret_file(&path, token.expose()).map_err(|e| {
                Failure::failed(format!(
                    "cannot write the refresh token to {}: {e}",
                    path.display()
                ))
            })?;
            say!(
                "Signed in. The refresh token of mailbox {} is in {} (readable by you only).",
                m.name,
                path.display()
            );
            say!(
                "A running daemon picks it up at its next login; if the mailbox was paused, `drumbeat mailbox resume {}`.",
                m.name
            );
        }
    }
    Ok(())
}

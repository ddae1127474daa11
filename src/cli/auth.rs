//! `drumbeat auth MAILBOX [--browser [--port N] | --device] [--print]`: signs a mailbox in to
//! Google or Microsoft, in a browser sent back to a loopback address (authorization code with
//! PKCE; Google's only way for Gmail) or with a code typed on another device (RFC 8628), and
//! keeps the refresh token in the file `[mailbox.oauth] refresh_token` names (created 0600),
//! or, with `--print`, prints it for a credential store.

use std::path::Path;

use super::{Failure, Outcome, load_config};
use crate::config::{Mailbox, OAuthProvider, OAuthSettings, Secret, SecretSource};
use crate::send::oauth::{browser, device, write_secret_file};

/// Flags of `auth`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The mailbox's name (as in config.toml); it needs an `[mailbox.oauth]` table.
    mailbox: String,
    /// Print the refresh token on stdout instead of writing it (for `systemd-creds encrypt`
    /// or another credential store); the instructions go to stderr.
    #[arg(long)]
    print: bool,
    /// Sign in in a browser that comes back to 127.0.0.1 (the default for Google, whose
    /// device flow cannot grant Gmail's scope).
    #[arg(long, conflicts_with = "device")]
    browser: bool,
    /// Sign in with a code typed on any device (the default for Microsoft and other providers
    /// with a device_url).
    #[arg(long)]
    device: bool,
    /// Sign in in a browser, listening on this port (forward it with
    /// `ssh -L PORT:127.0.0.1:PORT`); without it, any free port.
    #[arg(long, conflicts_with = "device")]
    port: Option<u16>,
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
    let browser = args.browser
        || args.port.is_some()
        || (!args.device
            && (oauth.provider == Some(OAuthProvider::Google) || oauth.device_url.is_none()));
    let token = if browser {
        sign_in_browser(m, oauth, &config.dir, args.port.unwrap_or(0)).await
    } else {
        sign_in_device(m, oauth, &config.dir).await
    }
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

/// The device flow: a code to type at the provider's address.
async fn sign_in_device(m: &Mailbox, oauth: &OAuthSettings, dir: &Path) -> Result<Secret, String> {
    device::authorize(oauth, dir, |p| {
        eprintln!(
            "To let drumbeat send and read mail as {}, open {} and enter the code {} (within {} minutes).\nWaiting for you to sign in…",
            m.from,
            p.verification_uri,
            p.user_code,
            p.expires_in.as_secs().div_ceil(60)
        );
    })
    .await
}

/// The browser flow: an address to open; the answer comes back to 127.0.0.1 or is pasted.
async fn sign_in_browser(
    m: &Mailbox,
    oauth: &OAuthSettings,
    dir: &Path,
    port: u16,
) -> Result<Secret, String> {
    // Lines typed or pasted on stdin, read on a thread of their own (a blocking read that
    // never holds up the exit).
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    browser::authorize(oauth, dir, port, rx, |p| {
        eprintln!(
            "To let drumbeat send and read mail as {}, open this address in a browser and sign in:\n\n  {}\n\n\
             The browser then goes to {}/, where drumbeat is listening. On a server, either forward \
             the port first (ssh -L {}:127.0.0.1:{} THIS-HOST) or, when the browser ends on a page \
             that does not load, copy its address and paste it here.\nWaiting for you to sign in (10 minutes)…",
            m.from, p.url, p.redirect, p.port, p.port
        );
    })
    .await
}

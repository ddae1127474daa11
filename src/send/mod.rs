//! Sending: which mailbox a lead's email leaves from, and the exact message it becomes.
//! `preview` uses the same functions as the daemon, so what it shows is what goes out.

pub mod compose;
pub mod links;
pub mod message;
pub mod oauth;
pub mod provider_tags;
pub mod smtp;
pub mod tokens;
pub mod transport;

use crate::catalog::Sequence;
use crate::config::{Config, Mailbox};

/// The mailbox that sends to a lead in a sequence: the mailbox the thread already started
/// from (sticky), else the lead owner's mailbox when the sequence allows it, else one of the
/// sequence's mailboxes (or any configured one) picked by a stable hash of the address, so
/// new leads spread evenly across mailboxes.
pub fn choose_mailbox<'c>(
    config: &'c Config,
    sequence: &Sequence,
    email: &str,
    owner: Option<&str>,
    sticky: Option<&str>,
) -> Option<&'c Mailbox> {
    let allowed =
        |m: &&Mailbox| sequence.mailboxes.is_empty() || sequence.mailboxes.contains(&m.name);
    if let Some(m) = sticky.and_then(|s| config.mailbox(s)) {
        return Some(m);
    }
    if let Some(owner) = owner
        && let Some(m) = config.mailboxes.iter().filter(allowed).find(|m| {
            m.name.eq_ignore_ascii_case(owner) || m.from.as_str().eq_ignore_ascii_case(owner)
        })
    {
        return Some(m);
    }
    let pool: Vec<&Mailbox> = config.mailboxes.iter().filter(allowed).collect();
    if pool.is_empty() {
        return None;
    }
    let i = (crate::domain::spread(email.as_bytes()) % pool.len() as u64) as usize;
    Some(pool[i])
}

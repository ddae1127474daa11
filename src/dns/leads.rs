//! Before a lead's first email: can its domain receive mail at all? A lead at a domain that
//! does not exist, publishes a null MX or has neither MX nor A/AAAA would only bounce, and
//! bounces count against the sending mailbox; such a lead is skipped, with the reason.
//!
//! Documentation and test names (RFC 2606, RFC 6761: `example.com`, `*.example`, `*.test`,
//! `*.invalid`, `*.localhost`) cannot exist in public DNS: they are not asked about through
//! the system's resolvers (the shipped sample leads live there), only through resolvers of
//! config.toml's own (a test zone). DNS that does not answer decides nothing: the email goes.
//! Nor does the system's resolver while it denies the root zone itself (a sandbox's or a
//! captive network's resolver answers NXDOMAIN for every name): it is asked again later.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};

use super::{Dns, DnsSetupError, Verdict};
use crate::config::{Config, DnsSettings, Transport};

/// Lookups in flight at once.
const PARALLEL: usize = 32;

/// The lead-domain check of one daemon or command: a resolver with its cache.
pub struct LeadDomains {
    dns: Dns,
    own_resolvers: bool,
    /// When the system's resolver was last seen answering for the root, and whether it did.
    root: Mutex<Option<(Instant, bool)>>,
}

/// How long the root check may take: a resolver slower than this is not relied on.
const ROOT_WAIT: Duration = Duration::from_secs(3);

/// How long the root check of the system's resolver is believed.
const ROOT_CHECK: Duration = Duration::from_secs(600);

/// Names reserved for documentation and tests (RFC 2606 §2–3, RFC 6761 §6).
fn special_use(domain: &str) -> bool {
    const TOP: &[&str] = &["example", "test", "invalid", "localhost"];
    const SECOND: &[&str] = &["example.com", "example.net", "example.org"];
    let d = domain.trim_end_matches('.').to_ascii_lowercase();
    let top = d.rsplit('.').next().unwrap_or_default();
    TOP.contains(&top)
        || SECOND
            .iter()
            .any(|s| d == *s || d.ends_with(&format!(".{s}")))
}

impl LeadDomains {
    /// The check for `config`; None when `[dns] lead_domains = false`, or when every mailbox
    /// writes to an outbox folder (nothing is delivered there, so nothing can bounce).
    pub fn for_config(config: &Config) -> Result<Option<LeadDomains>, DnsSetupError> {
        let delivers = config
            .mailboxes
            .iter()
            .any(|m| !matches!(m.transport, Transport::Outbox { .. }));
        if !delivers {
            return Ok(None);
        }
        LeadDomains::new(&config.dns)
    }

    /// The check for `settings`; None when `[dns] lead_domains = false`.
    pub fn new(settings: &DnsSettings) -> Result<Option<LeadDomains>, DnsSetupError> {
        if !settings.lead_domains {
            return Ok(None);
        }
        Ok(Some(LeadDomains {
            dns: Dns::new(settings)?,
            own_resolvers: !settings.resolvers.is_empty(),
            root: Mutex::new(None),
        }))
    }

    /// Whether `domain` is looked up at all.
    pub fn asks_about(&self, domain: &str) -> bool {
        self.own_resolvers || !special_use(domain)
    }

    /// Whether the resolver's "no such domain" can be believed: resolvers of config.toml's own
    /// always; the system's while it answers for the root zone (checked every 10 minutes).
    async fn believed(&self) -> bool {
        if self.own_resolvers {
            return true;
        }
        let now = Instant::now();
        let known = *self
            .root
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((at, ok)) = known
            && now.duration_since(at) < ROOT_CHECK
        {
            return ok;
        }
        let ok = tokio::time::timeout(ROOT_WAIT, self.dns.answers_for_the_root())
            .await
            .unwrap_or(false);
        if !ok {
            tracing::warn!(
                "the system's DNS resolver does not answer for the root zone: leads' domains are not checked until it does (or set [dns] resolver)"
            );
        }
        *self
            .root
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some((now, ok));
        ok
    }

    /// Of `domains`, those that cannot receive mail, each with why. Asked [`PARALLEL`] at a
    /// time (each verdict is cached per domain); a domain DNS gave no answer about is left
    /// out.
    pub async fn cannot_receive<'a>(
        &self,
        domains: impl IntoIterator<Item = &'a str>,
    ) -> HashMap<String, String> {
        let asked: BTreeSet<String> = domains
            .into_iter()
            .filter(|d| self.asks_about(d))
            .map(|d| d.trim_end_matches('.').to_ascii_lowercase())
            .collect();
        if asked.is_empty() || !self.believed().await {
            return HashMap::new();
        }
        let verdicts: Vec<(String, Verdict)> = stream::iter(asked)
            .map(|d| async move {
                let v = self.dns.accepts_mail(&d).await;
                (d, v)
            })
            .buffer_unordered(PARALLEL)
            .collect()
            .await;
        verdicts
            .into_iter()
            .filter_map(|(d, v)| match v {
                Verdict::NoMailHost(why) => Some((d, why.to_string())),
                Verdict::Unknown(e) => {
                    tracing::debug!(domain = %d, "no DNS answer about the lead's domain: {e}; the email goes");
                    None
                }
                Verdict::Accepts => None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documentation_and_test_names_are_special_use() {
        for d in [
            "example.com",
            "mail.example.org",
            "northwind.example",
            "no-mx.test",
            "x.invalid",
            "localhost",
            "EXAMPLE.NET.",
        ] {
            assert!(special_use(d), "{d}");
        }
        for d in [
            "gmail.com",
            "example.co",
            "myexample.com",
            "test.com",
            "examples.org",
        ] {
            assert!(!special_use(d), "{d}");
        }
    }
}

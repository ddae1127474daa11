//! DNS: what the sending domain publishes (`drumbeat doctor`: SPF, DKIM, DMARC, MX) and
//! whether a lead's domain can receive mail at all ([`Dns::accepts_mail`], cached per domain),
//! plus (re-exported from `lead`) the list of disposable mail domains ([`disposable`]).
//!
//! Lookups go to the servers of `[dns]` in config.toml, else the system's (`/etc/resolv.conf`),
//! through hickory-resolver. A lookup tells "no such domain", "no such record" and "could not
//! ask" apart: only the first two are facts about the domain.

mod cache;
pub mod dkim;
pub mod dmarc;
pub mod doctor;
mod leads;
pub mod spf;

use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::NetError;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::{RData, RecordType};

use crate::config::DnsSettings;
use cache::TtlCache;

pub use crate::lead::disposable;
pub use leads::LeadDomains;

/// What one lookup found about a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer<T> {
    /// The records of the type asked for.
    Records(Vec<T>),
    /// The name exists but has no record of that type (NODATA).
    NoRecords,
    /// The name does not exist (NXDOMAIN).
    NoDomain,
}

impl<T> Answer<T> {
    /// The records found (none for NODATA and NXDOMAIN).
    pub fn records(self) -> Vec<T> {
        match self {
            Answer::Records(r) => r,
            Answer::NoRecords | Answer::NoDomain => Vec::new(),
        }
    }
}

/// A lookup that got no answer: a timeout, SERVFAIL, a refused or unreachable server. Says
/// nothing about the domain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name}: {what} lookup failed: {reason}")]
pub struct LookupFailed {
    /// The name asked about.
    pub name: String,
    /// The record type (`TXT`, `MX`…).
    pub what: &'static str,
    /// Why, for a person (`request timed out`).
    pub reason: String,
}

/// One MX record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mx {
    /// Lower is tried first.
    pub preference: u16,
    /// The mail host, without the trailing dot; empty for a null MX (RFC 7505).
    pub host: String,
}

/// Where mail for a domain goes, as DNS says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailHosts {
    /// MX records (sorted by preference).
    Mx(Vec<Mx>),
    /// No MX, but the domain's own addresses (mail falls back to them, RFC 5321 §5.1).
    AddressOnly(Vec<IpAddr>),
    /// A null MX (`MX 0 .`, RFC 7505): the domain says it accepts no mail.
    NullMx,
    /// The domain does not exist (NXDOMAIN).
    NoDomain,
    /// The domain exists but has neither MX nor A/AAAA records.
    Nothing,
}

/// Whether a domain can receive mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// It has an MX, or (without one) an A/AAAA record.
    Accepts,
    /// It cannot: NXDOMAIN, a null MX, or neither MX nor A/AAAA. Writing there bounces.
    NoMailHost(NoMailHost),
    /// DNS did not answer (timeout, SERVFAIL…): try again later, do not conclude.
    Unknown(String),
}

/// Why a domain accepts no mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoMailHost {
    /// The domain does not exist.
    NoSuchDomain,
    /// It publishes a null MX (RFC 7505).
    NullMx,
    /// It has neither MX nor A/AAAA records.
    NoMxNoAddress,
}

impl std::fmt::Display for NoMailHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            NoMailHost::NoSuchDomain => "the domain does not exist (NXDOMAIN)",
            NoMailHost::NullMx => "the domain accepts no mail (null MX, RFC 7505)",
            NoMailHost::NoMxNoAddress => "the domain has no MX and no A/AAAA record",
        })
    }
}

impl MailHosts {
    /// The verdict these hosts give.
    pub fn verdict(&self) -> Verdict {
        match self {
            MailHosts::Mx(_) | MailHosts::AddressOnly(_) => Verdict::Accepts,
            MailHosts::NullMx => Verdict::NoMailHost(NoMailHost::NullMx),
            MailHosts::NoDomain => Verdict::NoMailHost(NoMailHost::NoSuchDomain),
            MailHosts::Nothing => Verdict::NoMailHost(NoMailHost::NoMxNoAddress),
        }
    }
}

/// Where mail goes, from the MX answer and (asked only when there is no usable MX) the
/// domain's addresses. A null MX is only one MX record whose host is the root (RFC 7505 §3).
pub fn mail_hosts(mx: Answer<Mx>, addresses: impl FnOnce() -> Answer<IpAddr>) -> MailHosts {
    match mx {
        Answer::NoDomain => MailHosts::NoDomain,
        Answer::Records(mut records) if !records.is_empty() => {
            if records.len() == 1 && records[0].host.is_empty() {
                return MailHosts::NullMx;
            }
            records.retain(|m| !m.host.is_empty());
            records.sort_by_key(|m| m.preference);
            MailHosts::Mx(records)
        }
        Answer::Records(_) | Answer::NoRecords => match addresses() {
            Answer::Records(ips) if !ips.is_empty() => MailHosts::AddressOnly(ips),
            Answer::NoDomain => MailHosts::NoDomain,
            _ => MailHosts::Nothing,
        },
    }
}

/// How many domains [`Dns::accepts_mail`] remembers.
pub const CACHE_DOMAINS: usize = 10_000;
/// How long a verdict about a domain is kept.
pub const CACHE_TTL: Duration = Duration::from_secs(6 * 3600);
/// How long "DNS did not answer" is kept (so an outage is not asked about for every lead).
pub const CACHE_TTL_UNKNOWN: Duration = Duration::from_secs(60);

/// A resolver with the per-domain cache of [`Dns::accepts_mail`]. Cheap to share behind an
/// `Arc`; every method takes `&self`.
pub struct Dns {
    resolver: TokioResolver,
    verdicts: Mutex<TtlCache<Verdict>>,
    ttl: Duration,
}

/// The resolver could not be set up (an unreadable `/etc/resolv.conf`).
#[derive(Debug, thiserror::Error)]
#[error("cannot set up DNS: {0}")]
pub struct DnsSetupError(String);

impl Dns {
    /// A resolver for `[dns]` (its servers, else the system's), with a cache of
    /// [`CACHE_DOMAINS`] verdicts kept [`CACHE_TTL`].
    pub fn new(settings: &DnsSettings) -> Result<Dns, DnsSetupError> {
        Dns::with_cache(settings, CACHE_DOMAINS, CACHE_TTL)
    }

    /// The same with a cache of `capacity` domains, each verdict kept `ttl`.
    pub fn with_cache(
        settings: &DnsSettings,
        capacity: usize,
        ttl: Duration,
    ) -> Result<Dns, DnsSetupError> {
        let provider = TokioRuntimeProvider::default();
        let mut builder = if settings.resolvers.is_empty() {
            TokioResolver::builder(provider).map_err(|e| {
                DnsSetupError(format!(
                    "{e} (reading /etc/resolv.conf; or name servers in [dns] resolver)"
                ))
            })?
        } else {
            let servers = settings
                .resolvers
                .iter()
                .map(|addr| {
                    let mut server = NameServerConfig::udp_and_tcp(addr.ip());
                    for c in &mut server.connections {
                        c.port = addr.port();
                    }
                    server
                })
                .collect();
            TokioResolver::builder_with_config(ResolverConfig::from_name_servers(servers), provider)
        };
        let opts: &mut ResolverOpts = builder.options_mut();
        opts.timeout = settings.timeout;
        opts.attempts = 2;
        // Names are always asked as given (fully qualified), never with search domains.
        opts.ndots = 0;
        let resolver = builder.build().map_err(|e| DnsSetupError(e.to_string()))?;
        Ok(Dns {
            resolver,
            verdicts: Mutex::new(TtlCache::new(capacity)),
            ttl,
        })
    }

    /// Whether `domain` can receive mail: MX, else A/AAAA (see [`Verdict`]). Cached per
    /// domain: a verdict for [`CACHE_TTL`] (or the `ttl` given), "unknown" for
    /// [`CACHE_TTL_UNKNOWN`].
    pub async fn accepts_mail(&self, domain: &str) -> Verdict {
        let key = domain.trim().trim_end_matches('.').to_ascii_lowercase();
        if let Some(v) = self.cache().get(&key, Instant::now()) {
            return v;
        }
        let verdict = match self.mail_hosts(&key).await {
            Ok(hosts) => hosts.verdict(),
            Err(e) => Verdict::Unknown(e.to_string()),
        };
        let ttl = match verdict {
            Verdict::Unknown(_) => CACHE_TTL_UNKNOWN.min(self.ttl),
            _ => self.ttl,
        };
        self.cache()
            .insert(&key, verdict.clone(), ttl, Instant::now());
        verdict
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, TtlCache<Verdict>> {
        self.verdicts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Where mail for `domain` goes (not cached).
    pub async fn mail_hosts(&self, domain: &str) -> Result<MailHosts, LookupFailed> {
        let mx = self.mx(domain).await?;
        let needs_addresses =
            !matches!(&mx, Answer::NoDomain) && !matches!(&mx, Answer::Records(r) if !r.is_empty());
        let addresses = if needs_addresses {
            Some(self.addresses(domain).await?)
        } else {
            None
        };
        Ok(mail_hosts(mx, || addresses.unwrap_or(Answer::NoRecords)))
    }

    /// The TXT records at `name`, each record's strings joined (as SPF, DKIM and DMARC read
    /// them).
    pub async fn txt(&self, name: &str) -> Result<Answer<String>, LookupFailed> {
        self.lookup(name, RecordType::TXT, "TXT", |d| match d {
            RData::TXT(t) => Some(
                t.txt_data
                    .iter()
                    .map(|s| String::from_utf8_lossy(s).into_owned())
                    .collect(),
            ),
            _ => None,
        })
        .await
    }

    /// The MX records of `name`, as listed (a null MX has an empty host).
    pub async fn mx(&self, name: &str) -> Result<Answer<Mx>, LookupFailed> {
        self.lookup(name, RecordType::MX, "MX", |d| match d {
            RData::MX(m) => Some(Mx {
                preference: m.preference,
                host: m.exchange.to_ascii().trim_end_matches('.').to_string(),
            }),
            _ => None,
        })
        .await
    }

    /// Whether the resolver answers for the root zone (its NS records): one that denies even
    /// the root (a sandbox's or a captive network's) cannot be believed about any domain.
    pub async fn answers_for_the_root(&self) -> bool {
        matches!(
            self.lookup("", RecordType::NS, "NS", |d| matches!(d, RData::NS(_)).then_some(())).await,
            Ok(Answer::Records(r)) if !r.is_empty()
        )
    }

    /// The A and AAAA addresses of `name` (an IP address given as the name is itself).
    pub async fn addresses(&self, name: &str) -> Result<Answer<IpAddr>, LookupFailed> {
        if let Ok(ip) = name.trim_matches(['[', ']']).parse::<IpAddr>() {
            return Ok(Answer::Records(vec![ip]));
        }
        let v4 = self
            .lookup(name, RecordType::A, "A", |d| match d {
                RData::A(a) => Some(IpAddr::V4(a.0)),
                _ => None,
            })
            .await?;
        if v4 == Answer::NoDomain {
            return Ok(Answer::NoDomain);
        }
        let v6 = self
            .lookup(name, RecordType::AAAA, "AAAA", |d| match d {
                RData::AAAA(a) => Some(IpAddr::V6(a.0)),
                _ => None,
            })
            .await?;
        let mut all = v4.records();
        all.extend(v6.records());
        Ok(if all.is_empty() {
            Answer::NoRecords
        } else {
            Answer::Records(all)
        })
    }

    async fn lookup<T>(
        &self,
        name: &str,
        kind: RecordType,
        what: &'static str,
        pick: impl Fn(&RData) -> Option<T>,
    ) -> Result<Answer<T>, LookupFailed> {
        let fqdn = format!("{}.", name.trim().trim_end_matches('.'));
        let failed = |reason: String| LookupFailed {
            name: name.to_string(),
            what,
            reason,
        };
        match self.resolver.lookup(fqdn.as_str(), kind).await {
            Ok(lookup) => {
                let records: Vec<T> = lookup
                    .answers()
                    .iter()
                    .filter_map(|r| pick(&r.data))
                    .collect();
                Ok(if records.is_empty() {
                    Answer::NoRecords
                } else {
                    Answer::Records(records)
                })
            }
            Err(e) if e.is_nx_domain() => Ok(Answer::NoDomain),
            Err(e) if e.is_no_records_found() => Ok(Answer::NoRecords),
            Err(e) => Err(failed(describe(&e))),
        }
    }
}

/// The `tag=value` pairs of a DKIM or DMARC record, in order: tags lowercase, values trimmed.
pub(crate) fn tags(record: &str) -> Vec<(String, String)> {
    record
        .split(';')
        .filter_map(|part| {
            let (k, v) = part.split_once('=')?;
            Some((k.trim().to_ascii_lowercase(), v.trim().to_string()))
        })
        .collect()
}

/// A resolver error for a person.
fn describe(e: &NetError) -> String {
    match e {
        NetError::Timeout => "no answer in time (timeout)".to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mx(preference: u16, host: &str) -> Mx {
        Mx {
            preference,
            host: host.to_string(),
        }
    }

    fn no_addresses() -> Answer<IpAddr> {
        Answer::NoRecords
    }

    #[test]
    fn mx_records_accept_mail_sorted_by_preference() {
        let hosts = mail_hosts(
            Answer::Records(vec![mx(20, "b.test"), mx(10, "a.test")]),
            || panic!("addresses are not asked when there is an MX"),
        );
        assert_eq!(
            hosts,
            MailHosts::Mx(vec![mx(10, "a.test"), mx(20, "b.test")])
        );
        assert_eq!(hosts.verdict(), Verdict::Accepts);
    }

    #[test]
    fn without_mx_an_address_accepts_mail() {
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let hosts = mail_hosts(Answer::NoRecords, || Answer::Records(vec![ip]));
        assert_eq!(hosts, MailHosts::AddressOnly(vec![ip]));
        assert_eq!(hosts.verdict(), Verdict::Accepts);
    }

    #[test]
    fn a_null_mx_nxdomain_or_nothing_accepts_no_mail() {
        assert_eq!(
            mail_hosts(Answer::Records(vec![mx(0, "")]), no_addresses).verdict(),
            Verdict::NoMailHost(NoMailHost::NullMx)
        );
        assert_eq!(
            mail_hosts(Answer::NoDomain, no_addresses).verdict(),
            Verdict::NoMailHost(NoMailHost::NoSuchDomain)
        );
        assert_eq!(
            mail_hosts(Answer::NoRecords, no_addresses).verdict(),
            Verdict::NoMailHost(NoMailHost::NoMxNoAddress)
        );
    }

    #[test]
    fn a_root_mx_beside_real_ones_is_not_a_null_mx() {
        let hosts = mail_hosts(
            Answer::Records(vec![mx(0, ""), mx(10, "a.test")]),
            no_addresses,
        );
        assert_eq!(hosts, MailHosts::Mx(vec![mx(10, "a.test")]));
    }
}

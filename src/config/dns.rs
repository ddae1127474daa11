//! `[dns]`: which DNS servers `drumbeat doctor` and the mail-host checks ask, how long they
//! wait, and whether a lead's domain is checked before its first email (`lead_domains`, on by
//! default). Without the table, the system's resolvers (`/etc/resolv.conf`) with a 5-second
//! timeout.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::parse_duration;
use super::problems::Problems;

/// The resolver settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsSettings {
    /// The servers to ask, in order (UDP, then TCP for long answers); empty: the system's.
    pub resolvers: Vec<SocketAddr>,
    /// How long one query may take before the next attempt (two in all).
    pub timeout: Duration,
    /// Whether a lead's domain is checked before its first email (MX, else A/AAAA): a lead
    /// at a domain that cannot receive mail is skipped instead of bounced.
    pub lead_domains: bool,
}

/// The timeout without `dns.timeout`.
pub const DEFAULT_DNS_TIMEOUT: Duration = Duration::from_secs(5);

impl Default for DnsSettings {
    fn default() -> Self {
        DnsSettings {
            resolvers: Vec::new(),
            timeout: DEFAULT_DNS_TIMEOUT,
            lead_domains: true,
        }
    }
}

/// `[dns]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDns {
    /// `"IP:PORT"` or `["IP:PORT", …]`.
    resolver: Option<Spanned<toml::Value>>,
    timeout: Option<Spanned<String>>,
    lead_domains: Option<bool>,
}

/// Longest `dns.timeout`: a check that waits longer than this helps nobody.
const MAX_TIMEOUT: Duration = Duration::from_secs(60);

/// One resolver address: `IP:PORT`, `[IPv6]:PORT`, or an IP alone (port 53).
pub fn parse_resolver(s: &str) -> Result<SocketAddr, String> {
    let t = s.trim();
    if let Ok(addr) = t.parse::<SocketAddr>() {
        return Ok(addr);
    }
    if let Ok(ip) = t
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    {
        return Ok(SocketAddr::new(ip, 53));
    }
    Err(format!(
        "not an IP address with a port: {s:?} (e.g. \"127.0.0.1:5353\", \"[::1]:53\"; a host \
         name cannot be used: it would need a resolver to find the resolver)"
    ))
}

impl RawDns {
    /// Checks the table; problems come back as (byte span, message), each naming its key.
    pub(super) fn resolve(self) -> Result<DnsSettings, Problems> {
        let mut out = DnsSettings::default();
        let mut problems = Vec::new();
        if let Some(r) = &self.resolver {
            let span = r.span();
            let items: Vec<&toml::Value> = match r.get_ref() {
                toml::Value::Array(items) => items.iter().collect(),
                one => vec![one],
            };
            if items.is_empty() {
                problems.push((
                    Some(span.clone()),
                    "dns.resolver: the list is empty (leave the key out to use the system's \
                     resolvers)"
                        .to_string(),
                ));
            }
            for item in items {
                let parsed = match item {
                    toml::Value::String(s) => parse_resolver(s),
                    other => Err(format!(
                        "expected \"IP:PORT\" or a list of them, found {}",
                        other.type_str()
                    )),
                };
                match parsed {
                    Ok(addr) => out.resolvers.push(addr),
                    Err(e) => problems.push((Some(span.clone()), format!("dns.resolver: {e}"))),
                }
            }
        }
        if let Some(t) = &self.timeout {
            match parse_duration(t.get_ref()) {
                Ok(0) => problems.push((
                    Some(t.span()),
                    "dns.timeout: 0 would give up before any answer (e.g. \"5 seconds\")"
                        .to_string(),
                )),
                Ok(s) if Duration::from_secs(s.unsigned_abs()) > MAX_TIMEOUT => problems.push((
                    Some(t.span()),
                    format!("dns.timeout: {:?} is longer than 60 seconds", t.get_ref()),
                )),
                Ok(s) => out.timeout = Duration::from_secs(s.unsigned_abs()),
                Err(e) => problems.push((Some(t.span()), format!("dns.timeout: {e}"))),
            }
        }
        if let Some(check) = self.lead_domains {
            out.lead_domains = check;
        }
        if problems.is_empty() {
            Ok(out)
        } else {
            Err(problems)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolver_addresses_take_a_port_or_default_to_53() {
        assert_eq!(
            parse_resolver("127.0.0.1:5353"),
            Ok("127.0.0.1:5353".parse().unwrap())
        );
        assert_eq!(parse_resolver("[::1]:53"), Ok("[::1]:53".parse().unwrap()));
        assert_eq!(parse_resolver("9.9.9.9"), Ok("9.9.9.9:53".parse().unwrap()));
        assert!(
            parse_resolver("dns.example.com:53")
                .unwrap_err()
                .contains("not an IP address")
        );
    }
}

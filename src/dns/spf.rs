//! SPF (RFC 7208): the sending domain's record, and whether it lets the mailbox's SMTP host
//! send for the domain. Evaluation follows `include:`, `redirect=`, `a`, `mx`, `ip4`, `ip6` and
//! `exists` within the RFC's limit of 10 DNS lookups; a record that needs macros or `ptr`, or
//! more lookups, gets "cannot tell" instead of a guess.

use std::net::IpAddr;

use super::{Answer, LookupFailed, Mx};

/// The lookups SPF evaluation needs (the real resolver, or a fake in tests).
pub(crate) trait SpfLookup {
    async fn txt(&self, name: &str) -> Result<Answer<String>, LookupFailed>;
    async fn mx(&self, name: &str) -> Result<Answer<Mx>, LookupFailed>;
    async fn addresses(&self, name: &str) -> Result<Answer<IpAddr>, LookupFailed>;
}

impl SpfLookup for super::Dns {
    async fn txt(&self, name: &str) -> Result<Answer<String>, LookupFailed> {
        super::Dns::txt(self, name).await
    }
    async fn mx(&self, name: &str) -> Result<Answer<Mx>, LookupFailed> {
        super::Dns::mx(self, name).await
    }
    async fn addresses(&self, name: &str) -> Result<Answer<IpAddr>, LookupFailed> {
        super::Dns::addresses(self, name).await
    }
}

/// RFC 7208 §4.6.4: at most 10 mechanisms and modifiers that look something up.
pub const MAX_LOOKUPS: u32 = 10;

/// Whether a TXT record is an SPF record (`v=spf1` followed by a space or nothing).
pub fn is_spf(txt: &str) -> bool {
    let t = txt.trim_start();
    t.len() >= 6
        && t[..6].eq_ignore_ascii_case("v=spf1")
        && t[6..].chars().next().is_none_or(|c| c == ' ')
}

/// What a mechanism that matches says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qualifier {
    /// `+` (the default): the host may send.
    Pass,
    /// `-`: it may not.
    Fail,
    /// `~`: probably not.
    SoftFail,
    /// `?`: no opinion.
    Neutral,
}

impl Qualifier {
    fn word(self) -> &'static str {
        match self {
            Qualifier::Pass => "pass",
            Qualifier::Fail => "fail",
            Qualifier::SoftFail => "softfail",
            Qualifier::Neutral => "neutral",
        }
    }
}

/// One mechanism of a record.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Mechanism {
    All,
    Include(String),
    A(Option<String>, u8, u8),
    Mx(Option<String>, u8, u8),
    Ip(IpAddr, u8),
    Exists(String),
    Ptr,
}

/// A parsed SPF record: its mechanisms in order and its `redirect=`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpfRecord {
    terms: Vec<(Qualifier, Mechanism, String)>,
    redirect: Option<String>,
}

/// `DOMAIN[/v4][//v6]` or `/v4//v6` after `a` or `mx`.
fn domain_and_cidr(rest: &str) -> Result<(Option<String>, u8, u8), String> {
    let rest = rest.strip_prefix(':').unwrap_or(rest);
    let (domain, cidr) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let (v4, v6) = match cidr.split_once("//") {
        Some((v4, v6)) => (v4.trim_start_matches('/'), v6),
        None => (cidr.trim_start_matches('/'), ""),
    };
    let prefix = |s: &str, max: u8| -> Result<u8, String> {
        if s.is_empty() {
            return Ok(max);
        }
        s.parse::<u8>()
            .ok()
            .filter(|n| *n <= max)
            .ok_or_else(|| format!("bad prefix length /{s}"))
    };
    let domain = (!domain.is_empty()).then(|| domain.to_string());
    Ok((domain, prefix(v4, 32)?, prefix(v6, 128)?))
}

fn ip_network(rest: &str, v6: bool) -> Result<Mechanism, String> {
    let (ip, len) = rest.split_once('/').unwrap_or((rest, ""));
    let ip: IpAddr = ip
        .parse()
        .map_err(|_| format!("{ip:?} is not an address"))?;
    let max = if v6 { 128 } else { 32 };
    if ip.is_ipv6() != v6 {
        return Err(format!("{ip} is not an IPv{}", if v6 { 6 } else { 4 }));
    }
    let len = if len.is_empty() {
        max
    } else {
        len.parse::<u8>()
            .ok()
            .filter(|n| *n <= max)
            .ok_or_else(|| format!("bad prefix length /{len}"))?
    };
    Ok(Mechanism::Ip(ip, len))
}

/// Parses an SPF record; an error names the term that breaks it.
pub fn parse(record: &str) -> Result<SpfRecord, String> {
    let mut words = record.split_whitespace();
    if !words
        .next()
        .is_some_and(|w| w.eq_ignore_ascii_case("v=spf1"))
    {
        return Err("does not start with v=spf1".to_string());
    }
    let mut out = SpfRecord {
        terms: Vec::new(),
        redirect: None,
    };
    for word in words {
        let lower = word.to_ascii_lowercase();
        if let Some(target) = lower.strip_prefix("redirect=") {
            out.redirect = Some(target.to_string());
            continue;
        }
        if lower.contains('=') && !lower.contains(':') {
            continue; // exp= and unknown modifiers change nothing here
        }
        let (qualifier, body) = match lower.chars().next() {
            Some('+') => (Qualifier::Pass, &lower[1..]),
            Some('-') => (Qualifier::Fail, &lower[1..]),
            Some('~') => (Qualifier::SoftFail, &lower[1..]),
            Some('?') => (Qualifier::Neutral, &lower[1..]),
            _ => (Qualifier::Pass, lower.as_str()),
        };
        let name_end = body.find([':', '/']).unwrap_or(body.len());
        let (name, rest) = body.split_at(name_end);
        let bad = |e: String| format!("term {word:?}: {e}");
        let mechanism = match name {
            "all" if rest.is_empty() => Mechanism::All,
            "include" if rest.len() > 1 => Mechanism::Include(rest[1..].to_string()),
            "exists" if rest.len() > 1 => Mechanism::Exists(rest[1..].to_string()),
            "a" => {
                let (d, v4, v6) = domain_and_cidr(rest).map_err(bad)?;
                Mechanism::A(d, v4, v6)
            }
            "mx" => {
                let (d, v4, v6) = domain_and_cidr(rest).map_err(bad)?;
                Mechanism::Mx(d, v4, v6)
            }
            "ip4" if rest.len() > 1 => ip_network(&rest[1..], false).map_err(bad)?,
            "ip6" if rest.len() > 1 => ip_network(&rest[1..], true).map_err(bad)?,
            "ptr" => Mechanism::Ptr,
            _ => return Err(format!("unknown term {word:?}")),
        };
        out.terms.push((qualifier, mechanism, word.to_string()));
    }
    Ok(out)
}

/// Whether `ip` lies in `net/len`.
fn in_network(ip: IpAddr, net: IpAddr, len: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            u32::from(a) & mask == u32::from(b) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            u128::from(a) & mask == u128::from(b) & mask
        }
        _ => false,
    }
}

/// Whether the record lets a host send, as far as drumbeat can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Coverage {
    /// Every address of the host passes.
    Covered,
    /// This address does not pass: the result it gets (`fail`, `softfail`, `neutral`).
    NotCovered(IpAddr, &'static str),
    /// The record is broken for receivers too (an include without a record, a syntax error).
    Broken(String),
    /// drumbeat cannot tell without guessing (macros, `ptr`, over 10 lookups, DNS failure).
    CannotTell(String),
}

/// Why an evaluation stopped before a result.
enum Stop {
    Broken(String),
    CannotTell(String),
}

impl From<LookupFailed> for Stop {
    fn from(e: LookupFailed) -> Self {
        Stop::CannotTell(e.to_string())
    }
}

/// One evaluation's lookups so far.
struct Budget(u32);

impl Budget {
    fn spend(&mut self) -> Result<(), Stop> {
        self.0 += 1;
        if self.0 > MAX_LOOKUPS {
            return Err(Stop::CannotTell(format!(
                "the record needs more than {MAX_LOOKUPS} DNS lookups (RFC 7208 §4.6.4): \
                 receivers see a permanent error"
            )));
        }
        Ok(())
    }
}

/// The single SPF record at `domain`.
async fn record_at(dns: &impl SpfLookup, domain: &str) -> Result<SpfRecord, Stop> {
    let spf: Vec<String> = dns
        .txt(domain)
        .await?
        .records()
        .into_iter()
        .filter(|t| is_spf(t))
        .collect();
    match spf.as_slice() {
        [one] => parse(one).map_err(|e| Stop::Broken(format!("{domain}: SPF record {e}"))),
        [] => Err(Stop::Broken(format!("{domain} has no SPF record"))),
        _ => Err(Stop::Broken(format!(
            "{domain} has {} SPF records",
            spf.len()
        ))),
    }
}

/// Whether `domain`'s record (already parsed) gives `ip` a pass; otherwise the result it gives.
async fn check(
    dns: &impl SpfLookup,
    domain: &str,
    record: &SpfRecord,
    ip: IpAddr,
    budget: &mut Budget,
) -> Result<Qualifier, Stop> {
    for (qualifier, mechanism, word) in &record.terms {
        if word.contains('%') {
            return Err(Stop::CannotTell(format!(
                "{word} uses SPF macros, which drumbeat does not expand"
            )));
        }
        let matched = match mechanism {
            Mechanism::All => true,
            Mechanism::Ip(net, len) => in_network(ip, *net, *len),
            Mechanism::Ptr => {
                return Err(Stop::CannotTell(format!(
                    "{word}: ptr depends on reverse DNS (and is deprecated)"
                )));
            }
            Mechanism::Include(target) => {
                budget.spend()?;
                let inner = record_at(dns, target).await.map_err(|e| match e {
                    Stop::Broken(why) => Stop::Broken(format!("{word}: {why}")),
                    other => other,
                })?;
                Box::pin(check(dns, target, &inner, ip, budget)).await? == Qualifier::Pass
            }
            Mechanism::A(d, v4, v6) => {
                budget.spend()?;
                let ips = dns
                    .addresses(d.as_deref().unwrap_or(domain))
                    .await?
                    .records();
                ips.iter()
                    .any(|a| in_network(ip, *a, if a.is_ipv4() { *v4 } else { *v6 }))
            }
            Mechanism::Mx(d, v4, v6) => {
                budget.spend()?;
                let hosts = dns.mx(d.as_deref().unwrap_or(domain)).await?.records();
                let mut any = false;
                for h in hosts.iter().filter(|h| !h.host.is_empty()).take(10) {
                    let ips = dns.addresses(&h.host).await?.records();
                    any |= ips
                        .iter()
                        .any(|a| in_network(ip, *a, if a.is_ipv4() { *v4 } else { *v6 }));
                }
                any
            }
            Mechanism::Exists(target) => {
                budget.spend()?;
                !dns.addresses(target).await?.records().is_empty()
            }
        };
        if matched {
            return Ok(*qualifier);
        }
    }
    if let Some(target) = &record.redirect {
        if target.contains('%') {
            return Err(Stop::CannotTell(format!(
                "redirect={target} uses SPF macros, which drumbeat does not expand"
            )));
        }
        budget.spend()?;
        let inner = record_at(dns, target).await?;
        return Box::pin(check(dns, target, &inner, ip, budget)).await;
    }
    Ok(Qualifier::Neutral)
}

/// Whether `domain`'s SPF record (`record`, already found) covers every address in `ips`.
pub(crate) async fn coverage(
    dns: &impl SpfLookup,
    domain: &str,
    record: &str,
    ips: &[IpAddr],
) -> Coverage {
    let parsed = match parse(record) {
        Ok(p) => p,
        Err(e) => return Coverage::Broken(format!("the SPF record {e}")),
    };
    for ip in ips {
        match check(dns, domain, &parsed, *ip, &mut Budget(0)).await {
            Ok(Qualifier::Pass) => {}
            Ok(q) => return Coverage::NotCovered(*ip, q.word()),
            Err(Stop::Broken(why)) => return Coverage::Broken(why),
            Err(Stop::CannotTell(why)) => return Coverage::CannotTell(why),
        }
    }
    Coverage::Covered
}

/// The mechanism that lets `host` send: `ip4:…`/`ip6:…` for an address, else `a:HOST`.
pub fn mechanism_for(host: &str) -> String {
    match host.trim_matches(['[', ']']).parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => format!("ip4:{ip}"),
        Ok(IpAddr::V6(ip)) => format!("ip6:{ip}"),
        Err(_) => format!("a:{host}"),
    }
}

/// `record` with `mechanism` added before its `all` (or at its end).
pub fn with_mechanism(record: &str, mechanism: &str) -> String {
    let mut words: Vec<&str> = record.split_whitespace().collect();
    let at = words
        .iter()
        .position(|w| {
            w.trim_start_matches(['+', '-', '~', '?'])
                .eq_ignore_ascii_case("all")
        })
        .unwrap_or(words.len());
    words.insert(at, mechanism);
    words.join(" ")
}

/// One record from several: every term once, the first `all` (else `~all`) last.
pub fn merged(records: &[String]) -> String {
    let mut terms: Vec<String> = Vec::new();
    let mut all = None;
    for r in records {
        for w in r.split_whitespace().skip(1) {
            if w.trim_start_matches(['+', '-', '~', '?'])
                .eq_ignore_ascii_case("all")
            {
                all.get_or_insert_with(|| w.to_string());
            } else if !terms.iter().any(|t| t.eq_ignore_ascii_case(w)) {
                terms.push(w.to_string());
            }
        }
    }
    terms.push(all.unwrap_or_else(|| "~all".to_string()));
    format!("v=spf1 {}", terms.join(" "))
}

#[cfg(test)]
#[path = "spf_tests.rs"]
mod tests;

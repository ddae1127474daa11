//! `drumbeat doctor`'s checks of a mailbox's sending domain: SPF (present, one, covering the
//! SMTP host), DKIM (the selector's key is the configured key's public half), DMARC (present,
//! its policy) and MX (replies can come back). Each finding says what is wrong and, when a
//! record would fix it, the record to publish. Secrets are read, never shown.

use std::net::IpAddr;

use serde::Serialize;

use super::dkim::{self, KeyMatch};
use super::spf::{self, Coverage};
use super::{Answer, Dns, MailHosts, dmarc};
use crate::config::{Config, Mailbox, Transport};

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// All good.
    Ok,
    /// Works, but worth fixing; does not fail `doctor`.
    Warning,
    /// Broken or missing: mail may land in spam or be refused; `doctor` exits 1.
    Error,
    /// Not checked (nothing configured to check).
    Skipped,
}

/// A DNS record to publish.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Publish {
    /// `TXT` or `MX`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Where (`_dmarc.example.com`).
    pub name: String,
    /// What (`v=DMARC1; p=quarantine`).
    pub value: String,
}

impl std::fmt::Display for Publish {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "publish {} at {}: {}", self.kind, self.name, self.value)
    }
}

/// One check's result.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// `spf`, `dkim`, `dmarc` or `mx`.
    pub check: &'static str,
    /// How it came out.
    pub status: Status,
    /// What was found, for a person.
    pub message: String,
    /// The record that fixes it, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub publish: Option<Publish>,
}

fn finding(check: &'static str, status: Status, message: String) -> Finding {
    Finding {
        check,
        status,
        message,
        publish: None,
    }
}

fn fix(check: &'static str, message: String, publish: Publish) -> Finding {
    Finding {
        check,
        status: Status::Error,
        message,
        publish: Some(publish),
    }
}

fn txt(name: &str, value: String) -> Publish {
    Publish {
        kind: "TXT",
        name: name.to_string(),
        value,
    }
}

/// One mailbox's checks.
#[derive(Debug, Clone, Serialize)]
pub struct MailboxReport {
    /// The mailbox's name.
    pub mailbox: String,
    /// Its From address.
    pub from: String,
    /// The sending domain (the From address's).
    pub domain: String,
    /// SPF, DKIM, DMARC and MX, in that order.
    pub checks: Vec<Finding>,
}

/// Checks one mailbox's sending domain.
pub async fn check_mailbox(dns: &Dns, config: &Config, m: &Mailbox) -> MailboxReport {
    let domain = m.from.domain().to_string();
    let smtp_host = match &m.transport {
        Transport::Smtp(s) => Some(s.host.as_str()),
        Transport::Outbox { .. } => None,
    };
    let inbound = m.imap.as_ref().map(|i| i.host.as_str());
    let checks = vec![
        check_spf(dns, &domain, smtp_host).await,
        check_dkim(dns, config, m).await,
        check_dmarc(dns, &domain).await,
        check_mx(dns, &domain, m.from.as_str(), inbound).await,
    ];
    MailboxReport {
        mailbox: m.name.clone(),
        from: m.from.as_str().to_string(),
        domain,
        checks,
    }
}

fn show_ips(ips: &[IpAddr]) -> String {
    ips.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

async fn check_spf(dns: &Dns, domain: &str, host: Option<&str>) -> Finding {
    let records: Vec<String> = match dns.txt(domain).await {
        Ok(a) => a.records().into_iter().filter(|t| spf::is_spf(t)).collect(),
        Err(e) => return finding("spf", Status::Error, format!("cannot look up SPF: {e}")),
    };
    let mechanism = host.map_or_else(|| "mx".to_string(), spf::mechanism_for);
    let record = match records.as_slice() {
        [] => {
            let who = host.map_or_else(|| "your servers".to_string(), str::to_string);
            return fix(
                "spf",
                format!(
                    "no SPF record at {domain}: receivers cannot tell that {who} may send for it"
                ),
                txt(domain, format!("v=spf1 {mechanism} ~all")),
            );
        }
        [one] => one,
        many => {
            return fix(
                "spf",
                format!(
                    "{} SPF records at {domain}: receivers treat more than one as a permanent \
                     error (RFC 7208 §4.5), as if there were none; replace them with one",
                    many.len()
                ),
                txt(domain, spf::merged(many)),
            );
        }
    };
    let Some(host) = host else {
        return finding(
            "spf",
            Status::Ok,
            format!("{record} (the mailbox writes to an outbox folder: no SMTP host to check)"),
        );
    };
    spf_covers(dns, domain, record, host, &mechanism).await
}

/// Whether the one SPF record `record` of `domain` covers the SMTP host `host`.
async fn spf_covers(dns: &Dns, domain: &str, record: &str, host: &str, mechanism: &str) -> Finding {
    let ips = match dns.addresses(host).await {
        Ok(Answer::Records(ips)) => ips,
        Ok(_) => {
            return finding(
                "spf",
                Status::Warning,
                format!(
                    "{record}: cannot tell whether it covers the SMTP host {host}, which has no address in DNS"
                ),
            );
        }
        Err(e) => {
            return finding(
                "spf",
                Status::Warning,
                format!("{record}: cannot tell whether it covers the SMTP host {host}: {e}"),
            );
        }
    };
    match spf::coverage(dns, domain, record, &ips).await {
        Coverage::Covered => finding(
            "spf",
            Status::Ok,
            format!("{record} covers the SMTP host {host} ({})", show_ips(&ips)),
        ),
        Coverage::NotCovered(ip, result) => fix(
            "spf",
            format!(
                "the SPF record of {domain} does not cover the SMTP host {host}: {ip} gets \
                 {result} ({record})"
            ),
            txt(domain, spf::with_mechanism(record, mechanism)),
        ),
        Coverage::Broken(why) => finding(
            "spf",
            Status::Error,
            format!("the SPF record of {domain} is broken: {why} ({record})"),
        ),
        Coverage::CannotTell(why) => finding(
            "spf",
            Status::Warning,
            format!("cannot tell whether {record} covers the SMTP host {host}: {why}"),
        ),
    }
}

async fn check_dkim(dns: &Dns, config: &Config, m: &Mailbox) -> Finding {
    let Some(d) = &m.dkim else {
        return finding(
            "dkim",
            Status::Skipped,
            "no DKIM key configured for this mailbox ([mailbox.dkim]); unless its provider signs \
             its mail, receivers see it unsigned"
                .to_string(),
        );
    };
    let key = match d.key.resolve(&config.dir) {
        Ok(k) => k,
        Err(e) => {
            return finding(
                "dkim",
                Status::Error,
                format!("cannot read the DKIM key: {e}"),
            );
        }
    };
    let public = match dkim::public_key(d.algorithm, key.expose()) {
        Ok(p) => p,
        Err(e) => {
            return finding(
                "dkim",
                Status::Error,
                format!("the DKIM key from {} is {e}", d.key),
            );
        }
    };
    let domain = d
        .domain
        .clone()
        .unwrap_or_else(|| m.from.domain().to_string());
    let name = format!("{}._domainkey.{domain}", d.selector);
    let records: Vec<String> = match dns.txt(&name).await {
        Ok(a) => a
            .records()
            .into_iter()
            .filter(|t| super::tags(t).iter().any(|(k, _)| k == "p"))
            .collect(),
        Err(e) => return finding("dkim", Status::Error, format!("cannot look up DKIM: {e}")),
    };
    let publish = txt(&name, public.record());
    if records.is_empty() {
        return fix(
            "dkim",
            format!("no DKIM record at {name}: receivers cannot check the mailbox's signatures"),
            publish,
        );
    }
    let results: Vec<KeyMatch> = records.iter().map(|r| dkim::compare(r, &public)).collect();
    if results.contains(&KeyMatch::Matches) {
        return finding(
            "dkim",
            Status::Ok,
            format!("{name} publishes the configured {} key", public.kind()),
        );
    }
    let why = match &results[0] {
        KeyMatch::Revoked => "its p= is empty (the key was revoked)".to_string(),
        KeyMatch::Differs(why) => why.clone(),
        KeyMatch::Matches => unreachable!("no record matches here"),
    };
    fix(
        "dkim",
        format!("the DKIM record at {name} does not match the configured key: {why}"),
        publish,
    )
}

async fn check_dmarc(dns: &Dns, domain: &str) -> Finding {
    let name = format!("_dmarc.{domain}");
    let records: Vec<String> = match dns.txt(&name).await {
        Ok(a) => a
            .records()
            .into_iter()
            .filter(|t| dmarc::is_dmarc(t))
            .collect(),
        Err(e) => return finding("dmarc", Status::Error, format!("cannot look up DMARC: {e}")),
    };
    let suggested = txt(
        &name,
        format!("v=DMARC1; p=quarantine; rua=mailto:dmarc-reports@{domain}"),
    );
    let record = match records.as_slice() {
        [] => {
            return fix(
                "dmarc",
                format!(
                    "no DMARC record at {name}: large mailbox providers (Gmail, Yahoo) expect one \
                     from senders"
                ),
                suggested,
            );
        }
        [one] => one,
        many => {
            return fix(
                "dmarc",
                format!(
                    "{} DMARC records at {name}: receivers ignore them all; keep one",
                    many.len()
                ),
                suggested,
            );
        }
    };
    match dmarc::parse(record) {
        Err(e) => fix(
            "dmarc",
            format!("the DMARC record at {name} {e}"),
            suggested,
        ),
        Ok(d) if d.policy == "none" => Finding {
            check: "dmarc",
            status: Status::Warning,
            message: format!(
                "policy p=none at {name}: receivers take no action on mail that fails SPF and \
                 DKIM, so anyone can send as {domain}; once your own mail passes, ask for quarantine"
            ),
            publish: Some(txt(&name, dmarc::with_policy(record, "quarantine"))),
        },
        Ok(d) => finding(
            "dmarc",
            Status::Ok,
            format!("policy p={} ({record})", d.policy),
        ),
    }
}

async fn check_mx(dns: &Dns, domain: &str, from: &str, inbound: Option<&str>) -> Finding {
    let mx = Publish {
        kind: "MX",
        name: domain.to_string(),
        value: format!(
            "10 {}",
            inbound.unwrap_or("<the host that receives your mail>")
        ),
    };
    match dns.mail_hosts(domain).await {
        Err(e) => finding("mx", Status::Error, format!("cannot look up MX: {e}")),
        Ok(MailHosts::Mx(hosts)) => {
            let list: Vec<String> = hosts
                .iter()
                .map(|h| format!("{} ({})", h.host, h.preference))
                .collect();
            finding(
                "mx",
                Status::Ok,
                format!("replies arrive at {}", list.join(", ")),
            )
        }
        Ok(MailHosts::AddressOnly(ips)) => Finding {
            check: "mx",
            status: Status::Warning,
            message: format!(
                "{domain} has no MX: replies to {from} go to its own address ({}), which many \
                 senders' servers will not try",
                show_ips(&ips)
            ),
            publish: Some(mx),
        },
        Ok(MailHosts::NullMx) => finding(
            "mx",
            Status::Error,
            format!(
                "{domain} publishes a null MX (RFC 7505): it accepts no mail, so replies to \
                 {from} bounce; remove it and publish an MX"
            ),
        ),
        Ok(MailHosts::NoDomain) => finding(
            "mx",
            Status::Error,
            format!("{domain} does not exist in DNS (NXDOMAIN): replies to {from} cannot arrive"),
        ),
        Ok(MailHosts::Nothing) => fix(
            "mx",
            format!(
                "{domain} has no MX and no A/AAAA record: it cannot receive mail, so replies \
                 to {from} cannot arrive"
            ),
            mx,
        ),
    }
}

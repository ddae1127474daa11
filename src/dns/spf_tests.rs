use std::collections::HashMap;

use super::*;

/// DNS from a table: TXT, MX and address records by name; a name in no table is NXDOMAIN.
#[derive(Default)]
struct Fake {
    txt: HashMap<&'static str, Vec<&'static str>>,
    mx: HashMap<&'static str, Vec<&'static str>>,
    ips: HashMap<&'static str, Vec<&'static str>>,
}

impl Fake {
    fn txt(mut self, name: &'static str, record: &'static str) -> Self {
        self.txt.entry(name).or_default().push(record);
        self
    }
    fn ip(mut self, name: &'static str, ip: &'static str) -> Self {
        self.ips.entry(name).or_default().push(ip);
        self
    }
    fn mx(mut self, name: &'static str, host: &'static str) -> Self {
        self.mx.entry(name).or_default().push(host);
        self
    }
}

impl SpfLookup for Fake {
    async fn txt(&self, name: &str) -> Result<Answer<String>, LookupFailed> {
        Ok(match self.txt.get(name) {
            Some(v) => Answer::Records(v.iter().map(|s| s.to_string()).collect()),
            None => Answer::NoDomain,
        })
    }
    async fn mx(&self, name: &str) -> Result<Answer<Mx>, LookupFailed> {
        Ok(match self.mx.get(name) {
            Some(v) => Answer::Records(
                v.iter()
                    .map(|h| Mx {
                        preference: 10,
                        host: h.to_string(),
                    })
                    .collect(),
            ),
            None => Answer::NoRecords,
        })
    }
    async fn addresses(&self, name: &str) -> Result<Answer<IpAddr>, LookupFailed> {
        Ok(match self.ips.get(name) {
            Some(v) => Answer::Records(v.iter().map(|s| s.parse().unwrap()).collect()),
            None => Answer::NoRecords,
        })
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn spf_records_are_told_from_other_txt_records() {
    assert!(is_spf("v=spf1 -all"));
    assert!(is_spf("V=SPF1"));
    assert!(!is_spf("v=spf10 -all"));
    assert!(!is_spf("google-site-verification=abc"));
}

#[test]
fn parsing_names_the_term_that_breaks_the_record() {
    assert!(parse("v=spf1 ip4:192.0.2.0/24 a mx/24//64 include:x.test -all").is_ok());
    assert!(
        parse("v=spf1 ip4:192.0.2.0/33")
            .unwrap_err()
            .contains("ip4:192.0.2.0/33")
    );
    assert!(
        parse("v=spf1 bogus:x")
            .unwrap_err()
            .contains("unknown term")
    );
    assert!(parse("spf1 -all").is_err());
}

#[test]
fn networks_match_by_prefix() {
    assert!(in_network(ip("192.0.2.77"), ip("192.0.2.0"), 24));
    assert!(!in_network(ip("192.0.3.1"), ip("192.0.2.0"), 24));
    assert!(in_network(ip("10.1.2.3"), ip("0.0.0.0"), 0));
    assert!(in_network(ip("2001:db8::1"), ip("2001:db8::"), 32));
    assert!(!in_network(ip("2001:db8::1"), ip("192.0.2.0"), 0));
}

#[tokio::test]
async fn an_include_and_an_a_mechanism_cover_the_host() {
    let dns = Fake::default()
        .txt("_spf.x.test", "v=spf1 a:smtp.x.test -all")
        .ip("smtp.x.test", "127.0.0.1");
    let c = coverage(
        &dns,
        "x.test",
        "v=spf1 include:_spf.x.test ~all",
        &[ip("127.0.0.1")],
    )
    .await;
    assert_eq!(c, Coverage::Covered);
}

#[tokio::test]
async fn a_host_outside_every_mechanism_gets_the_all_result() {
    let dns = Fake::default();
    let c = coverage(
        &dns,
        "x.test",
        "v=spf1 ip4:192.0.2.0/24 -all",
        &[ip("127.0.0.1")],
    )
    .await;
    assert_eq!(c, Coverage::NotCovered(ip("127.0.0.1"), "fail"));
    let c = coverage(&dns, "x.test", "v=spf1 ip6:2001:db8::/32", &[ip("::1")]).await;
    assert_eq!(c, Coverage::NotCovered(ip("::1"), "neutral"));
}

#[tokio::test]
async fn mx_and_redirect_are_followed() {
    let dns = Fake::default()
        .mx("x.test", "mx.x.test")
        .ip("mx.x.test", "192.0.2.5")
        .txt("y.test", "v=spf1 mx:x.test -all");
    let c = coverage(&dns, "z.test", "v=spf1 redirect=y.test", &[ip("192.0.2.5")]).await;
    assert_eq!(c, Coverage::Covered);
}

#[tokio::test]
async fn macros_ptr_and_too_many_lookups_cannot_be_told() {
    let dns = Fake::default();
    let c = coverage(
        &dns,
        "x.test",
        "v=spf1 exists:%{i}.x.test -all",
        &[ip("127.0.0.1")],
    )
    .await;
    assert!(
        matches!(c, Coverage::CannotTell(ref why) if why.contains("macros")),
        "{c:?}"
    );
    let c = coverage(&dns, "x.test", "v=spf1 ptr -all", &[ip("127.0.0.1")]).await;
    assert!(
        matches!(c, Coverage::CannotTell(ref why) if why.contains("ptr")),
        "{c:?}"
    );
    let looping = Fake::default().txt("loop.test", "v=spf1 include:loop.test -all");
    let c = coverage(
        &looping,
        "loop.test",
        "v=spf1 include:loop.test -all",
        &[ip("127.0.0.1")],
    )
    .await;
    assert!(
        matches!(c, Coverage::CannotTell(ref why) if why.contains("10 DNS lookups")),
        "{c:?}"
    );
}

#[tokio::test]
async fn an_include_without_a_record_is_broken() {
    let dns = Fake::default();
    let c = coverage(
        &dns,
        "x.test",
        "v=spf1 include:gone.test -all",
        &[ip("127.0.0.1")],
    )
    .await;
    assert!(
        matches!(c, Coverage::Broken(ref why) if why.contains("gone.test has no SPF record")),
        "{c:?}"
    );
}

#[test]
fn corrected_records_keep_the_all_last() {
    assert_eq!(mechanism_for("127.0.0.1"), "ip4:127.0.0.1");
    assert_eq!(mechanism_for("::1"), "ip6:::1");
    assert_eq!(mechanism_for("smtp.x.test"), "a:smtp.x.test");
    assert_eq!(
        with_mechanism("v=spf1 ip4:192.0.2.0/24 -all", "a:smtp.x.test"),
        "v=spf1 ip4:192.0.2.0/24 a:smtp.x.test -all"
    );
    assert_eq!(
        with_mechanism("v=spf1 mx", "ip4:1.2.3.4"),
        "v=spf1 mx ip4:1.2.3.4"
    );
    assert_eq!(
        merged(&[
            "v=spf1 a -all".into(),
            "v=spf1 ip4:192.0.2.10 a ~all".into()
        ]),
        "v=spf1 a ip4:192.0.2.10 -all"
    );
}

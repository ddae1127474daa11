//! `drumbeat doctor` against a real DNS server on loopback (dnsmasq, `scripts/testbed`), one
//! test per problem it reports, and the mail-host checks the daemon will use
//! (`Dns::accepts_mail`, `disposable`).

use drumbeat::config::DnsSettings;
use drumbeat::dns::{Dns, NoMailHost, Verdict, disposable};

use crate::support::dns::dns_server;
use crate::support::{Project, Run, repo};

/// A project whose one extra mailbox `rep` sends as rep@DOMAIN through smtp.DOMAIN (which the
/// test zone points at 127.0.0.1), signing with the fixture key under selector s1.
fn project(dns: &str, domain: &str) -> Project {
    let p = Project::shipped();
    p.write(
        "dkim.pem",
        std::fs::read(repo().join("tests/fixtures/dkim-test-rsa.pem")).expect("the fixture key"),
    );
    let config = std::fs::read_to_string(p.file("config.toml")).expect("read config.toml");
    p.write(
        "config.toml",
        format!(
            "{config}\n[dns]\nresolver = \"{dns}\"\ntimeout = \"2s\"\n\n\
             [[mailbox]]\nname = \"rep\"\nfrom = \"rep@{domain}\"\n\
             [mailbox.smtp]\nhost = \"smtp.{domain}\"\nport = 2525\nsecurity = \"none\"\n\
             [mailbox.dkim]\nselector = \"s1\"\nkey = {{ file = \"dkim.pem\" }}\n"
        ),
    );
    p
}

/// `doctor --mailbox rep` on DOMAIN: the human run and the JSON run's checks by name.
fn doctor(test: &str, domain: &str) -> Option<(Run, serde_json::Value)> {
    let dns = dns_server(test)?;
    let p = project(&dns, domain);
    let human = p.run(&["doctor", "--mailbox", "rep"]);
    let json = p.run(&["doctor", "--mailbox", "rep", "--json"]);
    assert_eq!(human.code, json.code, "{human:?}\n{json:?}");
    let report = json.json();
    assert_eq!(report["mailboxes"][0]["domain"], domain, "{report:#}");
    assert!(
        !human.stdout.contains("PRIVATE KEY") && !json.stdout.contains("PRIVATE KEY"),
        "the private key was printed"
    );
    Some((human, report))
}

/// The check `name` of the report.
fn check<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["mailboxes"][0]["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["check"] == name)
        .unwrap_or_else(|| panic!("no {name} check in {report:#}"))
}

/// Asserts that only `name` has a problem, of `status`, saying `message`; returns its
/// check. Exit code 1 for an error, 0 for a warning.
#[track_caller]
fn only_problem<'a>(
    (human, report): &'a (Run, serde_json::Value),
    name: &str,
    status: &str,
    message: &str,
) -> &'a serde_json::Value {
    for other in ["spf", "dkim", "dmarc", "mx"] {
        if other != name {
            let c = check(report, other);
            assert_eq!(c["status"], "ok", "{other} should be fine: {report:#}");
        }
    }
    let c = check(report, name);
    assert_eq!(c["status"], status, "{c:#}");
    let said = c["message"].as_str().expect("a message");
    assert!(said.contains(message), "{name}: {said:?} lacks {message:?}");
    assert!(human.stdout.contains(message), "{}", human.stdout);
    human.code(if status == "error" { 1 } else { 0 });
    c
}

/// Asserts the record to publish, as JSON and as the human line `publish TYPE at NAME: VALUE`.
#[track_caller]
fn publishes(human: &Run, c: &serde_json::Value, line: &str) {
    let p = &c["publish"];
    let json_line = format!(
        "publish {} at {}: {}",
        p["type"].as_str().unwrap_or("?"),
        p["name"].as_str().unwrap_or("?"),
        p["value"].as_str().unwrap_or("?")
    );
    assert_eq!(json_line, line, "{c:#}");
    assert!(
        human.stdout.contains(line),
        "the human output lacks {line:?}:\n{}",
        human.stdout
    );
}

fn resolver(dns: &str) -> Dns {
    let settings = DnsSettings {
        resolvers: vec![dns.parse().expect("IP:PORT")],
        timeout: std::time::Duration::from_secs(2),
        lead_domains: true,
    };
    Dns::new(&settings).expect("a resolver")
}

/// The DKIM record the test zone publishes for the fixture key (made there with openssl).
fn fixture_dkim_record(dns: &str) -> String {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(async {
        resolver(dns)
            .txt("s1._domainkey.good.test")
            .await
            .expect("a TXT answer")
            .records()
            .remove(0)
    })
}

#[test]
fn doctor_finds_nothing_wrong_with_a_domain_that_has_everything() {
    let test = "doctor_finds_nothing_wrong_with_a_domain_that_has_everything";
    let Some((human, report)) = doctor(test, "good.test") else {
        return;
    };
    human.code(0);
    assert_eq!(report["ok"], true, "{report:#}");
    assert_eq!(
        (report["errors"].as_u64(), report["warnings"].as_u64()),
        (Some(0), Some(0))
    );
    for (name, says) in [
        ("spf", "covers the SMTP host smtp.good.test (127.0.0.1)"),
        (
            "dkim",
            "s1._domainkey.good.test publishes the configured rsa key",
        ),
        ("dmarc", "policy p=quarantine"),
        ("mx", "replies arrive at mx.good.test (10)"),
    ] {
        let c = check(&report, name);
        assert_eq!(c["status"], "ok", "{c:#}");
        assert!(c["message"].as_str().unwrap_or("").contains(says), "{c:#}");
    }
    assert!(
        human.stdout.contains("0 error(s), 0 warning(s)"),
        "{}",
        human.stdout
    );
}

#[test]
fn doctor_reports_a_missing_spf_record_and_the_record_to_publish() {
    let test = "doctor_reports_a_missing_spf_record_and_the_record_to_publish";
    let Some(r) = doctor(test, "no-spf.test") else {
        return;
    };
    let c = only_problem(&r, "spf", "error", "no SPF record at no-spf.test");
    publishes(
        &r.0,
        c,
        "publish TXT at no-spf.test: v=spf1 a:smtp.no-spf.test ~all",
    );
}

#[test]
fn doctor_reports_two_spf_records_and_the_one_to_replace_them() {
    let test = "doctor_reports_two_spf_records_and_the_one_to_replace_them";
    let Some(r) = doctor(test, "two-spf.test") else {
        return;
    };
    let c = only_problem(&r, "spf", "error", "2 SPF records at two-spf.test");
    // The server orders the two records as it likes: either merge is right.
    let merged = [
        "v=spf1 ip4:192.0.2.10 a:smtp.two-spf.test -all",
        "v=spf1 a:smtp.two-spf.test ip4:192.0.2.10 -all",
    ]
    .into_iter()
    .find(|m| c["publish"]["value"] == *m)
    .unwrap_or_else(|| panic!("not one merged record: {c:#}"));
    publishes(&r.0, c, &format!("publish TXT at two-spf.test: {merged}"));
}

#[test]
fn doctor_reports_spf_that_does_not_cover_the_smtp_host() {
    let test = "doctor_reports_spf_that_does_not_cover_the_smtp_host";
    let Some(r) = doctor(test, "spf-elsewhere.test") else {
        return;
    };
    let c = only_problem(
        &r,
        "spf",
        "error",
        "does not cover the SMTP host smtp.spf-elsewhere.test: 127.0.0.1 gets fail",
    );
    publishes(
        &r.0,
        c,
        "publish TXT at spf-elsewhere.test: v=spf1 ip4:192.0.2.0/24 \
         include:_spf.spf-elsewhere.test a:smtp.spf-elsewhere.test -all",
    );
}

#[test]
fn doctor_cannot_tell_spf_with_macros_and_says_so_as_a_warning() {
    let test = "doctor_cannot_tell_spf_with_macros_and_says_so_as_a_warning";
    let Some(r) = doctor(test, "spf-macro.test") else {
        return;
    };
    let c = only_problem(&r, "spf", "warning", "cannot tell whether");
    assert!(
        c["message"].as_str().unwrap_or("").contains("SPF macros"),
        "{c:#}"
    );
    assert_eq!(r.1["ok"], true);
}

#[test]
fn doctor_reports_a_missing_dkim_record_and_the_record_built_from_the_key() {
    let test = "doctor_reports_a_missing_dkim_record_and_the_record_built_from_the_key";
    let Some(r) = doctor(test, "no-dkim.test") else {
        return;
    };
    let c = only_problem(
        &r,
        "dkim",
        "error",
        "no DKIM record at s1._domainkey.no-dkim.test",
    );
    let dns = dns_server(test).expect("checked above");
    let record = fixture_dkim_record(&dns);
    assert!(record.starts_with("v=DKIM1; k=rsa; p=MIGf"), "{record}");
    publishes(
        &r.0,
        c,
        &format!("publish TXT at s1._domainkey.no-dkim.test: {record}"),
    );
}

#[test]
fn doctor_reports_a_dkim_record_with_another_key() {
    let test = "doctor_reports_a_dkim_record_with_another_key";
    let Some(r) = doctor(test, "wrong-dkim.test") else {
        return;
    };
    let c = only_problem(
        &r,
        "dkim",
        "error",
        "the DKIM record at s1._domainkey.wrong-dkim.test does not match the configured key",
    );
    let dns = dns_server(test).expect("checked above");
    let record = fixture_dkim_record(&dns);
    publishes(
        &r.0,
        c,
        &format!("publish TXT at s1._domainkey.wrong-dkim.test: {record}"),
    );
}

#[test]
fn doctor_reports_a_missing_dmarc_record() {
    let Some(r) = doctor("doctor_reports_a_missing_dmarc_record", "no-dmarc.test") else {
        return;
    };
    let c = only_problem(
        &r,
        "dmarc",
        "error",
        "no DMARC record at _dmarc.no-dmarc.test",
    );
    publishes(
        &r.0,
        c,
        "publish TXT at _dmarc.no-dmarc.test: v=DMARC1; p=quarantine; \
         rua=mailto:dmarc-reports@no-dmarc.test",
    );
}

#[test]
fn doctor_warns_about_dmarc_p_none_and_exits_0() {
    let Some(r) = doctor(
        "doctor_warns_about_dmarc_p_none_and_exits_0",
        "dmarc-none.test",
    ) else {
        return;
    };
    let c = only_problem(
        &r,
        "dmarc",
        "warning",
        "policy p=none at _dmarc.dmarc-none.test",
    );
    publishes(
        &r.0,
        c,
        "publish TXT at _dmarc.dmarc-none.test: v=DMARC1; p=quarantine",
    );
    assert_eq!(
        (r.1["ok"].as_bool(), r.1["warnings"].as_u64()),
        (Some(true), Some(1))
    );
}

#[test]
fn doctor_reports_a_domain_that_cannot_receive_replies() {
    let test = "doctor_reports_a_domain_that_cannot_receive_replies";
    let Some(r) = doctor(test, "no-mx.test") else {
        return;
    };
    let c = only_problem(
        &r,
        "mx",
        "error",
        "no-mx.test has no MX and no A/AAAA record",
    );
    publishes(
        &r.0,
        c,
        "publish MX at no-mx.test: 10 <the host that receives your mail>",
    );
}

#[tokio::test]
async fn accepts_mail_tells_a_mail_domain_from_one_without_a_mail_host() {
    let Some(dns) = dns_server("accepts_mail_tells_a_mail_domain_from_one_without_a_mail_host")
    else {
        return;
    };
    let d = resolver(&dns);
    assert_eq!(d.accepts_mail("good.test").await, Verdict::Accepts);
    assert_eq!(
        d.accepts_mail("a-only.test").await,
        Verdict::Accepts,
        "no MX, an A record"
    );
    assert_eq!(
        d.accepts_mail("no-mx.test").await,
        Verdict::NoMailHost(NoMailHost::NoMxNoAddress)
    );
    assert_eq!(
        d.accepts_mail("null-mx.test").await,
        Verdict::NoMailHost(NoMailHost::NullMx)
    );
    assert_eq!(
        d.accepts_mail("gone.test").await,
        Verdict::NoMailHost(NoMailHost::NoSuchDomain)
    );
    // Cached: the same answer again (and the letter case does not matter).
    assert_eq!(d.accepts_mail("GOOD.test.").await, Verdict::Accepts);
    assert!(disposable("mailinator.com"));
    assert!(!disposable("good.test"));
}

#[tokio::test]
async fn accepts_mail_says_unknown_when_dns_does_not_answer() {
    // A loopback port where no DNS server listens: UDP queries go unanswered.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").expect("a free port");
    let settings = DnsSettings {
        resolvers: vec![silent.local_addr().expect("its address")],
        timeout: std::time::Duration::from_millis(300),
        lead_domains: true,
    };
    let d = Dns::new(&settings).expect("a resolver");
    assert!(
        matches!(d.accepts_mail("good.test").await, Verdict::Unknown(_)),
        "a silent server proves nothing about the domain"
    );
}

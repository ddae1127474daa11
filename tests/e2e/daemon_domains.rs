//! A lead's domain before its first email, against a real DNS server on loopback (dnsmasq
//! serving `scripts/testbed`'s test zone) and a real SMTP server (smtp-sink): a lead at a
//! domain that does not exist, publishes a null MX, or has neither MX nor A/AAAA is skipped
//! with the reason (`run --once`, `lead show`, `status`), never written to; `validate --leads`
//! warns about the same rows before the import.

use std::time::Duration;

use serde_json::Value;

use crate::support::Project;
use crate::support::daemon::{at, run_once, smtp_project};
use crate::support::dns::dns_server;
use crate::support::sink::Sink;

/// Thursday 2026-03-05, 10:00 in New York: the window is open.
const T0: &str = "2026-03-05T15:00:00Z";

/// Rows 2–6 of leads.csv: one that accepts mail through its MX, one through its A record,
/// and three that cannot.
const LEADS: [(&str, Option<&str>); 5] = [
    ("ada@good.test", None),
    ("bo@a-only.test", None),
    ("cy@nowhere.test", Some("does not exist")),
    ("di@null-mx.test", Some("null MX")),
    ("ed@no-mx.test", Some("no MX and no A/AAAA")),
];

fn project(sink: &Sink, dns: &str) -> Project {
    let p = smtp_project(
        sink,
        &format!("[dns]\nresolver = \"{dns}\"\ntimeout = \"2 seconds\"\n"),
    );
    let rows: String = LEADS
        .iter()
        .map(|(email, _)| format!("{email},Ada,Company,America/New_York\n"))
        .collect();
    p.write(
        "leads.csv",
        format!("Email,First Name,Company,Time Zone\n{rows}"),
    );
    p
}

fn state_of(p: &Project, email: &str) -> Value {
    let v = at(p, T0, &["lead", "show", email, "--json"]).json();
    v["enrollments"][0].clone()
}

#[test]
fn leads_at_domains_that_cannot_receive_mail_are_skipped_with_the_reason() {
    let test = "leads_at_domains_that_cannot_receive_mail_are_skipped_with_the_reason";
    let Some(dns) = dns_server(test) else {
        return;
    };
    let Some(sink) = Sink::start(test, &[]) else {
        return;
    };
    let p = project(&sink, &dns);
    // Before the import: a warning per row that cannot receive mail, naming row and why.
    let v = p.ok(&["validate", "--leads", "leads.csv", "--json"]).json();
    assert_eq!(v["leads"]["undeliverable_rows"], 3, "{v:#}");
    for (i, (email, why)) in LEADS.iter().enumerate() {
        let domain = email.split('@').nth(1).expect("a domain");
        let warned = v["diagnostics"].as_array().and_then(|d| {
            d.iter().find(|d| {
                d["line"] == i + 2 && d["message"].as_str().unwrap_or("").starts_with(domain)
            })
        });
        match why {
            Some(why) => {
                let w = warned.unwrap_or_else(|| panic!("no warning for row {}: {v:#}", i + 2));
                assert_eq!(w["severity"], "warning", "{w:#}");
                assert!(w["message"].as_str().unwrap_or("").contains(why), "{w:#}");
            }
            None => assert!(warned.is_none(), "{warned:?}"),
        }
    }
    at(
        &p,
        "2026-03-05T14:00:00Z",
        &["leads", "import", "leads.csv", "--sequence", "e2e"],
    );
    let (r, _) = run_once(&p, T0);
    assert_eq!(
        (r["sent"].as_u64(), r["skipped"].as_u64()),
        (Some(2), Some(3)),
        "{r:#}"
    );
    let got = sink.wait_for(2, Duration::from_secs(10));
    let mut to: Vec<String> = got.iter().filter_map(|m| m.header("To")).collect();
    to.sort();
    assert_eq!(
        to,
        ["Ada <ada@good.test>", "Ada <bo@a-only.test>"],
        "{to:?}"
    );
    for (email, why) in LEADS {
        let e = state_of(&p, email);
        match why {
            Some(why) => {
                assert_eq!(e["state"], "failed", "{email}: {e:#}");
                let reason = e["reason"].as_str().unwrap_or_default();
                assert!(reason.contains(why), "{email}: {e:#}");
            }
            None => assert_eq!(e["state"], "active", "{email}: {e:#}"),
        }
    }
    // status lists them for a person to fix the address.
    let status = at(&p, T0, &["status", "--json"]).json();
    let failed: Vec<&Value> = status["needs_attention"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|i| i["kind"] == "failed-enrollment")
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(failed.len(), 3, "{status:#}");
    // Nothing more goes out later to the skipped leads.
    let (r, _) = run_once(&p, "2026-03-05T16:00:00Z");
    assert_eq!(r["skipped"], 0, "{r:#}");
    assert_eq!(sink.messages().len(), 2);
}

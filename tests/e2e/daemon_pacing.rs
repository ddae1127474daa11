//! Human pacing and safe failure, through `run --once` on a simulated clock with the outbox
//! transport: the daily cap, the minimum gap between sends, the per-domain hourly limit, and
//! a lead whose email cannot be rendered (nothing is sent; the lead pauses until fixed).

use crate::support::Project;
use crate::support::daemon::{at, run_once};

/// Thursday 2026-03-05, 10:00 in New York.
const T0: &str = "2026-03-05T15:00:00Z";

fn project(mailbox_extra: &str, extra: &str) -> Project {
    let p = Project::shipped();
    p.write(
        "config.toml",
        format!(
            r#"store = "sqlite://data/drumbeat.db"
timezone = "America/New_York"
{extra}
[[mailbox]]
name = "rep"
from = "rep@example.com"
signature = "Rita"
outbox = "data/outbox"
{mailbox_extra}
"#
        ),
    );
    p.write(
        "sequences/one.yaml",
        r#"id: one
mailboxes: [rep]
window: { days: [mon-fri], hours: "09:00-17:00", timezone: America/New_York }
steps:
  - { id: intro, wait: 0, template: cold/intro }
"#,
    );
    let _ = std::fs::remove_file(p.file("sequences/cold-outbound.yaml"));
    let _ = std::fs::remove_file(p.file("sequences/inbound-fast.yaml"));
    p
}

fn import(p: &Project, rows: &[(&str, &str)]) {
    let mut csv = String::from("Email,First Name,Company\n");
    for (email, company) in rows {
        csv.push_str(&format!("{email},Ann,{company}\n"));
    }
    p.write("leads.csv", csv);
    at(
        p,
        "2026-03-05T14:00:00Z",
        &["leads", "import", "leads.csv", "--sequence", "one"],
    );
}

fn outbox_count(p: &Project) -> usize {
    std::fs::read_dir(p.file("data/outbox"))
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                .count()
        })
        .unwrap_or(0)
}

fn five(p: &Project) {
    let rows: Vec<(String, String)> = (0..5)
        .map(|i| (format!("a{i}@co{i}.example"), format!("Co {i}")))
        .collect();
    let rows: Vec<(&str, &str)> = rows.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    import(p, &rows);
}

#[test]
fn daily_cap_holds_the_rest_until_the_next_day() {
    let p = project("daily_cap = 2", "[sending]\njitter = \"0\"");
    five(&p);
    let (r, next) = run_once(&p, T0);
    assert_eq!(
        (r["sent"].as_u64(), r["deferred"].as_u64()),
        (Some(2), Some(3)),
        "{r:#}"
    );
    assert_eq!(outbox_count(&p), 2);
    // The rest waits for the next day's window: Friday 09:00 in New York.
    assert_eq!(next.as_deref(), Some("2026-03-06T14:00:00+00:00"));
    let (r, _) = run_once(&p, "2026-03-05T20:00:00Z");
    assert_eq!(r["sent"], 0, "still the same day: {r:#}");
    let (r, _) = run_once(&p, "2026-03-06T14:00:00Z");
    assert_eq!(r["sent"], 2, "{r:#}");
    assert_eq!(outbox_count(&p), 4);
}

#[test]
fn warmup_ramp_starts_low() {
    let p = project(
        "daily_cap = 50\nwarmup = { start = 1, increase = 1 }",
        "[sending]\njitter = \"0\"",
    );
    five(&p);
    let (r, _) = run_once(&p, T0);
    assert_eq!(r["sent"], 1, "day one of the ramp: {r:#}");
    let (r, _) = run_once(&p, "2026-03-06T14:00:00Z");
    assert_eq!(r["sent"], 2, "day two: {r:#}");
}

#[test]
fn minimum_gap_spaces_sends_from_one_mailbox() {
    let p = project("min_gap = \"10 minutes\"", "[sending]\njitter = \"0\"");
    five(&p);
    let (r, next) = run_once(&p, T0);
    assert_eq!(r["sent"], 1, "{r:#}");
    assert_eq!(next.as_deref(), Some("2026-03-05T15:10:00+00:00"));
    let (r, next) = run_once(&p, "2026-03-05T15:10:00Z");
    assert_eq!(r["sent"], 1, "{r:#}");
    assert_eq!(next.as_deref(), Some("2026-03-05T15:20:00+00:00"));
}

#[test]
fn per_domain_hourly_limit_protects_one_company() {
    let p = project("", "[sending]\njitter = \"0\"\ndomain_hourly_limit = 2");
    import(
        &p,
        &[
            ("a@acme.example", "Acme"),
            ("b@acme.example", "Acme"),
            ("c@acme.example", "Acme"),
            ("d@other.example", "Other"),
        ],
    );
    let (r, next) = run_once(&p, T0);
    assert_eq!(
        (r["sent"].as_u64(), r["deferred"].as_u64()),
        (Some(3), Some(1)),
        "{r:#}"
    );
    assert_eq!(next.as_deref(), Some("2026-03-05T16:00:00+00:00"));
    let (r, _) = run_once(&p, "2026-03-05T16:00:00Z");
    assert_eq!(r["sent"], 1, "{r:#}");
}

#[test]
fn a_lead_whose_email_cannot_render_is_paused_not_sent() {
    let p = project("", "[sending]\njitter = \"0\"");
    // No company: the intro template needs lead.company (it has no fallback).
    p.write("leads.csv", "Email,First Name\nnoco@co.example,Ann\n");
    at(
        &p,
        "2026-03-05T14:00:00Z",
        &["leads", "import", "leads.csv", "--sequence", "one"],
    );
    let (r, _) = run_once(&p, T0);
    assert_eq!(
        (r["sent"].as_u64(), r["failed"].as_u64()),
        (Some(0), Some(1)),
        "{r:#}"
    );
    assert_eq!(outbox_count(&p), 0);
    let lead = at(&p, T0, &["lead", "show", "noco@co.example", "--json"]).json();
    assert_eq!(lead["enrollments"][0]["state"], "paused");
    let touch = &lead["touches"][0];
    assert_eq!(touch["state"], "failed");
    assert!(
        touch["error"]
            .as_str()
            .expect("error")
            .contains("lead.company"),
        "{touch:#}"
    );
    let status = at(&p, T0, &["status", "--json"]).json();
    assert!(
        status["needs_attention"]
            .as_array()
            .expect("attention")
            .iter()
            .any(|a| a["kind"] == "failed-send" && a["email"] == "noco@co.example"),
        "{status:#}"
    );
    // Fixed data and a resume: it goes out.
    p.write(
        "leads.csv",
        "Email,First Name,Company\nnoco@co.example,Ann,NoCo\n",
    );
    at(&p, T0, &["leads", "import", "leads.csv"]);
    at(&p, T0, &["resume", "noco@co.example"]);
    let (r, _) = run_once(&p, T0);
    assert_eq!(r["sent"], 1, "{r:#}");
    assert_eq!(outbox_count(&p), 1);
}

#[test]
fn header_values_from_lead_data_cannot_inject_headers() {
    let p = project("", "[sending]\njitter = \"0\"");
    p.write(
        "leads.csv",
        "Email,First Name,Company\nx@co.example,\"Ann\r\nBcc: victim@evil.example\",\"Co\r\nX-Injected: yes\"\n",
    );
    at(
        &p,
        "2026-03-05T14:00:00Z",
        &["leads", "import", "leads.csv", "--sequence", "one"],
    );
    run_once(&p, T0);
    let file = std::fs::read_dir(p.file("data/outbox"))
        .expect("outbox")
        .flatten()
        .find(|e| e.path().extension().is_some_and(|x| x == "eml"))
        .expect("one email");
    let raw = std::fs::read_to_string(file.path()).expect("read");
    let head = raw.split("\r\n\r\n").next().expect("headers");
    for line in head.lines() {
        assert!(
            !line.starts_with("Bcc:") && !line.starts_with("X-Injected:"),
            "{head}"
        );
    }
}

#[test]
fn mailbox_with_a_dkim_key_signs_its_messages() {
    let p = project(
        "dkim = { selector = \"s1\", key = { file = \"dkim.pem\" } }",
        "[sending]\njitter = \"0\"",
    );
    let key = std::fs::read(crate::support::repo().join("tests/fixtures/dkim-test-rsa.pem"))
        .expect("test key");
    p.write("dkim.pem", key);
    import(&p, &[("a@co.example", "Co")]);
    let (r, _) = run_once(&p, T0);
    assert_eq!(r["sent"], 1, "{r:#}");
    let file = std::fs::read_dir(p.file("data/outbox"))
        .expect("outbox")
        .flatten()
        .find(|e| e.path().extension().is_some_and(|x| x == "eml"))
        .expect("one email");
    let raw = std::fs::read_to_string(file.path()).expect("read");
    let sig = raw
        .split("\r\n\r\n")
        .next()
        .expect("headers")
        .replace("\r\n ", " ")
        .replace("\r\n\t", " ")
        .lines()
        .find(|l| l.starts_with("DKIM-Signature:"))
        .map(str::to_string)
        .unwrap_or_else(|| panic!("no DKIM-Signature in:\n{raw}"));
    for tag in [
        "v=1",
        "a=rsa-sha256",
        "d=example.com",
        "s=s1",
        "c=relaxed/relaxed",
    ] {
        assert!(sig.contains(tag), "{tag} missing: {sig}");
    }
    assert!(
        sig.to_ascii_lowercase().contains("list-unsubscribe"),
        "{sig}"
    );
}

#[test]
fn an_unreadable_dkim_key_stops_the_daemon_from_starting() {
    let p = project(
        "dkim = { selector = \"s1\", key = { file = \"missing.pem\" } }",
        "",
    );
    five(&p);
    let run = p
        .cmd(&["run", "--once"])
        .env("DRUMBEAT_NOW", T0)
        .output()
        .expect("run");
    assert_eq!(run.status.code(), Some(1));
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(
        err.contains("DKIM key") && err.contains("missing.pem"),
        "{err}"
    );
    assert_eq!(outbox_count(&p), 0);
}

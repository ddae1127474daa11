//! The lead API and `/metrics`, end to end: the real daemon (`drumbeat run`, real clock) on a
//! loopback port, a real HTTP client.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::blocking::RequestBuilder;
use serde_json::{Value, json};

use crate::support::daemon::noon_zone;
use crate::support::http::Served;
use crate::support::{Project, fresh_pg_database, pg_server, wait_until};

const TOKEN: &str = "test-api-token-0123456789";

/// The shipped project with an API token (from a file) and a sequence `now` whose window is
/// open now: an intro at once, a bump an hour later in the same thread.
pub(crate) fn api_project() -> Project {
    let p = Project::shipped();
    let token = p.write("api.token", TOKEN);
    p.edit(
        "config.toml",
        "[http]\n",
        &format!("[http]\napi_token = {{ file = \"{}\" }}\n", token.display()),
    );
    p.edit(
        "config.toml",
        "timezone = \"America/New_York\"\n",
        "timezone = \"America/New_York\"\n\n[sending]\njitter = \"0\"\ndomain_hourly_limit = 0\n",
    );
    p.write(
        "sequences/now.yaml",
        format!(
            r#"id: now
name: Window open now
mailboxes: [ana]
window:
  days: [mon-sun]
  hours: "00:00-23:59"
  timezone: {zone}
steps:
  - id: intro
    wait: 0
    template: cold/intro
  - id: bump
    wait: 1 hour
    template: cold/bump
    thread: true
"#,
            zone = noon_zone()
        ),
    );
    p
}

pub(crate) fn authed(b: RequestBuilder) -> RequestBuilder {
    b.bearer_auth(TOKEN)
}

pub(crate) fn outbox_count(p: &Project) -> usize {
    std::fs::read_dir(p.file("data/outbox"))
        .map(|d| d.count())
        .unwrap_or(0)
}

#[test]
fn api_needs_a_configured_token_and_checks_it() {
    // No token configured: the API does not exist.
    let p = Project::shipped();
    let s = Served::start(&p, "api-none");
    let r = s
        .client
        .post(s.url("/api/leads"))
        .json(&json!({"email": "a@acme.example"}))
        .send()
        .expect("POST");
    assert_eq!(r.status(), 404);
    drop(s);

    let p = api_project();
    let s = Served::start(&p, "api-token");
    for (auth, challenge) in [
        (None, "Bearer"),
        (Some("wrong"), "Bearer error=\"invalid_token\""),
    ] {
        let mut b = s
            .client
            .post(s.url("/api/leads"))
            .json(&json!({"email": "a@acme.example"}));
        if let Some(t) = auth {
            b = b.bearer_auth(t);
        }
        let r = b.send().expect("POST");
        assert_eq!(r.status(), 401);
        assert_eq!(r.headers()["www-authenticate"], challenge);
        let v: Value = r.json().expect("a JSON error");
        assert!(v["error"].as_str().is_some(), "{v}");
    }
    let r = s
        .client
        .get(s.url("/api/leads/a@acme.example"))
        .send()
        .expect("GET");
    assert_eq!(r.status(), 401);
    // Nothing was stored by the refused requests.
    let r = authed(s.client.get(s.url("/api/leads/a@acme.example")))
        .send()
        .expect("GET");
    assert_eq!(r.status(), 404);
    assert_eq!(r.json::<Value>().expect("JSON")["field"], "email");
}

/// A person who asked to be forgotten is not stored again: alone, the request is refused
/// (409, nothing stored); in a batch, that lead says "forgotten" and the others land.
#[test]
fn api_refuses_a_forgotten_person_alone_and_marks_them_forgotten_in_a_batch() {
    let p = api_project();
    let s = Served::start(&p, "api-forgotten");
    let post = |body: Value| {
        authed(s.client.post(s.url("/api/leads")))
            .json(&body)
            .send()
            .expect("POST")
    };
    assert_eq!(post(json!({"email": "gone@acme.example"})).status(), 201);
    p.ok(&["forget", "gone@acme.example", "--yes"]);

    let r = post(json!({"email": "Gone@acme.example", "sequence": "now"}));
    assert_eq!(r.status(), 409);
    let v: Value = r.json().expect("a JSON error");
    assert_eq!(v["field"], "email", "{v}");
    assert_eq!(
        v["error"], "this person asked to be forgotten; the lead is not stored",
        "{v}"
    );

    let r = post(json!({"leads": [
        {"email": "gone@acme.example"},
        {"email": "kept@acme.example"},
    ], "sequence": "now"}));
    assert_eq!(r.status(), 201);
    let v: Value = r.json().expect("JSON");
    let leads = v["leads"].as_array().expect("a list");
    assert_eq!(leads.len(), 2, "{v}");
    assert_eq!(leads[0]["lead"], "forgotten", "{v}");
    assert!(leads[0]["id"].is_null(), "{v}");
    assert!(leads[0].get("enrollment").is_none(), "{v}");
    assert_eq!(leads[1]["lead"], "created", "{v}");
    assert_eq!(leads[1]["enrollment"]["result"], "enrolled", "{v}");

    let r = authed(s.client.get(s.url("/api/leads/gone@acme.example")))
        .send()
        .expect("GET");
    assert_eq!(r.status(), 404);
}

#[test]
fn api_bad_json_fields_types_and_sizes_get_json_4xx() {
    let p = api_project();
    let s = Served::start(&p, "api-bad");
    let post = |body: &str, ctype: &str| {
        let r = authed(s.client.post(s.url("/api/leads")))
            .header("content-type", ctype)
            .body(body.to_string())
            .send()
            .expect("POST");
        let status = r.status().as_u16();
        let v: Value = r.json().expect("a JSON error body");
        (status, v)
    };
    let (st, v) = post("{\"email\": ", "application/json");
    assert_eq!(st, 400, "{v}");
    assert!(
        v["error"].as_str().unwrap().contains("not valid JSON"),
        "{v}"
    );
    let (st, v) = post("email=a@b.example", "application/x-www-form-urlencoded");
    assert_eq!(st, 415, "{v}");
    let (st, v) = post(r#"{"email": "not an address"}"#, "application/json");
    assert_eq!((st, v["field"].as_str()), (400, Some("email")), "{v}");
    let (st, v) = post(
        r#"{"email": "a@acme.example", "timezone": "Europe/Berln"}"#,
        "application/json",
    );
    assert_eq!((st, v["field"].as_str()), (400, Some("timezone")), "{v}");
    assert!(
        v["error"].as_str().unwrap().contains("Europe/Berlin"),
        "{v}"
    );
    let (st, v) = post(r#"{"first_name": "Ann"}"#, "application/json");
    assert_eq!((st, v["field"].as_str()), (400, Some("email")), "{v}");
    let (st, v) = post(
        r#"{"email": "a@acme.example", "sequence": "nowz"}"#,
        "application/json",
    );
    assert_eq!((st, v["field"].as_str()), (400, Some("sequence")), "{v}");
    assert!(v["error"].as_str().unwrap().contains("\"now\""), "{v}");
    let (st, v) = post(
        r#"{"leads": [{"email": "a@acme.example"}, {"email": "b@"}]}"#,
        "application/json",
    );
    assert_eq!(
        (st, v["field"].as_str()),
        (400, Some("leads[1].email")),
        "{v}"
    );
    let (st, v) = post(
        r#"{"email": "a@acme.example", "owner": "nobody"}"#,
        "application/json",
    );
    assert_eq!((st, v["field"].as_str()), (400, Some("owner")), "{v}");
    let (st, v) = post(
        r#"{"email": "a@acme.example", "company": {"x": 1}}"#,
        "application/json",
    );
    assert_eq!((st, v["field"].as_str()), (400, Some("company")), "{v}");
    let big = format!(
        r#"{{"email": "a@acme.example", "note": "{}"}}"#,
        "x".repeat(300 * 1024)
    );
    let (st, v) = post(&big, "application/json");
    assert_eq!(st, 413, "{v}");
    // None of the refused requests stored anything.
    let r = authed(s.client.get(s.url("/api/leads/a@acme.example")))
        .send()
        .expect("GET");
    assert_eq!(r.status(), 404);
    // Meeting-booked checks its fields too.
    let r = authed(s.client.post(s.url("/api/events/meeting-booked")))
        .json(&json!({"email": "a@acme.example", "at": "yesterday"}))
        .send()
        .expect("POST");
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().expect("JSON")["field"], "at");
}

#[test]
fn api_lead_with_sequence_is_emailed_at_once_and_a_booked_meeting_stops_it() {
    let p = api_project();
    let s = Served::start(&p, "api-flow");
    let r = authed(s.client.post(s.url("/api/leads")))
        .json(&json!({
            "email": "Jane.Doe@Acme.example",
            "first_name": "Jane",
            "Company": "Acme",
            "Pain Point": "slow follow-up",
            "sequence": "now",
        }))
        .send()
        .expect("POST");
    assert_eq!(r.status(), 201);
    let v: Value = r.json().expect("JSON");
    assert_eq!(v["email"], "jane.doe@acme.example", "{v}");
    assert_eq!(v["lead"], "created", "{v}");
    assert_eq!(v["enrollment"]["result"], "enrolled", "{v}");
    assert_eq!(v["enrollment"]["state"], "active", "{v}");
    let id = v["id"].as_i64().expect("an id");

    wait_until(
        "the first email in the outbox",
        Duration::from_secs(20),
        || outbox_count(&p) == 1,
    );
    // The file is written before the send is recorded: wait for the record too.
    wait_until(
        "the first email recorded (the enrollment at its next step)",
        Duration::from_secs(20),
        || {
            let v: Value = authed(s.client.get(s.url("/api/leads/jane.doe%40acme.example")))
                .send()
                .expect("GET")
                .json()
                .expect("JSON");
            v["enrollments"][0]["next_step_id"] == "bump"
        },
    );

    // The same lead again: already there, already enrolled.
    let r = authed(s.client.post(s.url("/api/leads")))
        .json(&json!({"email": "jane.doe@acme.example", "sequence": "now"}))
        .send()
        .expect("POST");
    assert_eq!(r.status(), 200);
    let v: Value = r.json().expect("JSON");
    assert_eq!(v["id"], id, "{v}");
    assert_eq!(v["lead"], "unchanged", "{v}");
    assert_eq!(v["enrollment"]["result"], "already-enrolled", "{v}");
    assert_eq!(v["enrollment"]["next_step"], "bump", "{v}");

    // GET answers what `leads show --json` prints.
    let api: Value = authed(s.client.get(s.url("/api/leads/jane.doe%40acme.example")))
        .send()
        .expect("GET")
        .json()
        .expect("JSON");
    assert_eq!(
        api["lead"]["custom"]["pain_point"], "slow follow-up",
        "{api}"
    );
    assert_eq!(api["lead"]["source"], "api", "{api}");

    let r = authed(s.client.post(s.url("/api/events/meeting-booked")))
        .json(&json!({"email": "jane.doe@acme.example", "at": "2026-12-02T15:30:00Z", "source": "calendly"}))
        .send()
        .expect("POST");
    assert_eq!(r.status(), 200);
    let v: Value = r.json().expect("JSON");
    assert_eq!(v["stopped"], json!(["now"]), "{v}");
    assert_eq!(v["recorded"], true, "{v}");
    // A retried webhook changes nothing.
    let v: Value = authed(s.client.post(s.url("/api/events/meeting-booked")))
        .json(&json!({"email": "jane.doe@acme.example", "at": 1796225400, "source": "calendly"}))
        .send()
        .expect("POST")
        .json()
        .expect("JSON");
    assert_eq!(v["stopped"], json!([]), "{v}");
    let r = authed(s.client.post(s.url("/api/events/meeting-booked")))
        .json(&json!({"email": "nobody@acme.example"}))
        .send()
        .expect("POST");
    assert_eq!(r.status(), 404);
    let shown = p
        .ok(&["leads", "show", "jane.doe@acme.example", "--json"])
        .json();
    let api_after: Value = authed(s.client.get(s.url("/api/leads/jane.doe@acme.example")))
        .send()
        .expect("GET")
        .json()
        .expect("JSON");
    drop(s);
    assert_eq!(api_after, shown, "the API and the CLI show the same lead");
    let e = &shown["enrollments"][0];
    assert_eq!(e["state"], "stopped", "{shown:#}");
    assert_eq!(e["outcome"], "meeting-booked", "{shown:#}");
    assert!(e["next_due_at"].is_null(), "{shown:#}");
    let kinds: Vec<&str> = shown["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "meeting-booked").count(),
        1,
        "{kinds:?}"
    );

    // Two hours on, the bump would be due: nothing more goes out.
    let later = (chrono::Utc::now() + chrono::TimeDelta::hours(2)).to_rfc3339();
    let out = p
        .cmd(&["run", "--once"])
        .env("DRUMBEAT_NOW", &later)
        .output()
        .expect("run --once");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(outbox_count(&p), 1, "no step after the booked meeting");
}

/// 1,000 concurrent POSTs of overlapping batches: each lead is stored once and enrolled once.
fn thousand_overlapping_posts(p: &Project, instance: &str, exact_created: bool) {
    const LEADS: usize = 60;
    const POSTS: usize = 1000;
    const THREADS: usize = 32;
    let s = Served::start(p, instance);
    let next = AtomicUsize::new(0);
    let enrolled = AtomicUsize::new(0);
    let created = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..THREADS {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= POSTS {
                        break;
                    }
                    // Three leads per batch, overlapping with the batches around it, in
                    // varying order.
                    let leads: Vec<Value> = [i, i * 7 + 1, i * 13 + 2]
                        .iter()
                        .map(|n| {
                            let k = n % LEADS;
                            json!({"email": format!("lead{k}@co{}.example", k % 7), "first_name": "L"})
                        })
                        .collect();
                    let r = authed(s.client.post(s.url("/api/leads")))
                        .json(&json!({"leads": leads, "sequence": "cold-outbound"}))
                        .send()
                        .expect("POST");
                    let status = r.status().as_u16();
                    let v: Value = r.json().expect("JSON");
                    assert!(status == 200 || status == 201, "{status}: {v}");
                    for l in v["leads"].as_array().expect("leads") {
                        if l["enrollment"]["result"] == "enrolled" {
                            enrolled.fetch_add(1, Ordering::Relaxed);
                        }
                        if l["lead"] == "created" {
                            created.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            });
        }
    });
    assert_eq!(
        enrolled.load(Ordering::Relaxed),
        LEADS,
        "each lead enrolled once"
    );
    if exact_created {
        assert_eq!(
            created.load(Ordering::Relaxed),
            LEADS,
            "each lead created once"
        );
    }
    for n in 0..LEADS {
        let email = format!("lead{n}@co{}.example", n % 7);
        let v: Value = authed(s.client.get(s.url(&format!("/api/leads/{email}"))))
            .send()
            .expect("GET")
            .json()
            .expect("JSON");
        assert_eq!(v["lead"]["email"], email.as_str(), "{v}");
        assert_eq!(
            v["enrollments"].as_array().map(Vec::len),
            Some(1),
            "{email}: {v}"
        );
        let enrolled_events = v["events"]
            .as_array()
            .expect("events")
            .iter()
            .filter(|e| e["kind"] == "enrolled")
            .count();
        assert_eq!(enrolled_events, 1, "{email}: {v}");
    }
}

#[test]
fn api_thousand_concurrent_overlapping_posts_store_and_enroll_each_lead_once_sqlite() {
    let p = api_project();
    thousand_overlapping_posts(&p, "api-many", true);
}

#[test]
fn api_thousand_concurrent_overlapping_posts_store_and_enroll_each_lead_once_postgres() {
    let test = "api_thousand_concurrent_overlapping_posts_store_and_enroll_each_lead_once_postgres";
    let Some(server) = pg_server(test) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let url = runtime.block_on(fresh_pg_database(&server));
    let p = api_project();
    p.edit(
        "config.toml",
        "store = \"sqlite://data/drumbeat.db\"",
        &format!("store = \"{url}\""),
    );
    thousand_overlapping_posts(&p, "api-many-pg", false);
}

#[test]
fn metrics_parse_as_prometheus_text_and_match_the_store() {
    let p = api_project();
    let s = Served::start(&p, "api-metrics");
    let r = authed(s.client.post(s.url("/api/leads")))
        .json(&json!({"leads": [
            {"email": "m1@one.example", "first_name": "A", "company": "One"},
            {"email": "m2@two.example", "first_name": "B", "company": "Two"},
            {"email": "m3@three.example", "first_name": "C", "company": "Three"},
        ], "sequence": "now"}))
        .send()
        .expect("POST");
    assert_eq!(r.status(), 201);
    // The store's own account of the sends: an email is in the outbox a moment before its
    // touch is recorded as sent, so the wait is for the store.
    let recorded = || -> usize {
        ["m1@one.example", "m2@two.example", "m3@three.example"]
            .iter()
            .map(|e| {
                p.ok(&["leads", "show", e, "--json"]).json()["touches"]
                    .as_array()
                    .expect("touches")
                    .iter()
                    .filter(|t| t["state"] == "sent" && t["mailbox"] == "ana")
                    .count()
            })
            .sum()
    };
    wait_until(
        "three emails sent and recorded",
        Duration::from_secs(30),
        || recorded() == 3,
    );
    assert_eq!(outbox_count(&p), 3);
    authed(s.client.post(s.url("/api/events/meeting-booked")))
        .json(&json!({"email": "m1@one.example"}))
        .send()
        .expect("POST");

    let r = s
        .client
        .get(s.url("/metrics"))
        .send()
        .expect("GET /metrics");
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4"),
    );
    let text = r.text().expect("text");
    let samples = parse_prometheus(&text);
    let get = |name: &str| {
        samples
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| *v)
            .unwrap_or_else(|| panic!("no sample {name} in\n{text}"))
    };
    let sent = recorded();
    assert_eq!(sent, 3);
    assert_eq!(
        get("drumbeat_sends_total{mailbox=\"ana\",result=\"sent\"}"),
        sent as f64
    );
    assert_eq!(get("drumbeat_enrollments_total"), 3.0);
    assert_eq!(get("drumbeat_meetings_booked_total"), 1.0);
    assert_eq!(get("drumbeat_replies_total"), 0.0);
    // Only the bumps an hour away remain, and m1's stopped.
    assert_eq!(get("drumbeat_due_enrollments"), 0.0);
    // No click came in, and none was lost.
    assert_eq!(get("drumbeat_tracking_hits_queued"), 0.0);
    assert_eq!(get("drumbeat_tracking_hits_lost_total"), 0.0);
}

/// Checks the Prometheus text format line by line: every sample belongs to the family of the
/// TYPE line before it, names and labels are well formed, values parse. Returns the samples
/// as `name{labels}` and value.
fn parse_prometheus(text: &str) -> Vec<(String, f64)> {
    let valid_name = |n: &str| {
        !n.is_empty()
            && n.chars().enumerate().all(|(i, c)| {
                c.is_ascii_alphabetic() || c == '_' || c == ':' || (i > 0 && c.is_ascii_digit())
            })
    };
    let mut typed: Option<String> = None;
    let mut helped: Option<String> = None;
    let mut out = Vec::new();
    assert!(text.ends_with('\n'), "the text ends with a line feed");
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap_or_default();
            assert!(valid_name(name), "{line}");
            helped = Some(name.to_string());
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split(' ');
            let name = parts.next().unwrap_or_default();
            let kind = parts.next().unwrap_or_default();
            assert!(valid_name(name), "{line}");
            assert!(["counter", "gauge"].contains(&kind), "{line}");
            assert_eq!(helped.as_deref(), Some(name), "HELP before TYPE: {line}");
            if kind == "counter" {
                assert!(
                    name.ends_with("_total"),
                    "a counter's name ends in _total: {line}"
                );
            }
            typed = Some(name.to_string());
        } else {
            assert!(!line.starts_with('#') && !line.is_empty(), "{line:?}");
            let (series, value) = line.rsplit_once(' ').expect("a sample has a value");
            let name = series.split('{').next().unwrap_or_default();
            assert!(valid_name(name), "{line}");
            assert_eq!(typed.as_deref(), Some(name), "a TYPE line precedes {line}");
            if let Some(labels) = series.strip_prefix(name).filter(|l| !l.is_empty()) {
                assert!(labels.starts_with('{') && labels.ends_with('}'), "{line}");
                for pair in labels[1..labels.len() - 1].split("\",") {
                    let (k, v) = pair.split_once("=\"").expect("label=\"value\"");
                    assert!(valid_name(k), "{line}");
                    assert!(!v.trim_end_matches('"').contains('\n'), "{line}");
                }
            }
            let v: f64 = value.parse().expect("a numeric value");
            out.push((series.to_string(), v));
        }
    }
    out
}

//! Step conditions and branches, end to end: a six-step sequence with a field condition
//! (`when: lead.phone` → a call, `unless: lead.phone` → LinkedIn), a click condition (a case
//! study for those who clicked the intro's link, then straight to the break-up) and a call
//! outcome branch (`connected` ends the sequence), run for 20 leads over simulated weeks with a
//! real smtp-sink and a real HTTP client clicking the tracked links. Every lead's path is the
//! one its fields, clicks and call outcome say, on SQLite and on PostgreSQL.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::support::daemon::{at, run_once, smtp_project};
use crate::support::http::Served;
use crate::support::sink::Sink;
use crate::support::{Project, fresh_pg_database, pg_server, wait_until};

/// Monday 2027-03-01, 10:00 in New York: the intros go.
const T0: &str = "2027-03-01T15:00:00Z";
/// Two hours later: people read and click (a click seconds after delivery is a scanner's).
const CLICK_AT: &str = "2027-03-01T17:00:00Z";
/// The simulation ends here, long after the last step of anyone.
const UNTIL: &str = "2027-05-01T00:00:00Z";
const LEADS: usize = 20;

const SEQUENCE: &str = r#"id: branches
name: Branches
mailboxes: [rep]
window:
  days: [mon-fri]
  hours: "09:00-17:00"
  timezone: America/New_York
steps:
  - id: intro
    template: branch/intro
  - id: call
    wait: 1 business day
    task: call
    when: lead.phone
    on_outcome: { connected: end }
  - id: linkedin
    task: linkedin
    unless: lead.phone
  - id: case-study
    wait: 2 business days
    template: branch/case-study
    thread: true
    when: clicked intro
    goto: break-up
  - id: bump
    wait: 2 business days
    template: branch/bump
    thread: true
  - id: break-up
    wait: 3 business days
    template: branch/break-up
    thread: true
"#;

/// Lead `i`: a phone for even ones, a click on the intro for every third, and the call
/// answered (`connected`) for every fourth (all of whom have a phone).
struct Lead {
    email: String,
    phone: bool,
    clicks: bool,
    connected: bool,
}

fn leads() -> Vec<Lead> {
    (0..LEADS)
        .map(|i| Lead {
            email: format!("lead{i:02}@account{i:02}.example"),
            phone: i % 2 == 0,
            clicks: i % 3 == 0,
            connected: i % 4 == 0,
        })
        .collect()
}

impl Lead {
    /// The steps the lead's path runs (`ran`) and passes over (`skipped`), by step id; a step
    /// a branch jumps over or an end cuts off has no touch at all.
    fn expected(&self) -> BTreeMap<&'static str, &'static str> {
        let mut path = BTreeMap::from([("intro", "ran")]);
        if self.phone {
            path.insert("call", "ran");
            if self.connected {
                return path;
            }
            path.insert("linkedin", "skipped");
        } else {
            path.insert("call", "skipped");
            path.insert("linkedin", "ran");
        }
        if self.clicks {
            path.insert("case-study", "ran");
        } else {
            path.insert("case-study", "skipped");
            path.insert("bump", "ran");
        }
        path.insert("break-up", "ran");
        path
    }

    fn emails(&self) -> usize {
        let path = self.expected();
        ["intro", "case-study", "bump", "break-up"]
            .iter()
            .filter(|s| path.get(*s) == Some(&"ran"))
            .count()
    }
}

fn project(sink: &Sink) -> (Project, String) {
    let p = smtp_project(sink, "");
    p.edit(
        "config.toml",
        "listen = \"127.0.0.1:0\"",
        "listen = \"127.0.0.1:0\"\nbase_url = \"http://127.0.0.1:8025\"",
    );
    let base = p.http_base();
    std::fs::remove_file(p.file("sequences/e2e.yaml")).expect("remove e2e.yaml");
    p.write("sequences/branches.yaml", SEQUENCE);
    p.write(
        "templates/branch/intro.txt",
        "---\nsubject: A benchmark for {{ lead.company }}\n---\nHi {{ lead.first_name }}, the benchmark: https://example.com/benchmark\n",
    );
    p.write(
        "templates/branch/intro.html",
        "<p>Hi {{ lead.first_name }}, <a href=\"https://example.com/benchmark\">the benchmark</a>.</p>",
    );
    for (t, body) in [
        (
            "case-study",
            "Since you looked at the benchmark: how Initech did it.",
        ),
        ("bump", "Bumping this up, {{ lead.first_name }}."),
        ("break-up", "I'll stop here, {{ lead.first_name }}."),
    ] {
        p.write(&format!("templates/branch/{t}.txt"), format!("{body}\n"));
    }
    let mut csv = String::from("Email,First Name,Company,Phone\n");
    for l in leads() {
        let phone = if l.phone { "+1 212 555 0100" } else { "" };
        csv.push_str(&format!("{},Pat,Acme,{phone}\n", l.email));
    }
    p.write("leads.csv", csv);
    (p, base)
}

/// Clicks the intro's tracked link of every lead that clicks, as a browser would, and waits
/// (bounded) until the daemon recorded them all.
fn click(p: &Project, sink: &Sink, base: &str) {
    p.set_clock(CLICK_AT);
    let s = Served::start(p, "branches-click");
    let clickers: Vec<Lead> = leads().into_iter().filter(|l| l.clicks).collect();
    for l in &clickers {
        let intro = sink
            .messages()
            .into_iter()
            .find(|m| m.rcpt == l.email)
            .unwrap_or_else(|| panic!("no intro to {}", l.email));
        let html = intro
            .parsed()
            .body_html(0)
            .expect("an HTML part")
            .to_string();
        let link = html
            .split('"')
            .find(|w| w.starts_with(&format!("{base}/c/")))
            .unwrap_or_else(|| panic!("no tracked link in {html}"))
            .replace("&amp;", "&");
        let r = s
            .client
            .get(&link)
            .header("User-Agent", "Mozilla/5.0 (Macintosh) Safari/605.1.15")
            .send()
            .expect("GET the tracked link");
        assert_eq!(r.status(), 302, "{link}");
    }
    wait_until("every click recorded", Duration::from_secs(20), || {
        clickers.iter().all(|l| {
            let v = p.ok(&["lead", "show", &l.email, "--json"]).json();
            v["events"]
                .as_array()
                .is_some_and(|es| es.iter().any(|e| e["kind"] == "clicked"))
        })
    });
}

fn parse(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("an RFC 3339 instant")
        .with_timezone(&Utc)
}

/// Drives the clock from `start`: `run --once` at each next due time, each open task done at
/// once (a call with the lead's outcome). Bounded.
fn drive(p: &Project, start: &str) {
    let outcome: BTreeMap<String, bool> = leads()
        .into_iter()
        .map(|l| (l.email, l.connected))
        .collect();
    let mut now = start.to_string();
    for _ in 0..200 {
        let (_, mut next) = run_once(p, &now);
        let tasks = at(p, &now, &["tasks", "--json"]).json();
        let tasks = tasks.as_array().expect("tasks");
        for t in tasks {
            let id = t["id"].as_i64().expect("task id").to_string();
            let email = t["email"].as_str().expect("task email");
            let mut args = vec!["task", "done", id.as_str()];
            if t["step_id"] == "call" {
                args.extend([
                    "--outcome",
                    if outcome[email] {
                        "connected"
                    } else {
                        "no-answer"
                    },
                ]);
            }
            at(p, &now, &args);
        }
        if !tasks.is_empty() {
            next = run_once(p, &now).1;
        }
        match next {
            Some(n) if parse(&n) <= parse(UNTIL) => now = parse(&n).max(parse(&now)).to_rfc3339(),
            _ => return,
        }
    }
    panic!("the simulation did not settle within 200 rounds");
}

/// Each step of the lead's touches: `ran` or `skipped`.
fn path_of(p: &Project, email: &str) -> (BTreeMap<String, String>, String) {
    let v = p.ok(&["lead", "show", email, "--json"]).json();
    let touches = v["touches"].as_array().expect("touches");
    let path = touches
        .iter()
        .map(|t| {
            let state = if t["state"] == "skipped" {
                "skipped"
            } else {
                "ran"
            };
            (
                t["step_id"].as_str().expect("step").to_string(),
                state.to_string(),
            )
        })
        .collect();
    let state = v["enrollments"][0]["state"]
        .as_str()
        .unwrap_or("?")
        .to_string();
    (path, state)
}

/// The whole run on a project; `store` replaces its SQLite store (a PostgreSQL URL).
fn every_path_holds(sink: &Sink, store: Option<&str>) {
    let (p, base) = project(sink);
    if let Some(url) = store {
        p.edit(
            "config.toml",
            "store = \"sqlite://data/drumbeat.db\"",
            &format!("store = \"{url}\""),
        );
    }
    at(
        &p,
        T0,
        &["leads", "import", "leads.csv", "--sequence", "branches"],
    );
    let (r, _) = run_once(&p, T0);
    assert_eq!(r["sent"], LEADS, "{r:#}");
    click(&p, sink, &base);
    drive(&p, CLICK_AT);
    let got = sink.messages();
    for l in leads() {
        let (path, state) = path_of(&p, &l.email);
        let want: BTreeMap<String, String> = l
            .expected()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(
            path, want,
            "{} (phone {}, clicks {}, connected {})",
            l.email, l.phone, l.clicks, l.connected
        );
        assert_eq!(state, "finished", "{}", l.email);
        let received = got.iter().filter(|m| m.rcpt == l.email).count();
        assert_eq!(received, l.emails(), "emails to {}", l.email);
    }
}

#[test]
fn every_lead_follows_the_path_its_fields_clicks_and_call_outcome_say() {
    let Some(sink) = Sink::start("every_lead_follows_the_path", &[]) else {
        return;
    };
    every_path_holds(&sink, None);
}

#[test]
fn the_paths_hold_on_postgresql() {
    let test = "the_paths_hold_on_postgresql";
    let Some(server) = pg_server(test) else {
        return;
    };
    let Some(sink) = Sink::start(test, &[]) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let url = runtime.block_on(fresh_pg_database(&server));
    every_path_holds(&sink, Some(&url));
}

#[test]
fn preview_shows_each_condition_and_what_it_is_for_the_lead() {
    let Some(sink) = Sink::start("preview_shows_each_condition", &[]) else {
        return;
    };
    let (p, _) = project(&sink);
    at(&p, T0, &["leads", "import", "leads.csv"]);
    // lead01 has no phone: the call is passed over, LinkedIn runs, the click is not known yet.
    let v = at(
        &p,
        T0,
        &[
            "preview",
            "branches",
            "--lead",
            "lead01@account01.example",
            "--json",
        ],
    )
    .json();
    let step = |id: &str| {
        v["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .find(|s| s["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("no step {id} in {v:#}"))
    };
    assert_eq!(step("call")["condition"], "when: lead.phone");
    assert_eq!(
        step("call")["condition_result"],
        "does not hold: the step is skipped"
    );
    assert_eq!(step("call")["state"], "skipped");
    assert_eq!(step("call")["branch"], "on connected: end");
    assert_eq!(step("linkedin")["condition_result"], "holds");
    assert_eq!(step("linkedin")["state"], "planned");
    assert_eq!(
        step("case-study")["condition_result"],
        "decided at send time"
    );
    assert_eq!(step("case-study")["branch"], "goto break-up");
    // The plan follows the default branch: after the case study, straight to the break-up.
    assert_eq!(step("bump")["state"], "not on this lead's path");
    assert!(step("break-up")["subject"].is_string(), "{v:#}");
    // The same for a person.
    let text = at(
        &p,
        T0,
        &["preview", "branches", "--lead", "lead00@account00.example"],
    )
    .stdout;
    assert!(
        text.contains("condition:   when: lead.phone (holds)"),
        "{text}"
    );
    assert!(
        text.contains("condition:   unless: lead.phone (does not hold: the step is skipped)"),
        "{text}"
    );
    assert!(text.contains("then:        on connected: end"), "{text}");
}

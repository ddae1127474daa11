//! `[enrollment]` through the API, end to end: the real daemon (`drumbeat run`, real clock) on
//! a loopback port and a real HTTP client. Each lead's answer names the rule that kept it out
//! (`already-active` with the sequence, `recently-contacted` with the date it becomes possible,
//! `account-cap`), and `"force": true` enrolls anyway, on the lead's record.

use std::time::Duration;

use reqwest::blocking::RequestBuilder;
use serde_json::{Value, json};

use crate::support::daemon::noon_zone;
use crate::support::http::Served;
use crate::support::{Project, fresh_pg_database, pg_server, wait_until};

const TOKEN: &str = "test-api-token-rules-0123456789";
const DAY: i64 = 86_400;

/// The shipped project with an API token, a 30-day interval and a cap of one lead per account,
/// a sequence `now` whose first email is due at once, and `later`, whose first waits 30 minutes.
fn project() -> Project {
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
        "timezone = \"America/New_York\"\n\n[sending]\njitter = \"0\"\ndomain_hourly_limit = 0\n\n\
         [enrollment]\nrecontact_after = \"30 days\"\nmax_active_per_account = 1\n",
    );
    for (id, wait) in [("now", "0"), ("later", "30 minutes")] {
        p.write(
            &format!("sequences/{id}.yaml"),
            format!(
                "id: {id}\nmailboxes: [ana]\nwindow:\n  days: [mon-sun]\n  hours: \"00:00-23:59\"\n  \
                 timezone: {}\nsteps:\n  - id: intro\n    wait: {wait}\n    template: cold/intro\n",
                noon_zone()
            ),
        );
    }
    p
}

fn authed(b: RequestBuilder) -> RequestBuilder {
    b.bearer_auth(TOKEN)
}

fn post(s: &Served, body: Value) -> Value {
    let r = authed(s.client.post(s.url("/api/leads")))
        .json(&body)
        .send()
        .expect("POST");
    assert!(r.status().is_success(), "{}", r.status());
    r.json().expect("JSON")
}

fn outbox_count(p: &Project) -> usize {
    std::fs::read_dir(p.file("data/outbox"))
        .map(|d| d.count())
        .unwrap_or(0)
}

#[test]
fn the_api_names_each_refusal_and_force_enrolls_on_record() {
    let p = project();
    let s = Served::start(&p, "api-rules");
    let maria = "maria@northwind.example";
    let v = post(
        &s,
        json!({"email": maria, "first_name": "Maria", "company": "Northwind", "sequence": "now"}),
    );
    assert_eq!(v["enrollment"]["result"], "enrolled", "{v:#}");
    // Li is active in `later` (her first email waits: the daemon, woken by Maria's enrollment,
    // cannot finish Li's sequence between two requests): an exclusive sequence refuses her, and
    // says where she is.
    let li = "li@contoso.example";
    let v = post(&s, json!({"email": li, "sequence": "later"}));
    assert_eq!(v["enrollment"]["result"], "enrolled", "{v:#}");
    let v = post(&s, json!({"email": li, "sequence": "inbound-fast"}));
    assert_eq!(
        v["enrollment"],
        json!({"sequence": "inbound-fast", "result": "already-active", "active_in": "later"}),
        "{v:#}"
    );
    // The daemon emails her, and the one-step sequence is over: she and her company wait 30
    // days from its end.
    let mut finished = 0;
    wait_until(
        "Maria's sequence, finished",
        Duration::from_secs(30),
        || {
            let shown = p.ok(&["leads", "show", maria, "--json"]).json();
            finished = shown["enrollments"][0]["finished_at"].as_i64().unwrap_or(0);
            shown["touches"][0]["state"] == "sent" && finished > 0
        },
    );
    assert_eq!(outbox_count(&p), 1);
    let v = post(
        &s,
        json!({"leads": [
            {"email": maria, "first_name": "Maria"},
            {"email": "jo@northwind.example", "first_name": "Jo"}
        ], "sequence": "inbound-fast"}),
    );
    let answers = v["leads"].as_array().expect("leads");
    for (a, account) in answers.iter().zip([None, Some("northwind.example")]) {
        let e = &a["enrollment"];
        assert_eq!(e["result"], "recently-contacted", "{v:#}");
        assert_eq!(e["account"].as_str(), account, "{v:#}");
        let from =
            chrono::DateTime::parse_from_rfc3339(e["possible_from"].as_str().expect("a date"))
                .expect("RFC 3339")
                .timestamp();
        assert_eq!(from, finished + 30 * DAY, "{v:#}");
    }
    // Two new leads of one account, capped at one: the second is refused, then forced.
    let two = json!([
        {"email": "a@fabrikam-two.example"},
        {"email": "b@fabrikam-two.example"}
    ]);
    let v = post(&s, json!({"leads": two, "sequence": "inbound-fast"}));
    assert_eq!(v["leads"][0]["enrollment"]["result"], "enrolled", "{v:#}");
    assert_eq!(
        v["leads"][1]["enrollment"],
        json!({"sequence": "inbound-fast", "result": "account-cap",
               "account": "fabrikam-two.example", "cap": 1}),
        "{v:#}"
    );
    let v = post(
        &s,
        json!({"leads": two, "sequence": "inbound-fast", "force": true}),
    );
    let e = &v["leads"][1]["enrollment"];
    assert_eq!(e["result"], "enrolled", "{v:#}");
    assert_eq!(e["forced"]["result"], "account-cap", "{v:#}");
    let shown: Value = authed(s.client.get(s.url("/api/leads/b@fabrikam-two.example")))
        .send()
        .expect("GET")
        .json()
        .expect("JSON");
    let enrolled = shown["events"]
        .as_array()
        .expect("events")
        .iter()
        .find(|e| e["kind"] == "enrolled")
        .expect("an enrolled event");
    assert_eq!(enrolled["data"]["forced"], "account-cap", "{shown:#}");
    assert_eq!(enrolled["data"]["by"], "api", "{shown:#}");
    // A bad force is a bad field.
    let r = authed(s.client.post(s.url("/api/leads")))
        .json(&json!({"email": "x@acme.example", "sequence": "now", "force": "yes"}))
        .send()
        .expect("POST");
    assert_eq!(r.status(), 400);
    let body: Value = r.json().expect("JSON");
    assert_eq!(body["field"], "force", "{body:#}");
}

/// Two requests at the same moment, on the daemon's PostgreSQL store, enroll one new lead of
/// its own account into two exclusive sequences, or two leads of one account capped at one:
/// in every round exactly one is enrolled, and the other names the rule. The leads are stored
/// first, so the race is over enrolling alone.
#[test]
fn racing_api_requests_on_postgres_enroll_once() {
    let test = "racing_api_requests_on_postgres_enroll_once";
    let Some(server) = pg_server(test) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let url = runtime.block_on(fresh_pg_database(&server));
    let p = project();
    p.edit(
        "config.toml",
        "store = \"sqlite://data/drumbeat.db\"",
        &format!("store = \"{url}\""),
    );
    let s = Served::start(&p, "api-rules-race");
    for round in 0..10 {
        let one = format!("one{round}@race{round}.example");
        let pair = [
            (json!({"email": one, "sequence": "now"}), "already-active"),
            (
                json!({"email": one, "sequence": "inbound-fast"}),
                "already-active",
            ),
        ];
        let cap = [
            (
                json!({"email": format!("a{round}@cap{round}.example"), "sequence": "now"}),
                "account-cap",
            ),
            (
                json!({"email": format!("b{round}@cap{round}.example"), "sequence": "now"}),
                "account-cap",
            ),
        ];
        // The leads exist before the race, so that only the enrolling can serialize it.
        for (body, _) in pair.iter().chain(&cap) {
            post(&s, json!({"email": body["email"]}));
        }
        for [(x, rule), (y, _)] in [pair, cap] {
            let barrier = std::sync::Barrier::new(2);
            let (a, b) = std::thread::scope(|scope| {
                let go = |body: Value| {
                    let (s, barrier) = (&s, &barrier);
                    scope.spawn(move || {
                        barrier.wait();
                        post(s, body)["enrollment"]["result"].clone()
                    })
                };
                let (a, b) = (go(x), go(y));
                (a.join().expect("a request"), b.join().expect("a request"))
            });
            let mut got = [a.as_str().unwrap_or("?"), b.as_str().unwrap_or("?")];
            got.sort_unstable();
            let mut want = ["enrolled", rule];
            want.sort_unstable();
            assert_eq!(got, want, "round {round}");
        }
    }
}

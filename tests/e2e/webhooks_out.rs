//! Outgoing webhooks end to end: the real binary posts to a real HTTP receiver on loopback,
//! which checks every delivery with its own implementation of the Standard Webhooks signature
//! (HMAC-SHA256 written here from sha2, not drumbeat's code), answers 500 when told to, and
//! records what came. `run --once --now` drives the clock where timing matters; the retry test
//! runs the long-lived daemon.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::support::http::Served;
use crate::support::receiver::{Receiver, Request};
use crate::support::{Project, wait_until};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const MARIA: &str = "maria.garcia@northwind.example";
const LI: &str = "li.wei@fabrikam.example";
/// Wednesday 2026-12-02 09:30 in Chicago, 10:30 in New York: inside cold-outbound's window.
const T0: &str = "2026-12-02T15:30:00Z";

/// HMAC-SHA256 (RFC 2104), written here so the test does not trust drumbeat's signing.
fn hmac_sha256(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let pad = |b: u8| k.iter().map(|x| x ^ b).collect::<Vec<u8>>();
    let mut inner = Sha256::new();
    inner.update(pad(0x36));
    inner.update(msg);
    let inner = inner.finalize();
    let mut outer = Sha256::new();
    outer.update(pad(0x5c));
    outer.update(inner);
    outer.finalize().to_vec()
}

/// The spec's verification: some `v1,` signature in the header equals
/// base64(HMAC-SHA256(base64-decoded key, "{id}.{timestamp}.{body}")).
fn verifies(secret: &str, id: &str, timestamp: &str, body: &str, header: &str) -> bool {
    let key = BASE64
        .decode(secret.strip_prefix("whsec_").expect("whsec_ prefix"))
        .expect("base64 key");
    let expected = BASE64.encode(hmac_sha256(
        &key,
        format!("{id}.{timestamp}.{body}").as_bytes(),
    ));
    header
        .split(' ')
        .filter_map(|s| s.strip_prefix("v1,"))
        .any(|s| s == expected)
}

/// Checks a delivery's headers and signature; returns its body.
fn check_signed(r: &Request) -> Value {
    let id = r.header("webhook-id");
    let ts = r.header("webhook-timestamp");
    assert!(id.starts_with("evt_"), "{r:?}");
    let age = chrono::Utc::now().timestamp() - ts.parse::<i64>().expect("a unix timestamp");
    assert!((0..300).contains(&age), "stale webhook-timestamp {ts}");
    assert!(
        verifies(SECRET, id, ts, &r.body, r.header("webhook-signature")),
        "bad signature: {r:?}"
    );
    assert_eq!(r.header("content-type"), "application/json");
    r.json()
}

#[test]
fn the_test_verifier_agrees_with_the_spec_test_vector() {
    // From the spec's reference library (standard-webhooks, libraries/rust, test_sign).
    assert!(verifies(
        "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
        "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
        "1649367553",
        r#"{"email":"test@example.com","username":"test_user"}"#,
        "v1,bogus v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw="
    ));
}

/// A shipped project at T0 with the endpoints in `webhooks` (TOML) and the secret in a file.
fn project(webhooks: &str) -> Project {
    let p = Project::shipped();
    p.set_clock(T0);
    p.write("webhook.secret", format!("{SECRET}\n"));
    let config = std::fs::read_to_string(p.file("config.toml")).expect("config");
    p.write("config.toml", format!("{config}\n{webhooks}\n"));
    p
}

fn endpoint(name: &str, url: &str, events: &str) -> String {
    format!(
        "[[webhook]]\nname = \"{name}\"\nurl = \"{url}\"\nevents = {events}\nsecret = {{ file = \"webhook.secret\" }}\n"
    )
}

fn once(p: &Project, now: &str) -> Value {
    p.ok(&["run", "--once", "--now", now, "--json"]).json()
}

fn webhook_status(p: &Project) -> Value {
    p.ok(&["status", "--json"]).json()["webhooks"].clone()
}

#[test]
fn webhooks_reach_the_receiver_signed_with_their_type_and_data() {
    let rx = Receiver::start(&[]);
    let slack = Receiver::start(&[]);
    let p = project(&format!(
        "{}[[webhook]]\nname = \"team-channel\"\nurl = \"{}/services/T0/B0/tok\"\nevents = [\"stopped\"]\nformat = \"slack\"\n",
        endpoint(
            "crm",
            &format!("{}/hooks/drumbeat", rx.url),
            "[\"sent\", \"stopped\"]"
        ),
        slack.url
    ));
    // The first start gives the endpoints their read position; the enrollments made by the
    // import that follows are events the endpoints do not want.
    once(&p, T0);
    p.import_sample(&["--sequence", "cold-outbound"]);
    let report = once(&p, T0);
    let sent = report["sent"].as_u64().expect("sent");
    assert!(sent >= 1, "{report}");
    assert_eq!(report["webhooks"]["delivered"], sent, "{report}");

    let got = rx.requests();
    assert_eq!(got.len() as u64, sent, "{got:#?}");
    for r in &got {
        assert_eq!(r.path, "/hooks/drumbeat");
        let body = check_signed(r);
        assert_eq!(body["type"], "email.sent", "{body}");
        assert_eq!(body["timestamp"], T0, "{body}");
        let data = &body["data"];
        assert_eq!(r.header("webhook-id"), format!("evt_{}", data["event_id"]));
        assert!(
            data["lead"]["email"]
                .as_str()
                .is_some_and(|e| e.contains('@')),
            "{body}"
        );
        assert!(data["lead"]["id"].is_i64(), "{body}");
        assert_eq!(data["sequence"], "cold-outbound", "{body}");
        assert_eq!(data["step"], "intro", "{body}");
        assert_eq!(data["mailbox"], "ana", "{body}");
        assert!(
            data["message_id"]
                .as_str()
                .is_some_and(|m| m.starts_with('<')),
            "{body}"
        );
        assert!(data["subject"].is_string(), "{body}");
    }
    assert!(
        slack.requests().is_empty(),
        "the Slack endpoint wants stops only"
    );

    p.ok(&["stop", MARIA]);
    let report = once(&p, T0);
    assert_eq!(report["webhooks"]["delivered"], 2, "{report}");
    let stop = rx.requests().last().cloned().expect("a request");
    let body = check_signed(&stop);
    assert_eq!(body["type"], "enrollment.stopped", "{body}");
    assert_eq!(body["data"]["lead"]["email"], MARIA, "{body}");
    assert_eq!(body["data"]["lead"]["first_name"], "Maria", "{body}");
    let posted = slack.requests();
    assert_eq!(posted.len(), 1, "{posted:#?}");
    assert_eq!(posted[0].path, "/services/T0/B0/tok");
    assert_eq!(
        posted[0].header("webhook-signature"),
        "",
        "no secret, no signature"
    );
    let text = posted[0].json()["text"].as_str().expect("text").to_string();
    assert!(
        text.starts_with(&format!("Maria Garcia &lt;{MARIA}&gt; was stopped")),
        "{text}"
    );

    let status = webhook_status(&p);
    assert_eq!(status[0]["endpoint"], "crm", "{status}");
    assert_eq!(status[0]["state"], "ok", "{status}");
    assert_eq!(status[0]["delivered"], sent + 1, "{status}");
    assert_eq!(status[0]["pending"], 0, "{status}");
    assert_eq!(status[1]["delivered"], 1, "{status}");

    // An endpoint added later hears about new events only, not the history.
    let late = Receiver::start(&[]);
    let config = std::fs::read_to_string(p.file("config.toml")).expect("config");
    p.write(
        "config.toml",
        format!("{config}\n{}", endpoint("late", &late.url, "[\"*\"]")),
    );
    once(&p, T0);
    assert!(late.requests().is_empty(), "{:#?}", late.requests());
    p.ok(&["stop", LI]);
    once(&p, T0);
    let got = late.requests();
    assert_eq!(got.len(), 1, "{got:#?}");
    assert_eq!(check_signed(&got[0])["data"]["lead"]["email"], LI);
}

#[test]
fn an_endpoint_that_keeps_failing_shows_in_status_without_its_url_or_secret() {
    let rx = Receiver::start(&[500, 500, 500]);
    let p = project(&format!(
        "{}[webhooks]\nretry = [\"1 minute\"]\n",
        endpoint(
            "crm",
            &format!("{}/T000/B000/urltoken", rx.url),
            "[\"stopped\"]"
        )
    ));
    once(&p, T0);
    p.import_sample(&["--sequence", "cold-outbound"]);
    p.ok(&["stop", MARIA]);
    let report = once(&p, T0);
    assert_eq!(report["webhooks"]["retrying"], 1, "{report}");
    let status = webhook_status(&p);
    assert_eq!(status[0]["state"], "retrying", "{status}");
    assert_eq!(status[0]["pending"], 1, "{status}");

    // Not due yet: nothing is posted.
    let report = once(&p, "2026-12-02T15:30:30Z");
    assert_eq!(report["webhooks"]["retrying"], 0, "{report}");
    assert_eq!(rx.requests().len(), 1);

    // The last retry of the schedule fails too: the delivery is given up on.
    let report = once(&p, "2026-12-02T15:32:00Z");
    assert_eq!(report["webhooks"]["failed"], 1, "{report}");
    let got = rx.requests();
    assert_eq!(got.len(), 2, "{got:#?}");
    assert_eq!(got[0].header("webhook-id"), got[1].header("webhook-id"));
    check_signed(&got[1]);

    let status = webhook_status(&p);
    assert_eq!(status[0]["state"], "failing", "{status}");
    assert_eq!(status[0]["failed"], 1, "{status}");
    assert_eq!(status[0]["pending"], 0, "{status}");
    assert_eq!(status[0]["last_status"], 500, "{status}");
    assert!(
        status[0]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("500")),
        "{status}"
    );
    let json = p.ok(&["status", "--json"]).json();
    assert!(
        json["needs_attention"]
            .as_array()
            .expect("a list")
            .iter()
            .any(|a| a["kind"] == "webhook-failing"),
        "{json}"
    );
    let text = p.ok(&["status"]).stdout;
    assert!(text.contains("\nWebhooks"), "{text}");
    assert!(text.contains("crm") && text.contains("failing"), "{text}");
    for out in [text, json.to_string()] {
        assert!(!out.contains("urltoken"), "the URL leaked: {out}");
        assert!(!out.contains("MfKQ9r8"), "the secret leaked: {out}");
        assert!(
            !out.contains("response body"),
            "the response body leaked: {out}"
        );
    }
}

#[test]
fn the_daemon_retries_a_delivery_answered_500_with_the_same_webhook_id() {
    let rx = Receiver::start(&[500]);
    let p = project(&format!(
        "{}[webhooks]\nretry = [\"1s\", \"1s\"]\n",
        endpoint("crm", &rx.url, "[\"stopped\"]")
    ));
    p.import_sample(&["--sequence", "cold-outbound"]);
    let _daemon = Served::start(&p, "hooks");
    p.ok(&["stop", MARIA]);
    wait_until("a retried delivery", Duration::from_secs(30), || {
        rx.requests().len() >= 2
    });
    let got = rx.requests();
    assert_eq!(got.len(), 2, "{got:#?}");
    assert_eq!(got[0].answered, 500);
    assert_eq!(got[1].answered, 200);
    assert_eq!(got[0].header("webhook-id"), got[1].header("webhook-id"));
    for r in &got {
        let body = check_signed(r);
        assert_eq!(body["type"], "enrollment.stopped");
        assert_eq!(body["data"]["lead"]["email"], MARIA);
    }
    assert_eq!(got[0].body, got[1].body, "the same body on every attempt");
    wait_until("the delivery recorded", Duration::from_secs(10), || {
        let s = webhook_status(&p);
        s[0]["delivered"] == 1 && s[0]["pending"] == 0 && s[0]["state"] == "ok"
    });
}

#[test]
fn a_stopping_daemon_gives_back_a_post_in_flight_within_seconds() {
    let rx = Receiver::start(&[0]);
    let p = project(&format!(
        "{}[webhooks]\ntimeout = \"60s\"\n",
        endpoint("crm", &rx.url, "[\"stopped\"]")
    ));
    p.import_sample(&["--sequence", "cold-outbound"]);
    let mut daemon = Served::start(&p, "hooks");
    p.ok(&["stop", MARIA]);
    wait_until("the post in flight", Duration::from_secs(30), || {
        !rx.requests().is_empty()
    });
    let pid = i32::try_from(daemon.child.id()).expect("pid");
    // SAFETY: kill(2) with a pid we spawned and a valid signal number.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let stopping = std::time::Instant::now();
    wait_until("the daemon's exit", Duration::from_secs(20), || {
        daemon.child.try_wait().expect("wait").is_some()
    });
    assert!(
        stopping.elapsed() < Duration::from_secs(12),
        "{:?}",
        stopping.elapsed()
    );
    // Given back without counting an attempt: the next daemon posts it, same webhook-id.
    let s = webhook_status(&p);
    assert_eq!(
        (s[0]["pending"].as_i64(), s[0]["retrying"].as_i64()),
        (Some(1), Some(0)),
        "{s}"
    );
}

//! Email providers' webhooks against the real daemon: the documented payloads
//! (tests/fixtures/providers/) signed with keys the tests make (openssl, aws-lc-rs), accepted
//! once; bad, truncated or stale signatures, malformed and oversize bodies refused with a JSON
//! 4xx and nothing changed; a complaint suppresses; a hard bounce bounces, suppresses, and the
//! next step is never sent.

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::support::Project;
use crate::support::http::Served;
use crate::support::providers::{
    LEAD, assert_no_more_sends, fixture, lead, openssl, outbox, project_with_sent_intro, refused,
    settled, suppression, unix_now,
};

// ---- SendGrid ----------------------------------------------------------------------------

struct SendgridKey;

impl SendgridKey {
    /// Makes a P-256 key in the project; returns the base64 DER public key SendGrid would show.
    fn make(p: &Project) -> String {
        openssl(
            p,
            &[
                "ecparam",
                "-name",
                "prime256v1",
                "-genkey",
                "-noout",
                "-out",
                "sg.key",
            ],
            None,
        );
        let der = openssl(
            p,
            &["ec", "-in", "sg.key", "-pubout", "-outform", "DER"],
            None,
        );
        STANDARD.encode(der)
    }

    fn sign(p: &Project, ts: &str, body: &str) -> String {
        let sig = openssl(
            p,
            &["dgst", "-sha256", "-sign", "sg.key"],
            Some(format!("{ts}{body}").as_bytes()),
        );
        STANDARD.encode(sig)
    }
}

fn sendgrid_post(
    s: &Served,
    ts: &str,
    sig: &str,
    body: impl Into<reqwest::blocking::Body>,
) -> reqwest::blocking::Response {
    s.client
        .post(s.url("/webhooks/sendgrid"))
        .header("Content-Type", "application/json")
        .header("X-Twilio-Email-Event-Webhook-Signature", sig)
        .header("X-Twilio-Email-Event-Webhook-Timestamp", ts)
        .body(body)
        .send()
        .expect("POST /webhooks/sendgrid")
}

#[test]
fn sendgrid_signed_events_are_recorded_once_and_a_hard_bounce_stops_the_sequence() {
    let p0 = Project::shipped();
    let public = SendgridKey::make(&p0);
    let (p, id) = project_with_sent_intro(
        "sendgrid",
        "[providers.sendgrid]\npublic_key = { file = \"sendgrid.pub\" }\n",
    );
    p.write("sendgrid.pub", &public);
    std::fs::copy(p0.file("sg.key"), p.file("sg.key")).expect("copy key");
    // The message carries our Message-ID as a SendGrid unique argument.
    let sent = outbox(&p);
    assert_eq!(sent.len(), 1);
    assert!(
        sent[0].contains(&format!(
            r#"X-SMTPAPI: {{"unique_args":{{"drumbeat_message_id":"{id}"}}}}"#
        )),
        "{}",
        sent[0]
    );

    let mut events: Value = serde_json::from_str(&fixture("sendgrid/events.json")).expect("JSON");
    for e in events.as_array_mut().expect("array") {
        e["email"] = json!(LEAD);
        e["drumbeat_message_id"] = json!(id);
        if e.get("smtp-id").is_some() {
            e["smtp-id"] = json!(id);
        }
    }
    let body = events.to_string();
    let s = Served::start(&p, "providers-sendgrid");
    settled(&p);
    let before = p.store_state(&[LEAD]);

    // Refused, and nothing changes: a bad signature, a truncated one, a stale timestamp,
    // a body that is not JSON, an oversize body.
    let ts = unix_now().to_string();
    let good = SendgridKey::sign(&p, &ts, &body);
    let other = SendgridKey::sign(&p, &ts, "[]");
    refused(sendgrid_post(&s, &ts, &other, body.clone()), 401);
    refused(
        sendgrid_post(&s, &ts, &good[..good.len() - 12], body.clone()),
        401,
    );
    refused(sendgrid_post(&s, &ts, &good, format!("{body} ")), 401);
    let stale = (unix_now() - 600).to_string();
    let msg = refused(
        sendgrid_post(
            &s,
            &stale,
            &SendgridKey::sign(&p, &stale, &body),
            body.clone(),
        ),
        403,
    );
    assert!(msg.contains("refused as a replay"), "{msg}");
    let bad = r#"[{"event": "delivered",]"#;
    let r = sendgrid_post(&s, &ts, &SendgridKey::sign(&p, &ts, bad), bad);
    assert_eq!(r.status(), 400);
    let v: Value = r.json().expect("JSON");
    assert_eq!(v["field"], "body");
    assert!(
        v["error"].as_str().unwrap().contains("not valid JSON"),
        "{v}"
    );
    let huge = "x".repeat(2 * 1024 * 1024);
    // The daemon answers 413 without reading the body and closes the connection: a client
    // of its own, so the next requests do not reuse it.
    let once = reqwest::blocking::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("a client");
    let r = once
        .post(s.url("/webhooks/sendgrid"))
        .header("X-Twilio-Email-Event-Webhook-Signature", &good)
        .header("X-Twilio-Email-Event-Webhook-Timestamp", &ts)
        .body(huge)
        .send()
        .expect("POST a huge body");
    let msg = refused(r, 413);
    assert!(msg.contains("larger than"), "{msg}");
    refused(
        s.client
            .post(s.url("/webhooks/sendgrid"))
            .body(body.clone())
            .send()
            .expect("POST"),
        401,
    );
    assert_eq!(
        p.store_state(&[LEAD]),
        before,
        "a refused webhook changed the store"
    );

    // Accepted: every event we act on is recorded; the provider's retry counts nothing again.
    let r = sendgrid_post(&s, &ts, &good, body.clone());
    assert_eq!(r.status(), 200);
    let v: Value = r.json().expect("JSON");
    assert_eq!(v, json!({"accepted": 7, "duplicates": 0, "ignored": 3}));
    let r = sendgrid_post(&s, &ts, &good, body.clone());
    let v: Value = r.json().expect("JSON");
    assert_eq!(v, json!({"accepted": 0, "duplicates": 7, "ignored": 3}));
    drop(s);

    let kinds: Vec<String> = lead(&p)["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["kind"].as_str().map(str::to_string))
        .collect();
    for k in ["delivered", "opened", "clicked", "bounced", "complained"] {
        assert_eq!(
            kinds.iter().filter(|x| *x == k).count(),
            if k == "bounced" { 2 } else { 1 },
            "{k} in {kinds:?}"
        );
    }
    assert_eq!(suppression(&p).as_deref(), Some("bounced"));
    assert_no_more_sends(&p, "bounced");
}

// ---- Mailgun -----------------------------------------------------------------------------

fn mailgun_body(name: &str, id: &str, key: &str, ts: i64, token: &str) -> String {
    let mut v: Value = serde_json::from_str(&fixture(&format!("mailgun/{name}"))).expect("JSON");
    let bare = id.trim_start_matches('<').trim_end_matches('>');
    v["event-data"]["message"]["headers"]["message-id"] = json!(bare);
    v["event-data"]["recipient"] = json!(LEAD);
    let k = hmac::Key::new(hmac::HMAC_SHA256, key.as_bytes());
    let sig: String = hmac::sign(&k, format!("{ts}{token}").as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    v["signature"] = json!({"timestamp": ts.to_string(), "token": token, "signature": sig});
    v.to_string()
}

#[test]
fn mailgun_events_need_a_fresh_signature_and_a_complaint_suppresses() {
    let key = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0";
    let (p, id) = project_with_sent_intro(
        "mailgun",
        "[providers.mailgun]\nsigning_key = { file = \"mailgun.key\" }\n",
    );
    assert!(outbox(&p)[0].contains(&format!(
        r#"X-Mailgun-Variables: {{"drumbeat_message_id":"{id}"}}"#
    )));
    p.write("mailgun.key", key);
    let s = Served::start(&p, "providers-mailgun");
    let post = |body: String| {
        s.client
            .post(s.url("/webhooks/mailgun"))
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .expect("POST /webhooks/mailgun")
    };
    settled(&p);
    let before = p.store_state(&[LEAD]);
    let now = unix_now();
    refused(
        post(mailgun_body("delivered.json", &id, "wrong-key", now, "t1")),
        401,
    );
    refused(
        post(mailgun_body("delivered.json", &id, key, now - 600, "t2")),
        403,
    );
    let mut truncated: Value =
        serde_json::from_str(&mailgun_body("delivered.json", &id, key, now, "t3")).expect("JSON");
    let sig = truncated["signature"]["signature"]
        .as_str()
        .unwrap()
        .to_string();
    truncated["signature"]["signature"] = json!(sig[..40]);
    refused(post(truncated.to_string()), 401);
    let r = post("{\"signature\": ".into());
    assert_eq!(r.status(), 400);
    assert_eq!(
        p.store_state(&[LEAD]),
        before,
        "a refused webhook changed the store"
    );

    let delivered = mailgun_body("delivered.json", &id, key, now, "token-delivered");
    let v: Value = post(delivered.clone()).json().expect("JSON");
    assert_eq!(v["accepted"], 1, "{v}");
    let v: Value = post(delivered.clone()).json().expect("JSON");
    assert_eq!(v["duplicates"], 1, "{v}");
    // The same signed token with another event is a replay.
    let mut replay: Value = serde_json::from_str(&delivered).expect("JSON");
    replay["event-data"]["id"] = json!("another-event");
    replay["event-data"]["event"] = json!("complained");
    let msg = refused(post(replay.to_string()), 403);
    assert!(msg.contains("replay"), "{msg}");
    assert_eq!(suppression(&p), None);
    // An event we ignore spends its token too: its signature cannot carry a complaint later.
    let mut accepted: Value = serde_json::from_str(&mailgun_body(
        "delivered.json",
        &id,
        key,
        now,
        "token-accepted",
    ))
    .expect("JSON");
    accepted["event-data"]["id"] = json!("accepted-event");
    accepted["event-data"]["event"] = json!("accepted");
    let v: Value = post(accepted.to_string()).json().expect("JSON");
    assert_eq!(v["ignored"], 1, "{v}");
    let mut replay = accepted.clone();
    replay["event-data"]["id"] = json!("complaint-event");
    replay["event-data"]["event"] = json!("complained");
    let msg = refused(post(replay.to_string()), 403);
    assert!(msg.contains("replay"), "{msg}");
    assert_eq!(suppression(&p), None);

    let v: Value = post(mailgun_body(
        "complained.json",
        &id,
        key,
        now,
        "token-complaint",
    ))
    .json()
    .expect("JSON");
    assert_eq!(v["accepted"], 1, "{v}");
    drop(s);
    assert_eq!(suppression(&p).as_deref(), Some("complained"));
    assert_no_more_sends(&p, "unsubscribed");
}

// ---- Postmark ----------------------------------------------------------------------------

#[test]
fn postmark_needs_its_basic_credentials_and_a_hard_bounce_stops_the_sequence() {
    let (p, id) = project_with_sent_intro(
        "postmark",
        "[providers.postmark]\nusername = \"postmark\"\npassword = { file = \"postmark.pw\" }\n",
    );
    p.write("postmark.pw", "correct horse battery\n");
    assert!(outbox(&p)[0].contains(&format!("X-PM-Metadata-drumbeat-message-id: {id}")));
    let s = Served::start(&p, "providers-postmark");
    let record = |name: &str| {
        let mut v: Value =
            serde_json::from_str(&fixture(&format!("postmark/{name}"))).expect("JSON");
        v["Metadata"]["drumbeat-message-id"] = json!(id);
        v.to_string()
    };
    let post = |user: &str, pass: &str, body: String| {
        s.client
            .post(s.url("/webhooks/postmark"))
            .basic_auth(user, Some(pass))
            .body(body)
            .send()
            .expect("POST /webhooks/postmark")
    };
    settled(&p);
    let before = p.store_state(&[LEAD]);
    let r = post("postmark", "wrong", record("bounce-hard.json"));
    assert!(r.headers().contains_key("www-authenticate"));
    refused(r, 401);
    refused(
        post(
            "postmark",
            "correct horse batter",
            record("bounce-hard.json"),
        ),
        401,
    );
    refused(
        s.client
            .post(s.url("/webhooks/postmark"))
            .body(record("bounce-hard.json"))
            .send()
            .expect("POST"),
        401,
    );
    let r = post("postmark", "correct horse battery", "[1, 2".into());
    assert_eq!(r.status(), 400);
    assert_eq!(
        p.store_state(&[LEAD]),
        before,
        "a refused webhook changed the store"
    );

    for name in ["delivery.json", "open.json", "click.json"] {
        let v: Value = post("postmark", "correct horse battery", record(name))
            .json()
            .expect("JSON");
        assert_eq!(v["accepted"], 1, "{name}: {v}");
        let v: Value = post("postmark", "correct horse battery", record(name))
            .json()
            .expect("JSON");
        assert_eq!(v["duplicates"], 1, "{name}: {v}");
    }
    let v: Value = post(
        "postmark",
        "correct horse battery",
        record("bounce-hard.json"),
    )
    .json()
    .expect("JSON");
    assert_eq!(v["accepted"], 1, "{v}");
    drop(s);
    assert_eq!(suppression(&p).as_deref(), Some("bounced"));
    assert_no_more_sends(&p, "bounced");
}

#[test]
fn provider_paths_answer_404_until_configured() {
    let p = Project::shipped();
    let s = Served::start(&p, "providers-off");
    for path in ["sendgrid", "mailgun", "postmark", "ses"] {
        let msg = refused(
            s.client
                .post(s.url(&format!("/webhooks/{path}")))
                .body("{}")
                .send()
                .expect("POST"),
            404,
        );
        assert!(msg.contains(&format!("[providers.{path}]")), "{msg}");
    }
}

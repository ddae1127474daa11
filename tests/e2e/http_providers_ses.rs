//! Amazon SES events through SNS against the real daemon: notifications signed (SNS
//! SignatureVersion 1 and 2) with a key and certificate the test makes with openssl and pins
//! in config; tampered, truncated or stale messages and unknown topics refused with nothing
//! changed; a subscription confirmation for a host that is not SNS only logged; a hard bounce
//! stops the sequence.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::support::Project;
use crate::support::http::Served;
use crate::support::providers::{
    LEAD, assert_no_more_sends, fixture, openssl, outbox, project_with, refused, settled,
    suppression,
};

const TOPIC: &str = "arn:aws:sns:us-west-2:123456789012:MyTopic";

/// The SNS canonical string of a message (the documented field order).
fn canonical(m: &Value) -> String {
    let fields: &[&str] = if m["Type"] == "Notification" {
        &[
            "Message",
            "MessageId",
            "Subject",
            "Timestamp",
            "TopicArn",
            "Type",
        ]
    } else {
        &[
            "Message",
            "MessageId",
            "SubscribeURL",
            "Timestamp",
            "Token",
            "TopicArn",
            "Type",
        ]
    };
    fields
        .iter()
        .filter_map(|f| m[*f].as_str().map(|v| format!("{f}\n{v}\n")))
        .collect()
}

fn sns_sign(p: &Project, m: &mut Value, version: &str) {
    m["SignatureVersion"] = json!(version);
    let digest = if version == "1" { "-sha1" } else { "-sha256" };
    let sig = openssl(
        p,
        &["dgst", digest, "-sign", "sns.key"],
        Some(canonical(m).as_bytes()),
    );
    m["Signature"] = json!(STANDARD.encode(sig));
}

fn sns_notification(p: &Project, event: &str, id: &str, sns_id: &str, at: &str) -> Value {
    let mut ses: Value = serde_json::from_str(&fixture(&format!("ses/{event}"))).expect("JSON");
    for h in ses["mail"]["headers"].as_array_mut().expect("headers") {
        if h["name"] == "X-Drumbeat-Message-Id" {
            h["value"] = json!(id);
        }
    }
    ses["mail"]["destination"] = json!([LEAD]);
    let mut m: Value = serde_json::from_str(&fixture("ses/notification.json")).expect("JSON");
    m["TopicArn"] = json!(TOPIC);
    m["MessageId"] = json!(sns_id);
    m["Message"] = json!(ses.to_string());
    m["Timestamp"] = json!(at);
    sns_sign(p, &mut m, "2");
    m
}

#[test]
fn ses_notifications_need_a_pinned_sns_signature_and_a_hard_bounce_stops_the_sequence() {
    let make_cert = |p: &Project| {
        std::fs::create_dir_all(p.file("sns-certs")).expect("mkdir");
        let args = "req -x509 -newkey rsa:2048 -nodes -keyout sns.key -out sns-certs/sns.pem -days 2 -subj /CN=sns.amazonaws.com";
        openssl(p, &args.split(' ').collect::<Vec<_>>(), None);
    };
    let (p, id) = project_with(
        "ses",
        &format!("[providers.ses]\ntopic_arns = [\"{TOPIC}\"]\ncertificates = \"sns-certs\"\n"),
        make_cert,
    );
    assert!(outbox(&p)[0].contains(&format!("X-Drumbeat-Message-Id: {id}")));
    let s = Served::start(&p, "providers-ses");
    let post = |m: &Value| {
        s.client
            .post(s.url("/webhooks/ses"))
            .header("Content-Type", "text/plain; charset=UTF-8")
            .header("x-amz-sns-message-type", m["Type"].as_str().unwrap_or(""))
            .body(m.to_string())
            .send()
            .expect("POST /webhooks/ses")
    };
    let now = chrono::Utc::now();
    let iso =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    settled(&p);
    let before = p.store_state(&[LEAD]);

    let good = sns_notification(&p, "bounce.json", &id, "sns-bounce-1", &iso(now));
    let mut tampered = good.clone();
    tampered["Message"] = json!(
        good["Message"]
            .as_str()
            .unwrap()
            .replace("Permanent", "Transient")
    );
    refused(post(&tampered), 401);
    let mut truncated = good.clone();
    truncated["Signature"] = json!(good["Signature"].as_str().unwrap()[..60]);
    refused(post(&truncated), 401);
    let stale = sns_notification(
        &p,
        "bounce.json",
        &id,
        "sns-bounce-2",
        &iso(now - chrono::Duration::hours(2)),
    );
    refused(post(&stale), 403);
    let mut other_topic = good.clone();
    other_topic["TopicArn"] = json!("arn:aws:sns:us-west-2:123456789012:NotOurs");
    sns_sign(&p, &mut other_topic, "2");
    refused(post(&other_topic), 403);
    assert_eq!(post(&json!({"Type": "Notification"})).status(), 400);
    assert_eq!(
        p.store_state(&[LEAD]),
        before,
        "a refused webhook changed the store"
    );

    // A subscription confirmation for a URL that is not an SNS host is logged, not fetched.
    let mut confirm: Value =
        serde_json::from_str(&fixture("ses/subscription-confirmation.json")).expect("JSON");
    confirm["TopicArn"] = json!(TOPIC);
    confirm["Timestamp"] = json!(iso(now));
    confirm["SubscribeURL"] = json!(format!("{}/never-fetched", s.base));
    sns_sign(&p, &mut confirm, "1");
    let v: Value = post(&confirm).json().expect("JSON");
    assert_eq!(v["subscription"], "logged", "{v}");

    let open = sns_notification(&p, "open.json", &id, "sns-open-1", &iso(now));
    let v: Value = post(&open).json().expect("JSON");
    assert_eq!(v["accepted"], 1, "{v}");
    let v: Value = post(&good).json().expect("JSON");
    assert_eq!(v["accepted"], 1, "{v}");
    let v: Value = post(&good).json().expect("JSON");
    assert_eq!(v["duplicates"], 1, "{v}");
    drop(s);
    assert_eq!(suppression(&p).as_deref(), Some("bounced"));
    assert_no_more_sends(&p, "bounced");
}

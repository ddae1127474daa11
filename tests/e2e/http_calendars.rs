//! Scheduling tools' webhooks against the real daemon: Cal.com's `BOOKING_CREATED` and
//! Calendly's `invitee.created` (tests/fixtures/calendars/), signed with a key the test
//! chooses. Unsigned, wrongly signed, tampered and (Calendly) stale requests are refused with
//! nothing changed; an attendee who is no lead and other events are taken and ignored; the
//! booking stops the lead with outcome meeting-booked, once however often it is sent, and
//! `lead show` says where the meeting came from and when it is.

use aws_lc_rs::hmac;
use serde_json::{Value, json};

use crate::support::Project;
use crate::support::daemon::{at, run_once};
use crate::support::http::Served;
use crate::support::providers::{
    IMPORT_AT, LEAD, SEND_AT, assert_no_more_sends, lead, refused, settled, unix_now,
};

fn calendar_fixture(rel: &str) -> String {
    std::fs::read_to_string(
        crate::support::repo()
            .join("tests/fixtures/calendars")
            .join(rel),
    )
    .unwrap_or_else(|e| panic!("fixture {rel}: {e}"))
}

/// A project with `table` in config.toml, its key in `calendar.key`, and the lead's intro sent.
fn project_with_intro(table: &str) -> Project {
    let p = Project::shipped();
    p.write("calendar.key", "whsec_test_3f9a\n");
    let text = std::fs::read_to_string(p.file("config.toml")).expect("config");
    p.write("config.toml", format!("{text}\n{table}\n"));
    p.write(
        "leads.csv",
        format!("Email,First Name,Company,Time Zone\n{LEAD},Ada,Company 0,America/New_York\n"),
    );
    at(
        &p,
        IMPORT_AT,
        &[
            "leads",
            "import",
            "leads.csv",
            "--sequence",
            "cold-outbound",
        ],
    );
    run_once(&p, SEND_AT);
    p
}

fn hmac_hex(key: &str, msg: &[u8]) -> String {
    let k = hmac::Key::new(hmac::HMAC_SHA256, key.as_bytes());
    hmac::sign(&k, msg)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn post(
    s: &Served,
    path: &str,
    header: Option<(&str, &str)>,
    body: &str,
) -> reqwest::blocking::Response {
    let mut r = s
        .client
        .post(s.url(path))
        .header("Content-Type", "application/json");
    if let Some((k, v)) = header {
        r = r.header(k, v);
    }
    r.body(body.to_string()).send().expect("POST")
}

fn ok_json(r: reqwest::blocking::Response) -> Value {
    assert_eq!(r.status(), 200);
    r.json().expect("JSON")
}

/// After the booking: the lead stopped with outcome meeting-booked, one event, and `lead show`
/// naming the source and the meeting's start; no later step goes out.
fn assert_booked(p: &Project, source: &str) {
    let v = lead(p);
    let e = &v["enrollments"][0];
    assert_eq!(e["state"], "stopped", "{v:#}");
    assert_eq!(e["outcome"], "meeting-booked", "{v:#}");
    let meetings: Vec<&Value> = v["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["kind"] == "meeting-booked")
        .collect();
    assert_eq!(meetings.len(), 1, "{v:#}");
    assert_eq!(meetings[0]["data"]["source"], source, "{v:#}");
    let shown = at(p, SEND_AT, &["lead", "show", LEAD]).stdout;
    let line = shown
        .lines()
        .find(|l| l.contains("meeting-booked"))
        .unwrap_or_else(|| panic!("no meeting in the timeline: {shown}"));
    assert!(
        line.ends_with(&format!("via {source}, meeting at 2027-03-04 16:00 UTC")),
        "{shown}"
    );
    assert_no_more_sends(p, "stopped");
}

#[test]
fn calcom_signed_booking_stops_the_lead_once_and_bad_signatures_change_nothing() {
    let p = project_with_intro("[calendars.calcom]\nsecret = { file = \"calendar.key\" }\n");
    let body = calendar_fixture("calcom/booking_created.json");
    let key = "whsec_test_3f9a";
    let sig = hmac_hex(key, body.as_bytes());
    let h = "X-Cal-Signature-256";
    let s = Served::start(&p, "calendars-calcom");
    settled(&p);
    let before = p.store_state(&[LEAD]);

    // Unsigned, signed with another secret, a tampered body under the right signature.
    let msg = refused(post(&s, "/webhooks/calcom", None, &body), 401);
    assert!(msg.contains("X-Cal-Signature-256"), "{msg}");
    let other = hmac_hex("another", body.as_bytes());
    refused(post(&s, "/webhooks/calcom", Some((h, &other)), &body), 401);
    let tampered = body.replace("2027-03-04T16:00:00Z", "2027-03-05T16:00:00Z");
    refused(
        post(&s, "/webhooks/calcom", Some((h, &sig)), &tampered),
        401,
    );
    // Signed, but about nobody we know, or not a booking: taken and ignored.
    let stranger = body
        .replace(LEAD, "someone@elsewhere.example")
        .replace("bFJeNb2uX8ANpT3JL5EfXw", "otherbooking1");
    let v = ok_json(post(
        &s,
        "/webhooks/calcom",
        Some((h, &hmac_hex(key, stranger.as_bytes()))),
        &stranger,
    ));
    assert_eq!(
        v,
        json!({"recorded": 0, "duplicates": 0, "ignored": 1, "stopped": []})
    );
    let ping = r#"{"triggerEvent":"PING","createdAt":"2027-03-02T15:00:00Z","payload":{}}"#;
    let v = ok_json(post(
        &s,
        "/webhooks/calcom",
        Some((h, &hmac_hex(key, ping.as_bytes()))),
        ping,
    ));
    assert_eq!(v["ignored"], 1);
    assert_eq!(p.store_state(&[LEAD]), before, "nothing changed yet");

    // The booking, then Cal.com's retry of it.
    let v = ok_json(post(&s, "/webhooks/calcom", Some((h, &sig)), &body));
    assert_eq!(
        v,
        json!({"recorded": 1, "duplicates": 0, "ignored": 0, "stopped": ["cold-outbound"]})
    );
    let v = ok_json(post(&s, "/webhooks/calcom", Some((h, &sig)), &body));
    assert_eq!(
        v,
        json!({"recorded": 0, "duplicates": 1, "ignored": 0, "stopped": []})
    );
    drop(s);
    assert_booked(&p, "calcom");
}

#[test]
fn calendly_signed_invitee_stops_the_lead_once_and_stale_or_bad_signatures_change_nothing() {
    let p = project_with_intro("[calendars.calendly]\nsigning_key = { file = \"calendar.key\" }\n");
    let body = calendar_fixture("calendly/invitee_created.json");
    let key = "whsec_test_3f9a";
    let h = "Calendly-Webhook-Signature";
    let sign =
        |t: i64, b: &str| format!("t={t},v1={}", hmac_hex(key, format!("{t}.{b}").as_bytes()));
    let s = Served::start(&p, "calendars-calendly");
    settled(&p);
    let before = p.store_state(&[LEAD]);

    let now = unix_now();
    let good = sign(now, &body);
    let msg = refused(post(&s, "/webhooks/calendly", None, &body), 401);
    assert!(msg.contains("Calendly-Webhook-Signature"), "{msg}");
    let other = format!(
        "t={now},v1={}",
        hmac_hex("another", format!("{now}.{body}").as_bytes())
    );
    refused(
        post(&s, "/webhooks/calendly", Some((h, &other)), &body),
        401,
    );
    let tampered = body.replace("ada@company0.example", "ada@company0.examplf");
    refused(
        post(&s, "/webhooks/calendly", Some((h, &good)), &tampered),
        401,
    );
    // A captured request replayed ten minutes later (or a moved timestamp).
    let stale = now - 600;
    let msg = refused(
        post(
            &s,
            "/webhooks/calendly",
            Some((h, &sign(stale, &body))),
            &body,
        ),
        403,
    );
    assert!(msg.contains("refused as a replay"), "{msg}");
    let moved = good.replace(&format!("t={now}"), &format!("t={}", now + 1));
    refused(
        post(&s, "/webhooks/calendly", Some((h, &moved)), &body),
        401,
    );
    let stranger = body
        .replace(LEAD, "someone@elsewhere.example")
        .replace("AAAAAAAAAAAAAAAA\"\n", "BBBBBBBBBBBBBBBB\"\n");
    let v = ok_json(post(
        &s,
        "/webhooks/calendly",
        Some((h, &sign(now, &stranger))),
        &stranger,
    ));
    assert_eq!(
        v,
        json!({"recorded": 0, "duplicates": 0, "ignored": 1, "stopped": []})
    );
    let canceled = body.replace("\"invitee.created\"", "\"invitee.canceled\"");
    let v = ok_json(post(
        &s,
        "/webhooks/calendly",
        Some((h, &sign(now, &canceled))),
        &canceled,
    ));
    assert_eq!(v["ignored"], 1);
    assert_eq!(p.store_state(&[LEAD]), before, "nothing changed yet");

    let v = ok_json(post(&s, "/webhooks/calendly", Some((h, &good)), &body));
    assert_eq!(
        v,
        json!({"recorded": 1, "duplicates": 0, "ignored": 0, "stopped": ["cold-outbound"]})
    );
    // Calendly's retry of the same invitee, signed again.
    let v = ok_json(post(
        &s,
        "/webhooks/calendly",
        Some((h, &sign(unix_now(), &body))),
        &body,
    ));
    assert_eq!(
        v,
        json!({"recorded": 0, "duplicates": 1, "ignored": 0, "stopped": []})
    );
    drop(s);
    assert_booked(&p, "calendly");
}

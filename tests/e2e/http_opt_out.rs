//! A lead posted to the API with a field that says the person opted out (as CRMs and form
//! tools send it: `unsubscribed: true`, `Do Not Email`, `subscribed_to_emails: false`) is
//! stored suppressed and never emailed, as a CSV import with such a column is.

use serde_json::{Value, json};

use crate::http_api::{api_project, authed, outbox_count};
use crate::support::http::Served;

#[test]
fn api_leads_whose_fields_say_they_opted_out_are_suppressed_and_never_emailed() {
    let p = api_project();
    let s = Served::start(&p, "api-opt-out");
    let r = authed(s.client.post(s.url("/api/leads")))
        .json(&json!({"leads": [
            {"email": "out@acme.example", "unsubscribed": true},
            {"email": "dne@acme.example", "Do Not Email": "Yes"},
            {"email": "sub@acme.example", "subscribed_to_emails": false},
            {"email": "in@acme.example", "subscribed_to_emails": true, "first_name": "Ina",
             "company": "Acme", "title": "CTO"},
        ], "sequence": "now"}))
        .send()
        .expect("POST");
    assert_eq!(r.status(), 201);
    let v: Value = r.json().expect("JSON");
    let leads = v["leads"].as_array().expect("a list");
    let fields: Vec<&Value> = leads.iter().map(|l| &l["opted_out"]).collect();
    assert_eq!(
        fields,
        [
            &json!("unsubscribed"),
            &json!("Do Not Email"),
            &json!("subscribed_to_emails"),
            &Value::Null
        ],
        "{v}"
    );
    for l in &leads[..3] {
        assert_eq!(l["lead"], "created", "{v}");
        assert_eq!(l["enrollment"]["result"], "suppressed", "{v}");
    }
    assert_eq!(leads[3]["enrollment"]["result"], "enrolled", "{v}");

    let list: Value =
        serde_json::from_str(&p.ok(&["suppressions", "--json"]).stdout).expect("JSON");
    let mut suppressed: Vec<(&str, &str)> = list
        .as_array()
        .expect("a list")
        .iter()
        .map(|s| (s["value"].as_str().unwrap(), s["note"].as_str().unwrap()))
        .collect();
    suppressed.sort();
    assert_eq!(
        suppressed,
        [
            (
                "dne@acme.example",
                "opted out in field \"Do Not Email\" of an API request"
            ),
            (
                "out@acme.example",
                "opted out in field \"unsubscribed\" of an API request"
            ),
            (
                "sub@acme.example",
                "opted out in field \"subscribed_to_emails\" of an API request"
            ),
        ]
    );
    // Only the subscribed lead is emailed.
    crate::support::wait_until(
        "the enrolled lead's intro",
        std::time::Duration::from_secs(30),
        || outbox_count(&p) == 1,
    );
    drop(s);
    assert_eq!(outbox_count(&p), 1);
}

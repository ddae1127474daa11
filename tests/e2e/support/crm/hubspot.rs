//! A local HubSpot (CRM v3, private-app token as `Authorization: Bearer`): contact search by
//! email (`EQ`), create (409 when the address is taken, as HubSpot does), update, read with
//! `lifecyclestage`, and email engagements that must be associated to an existing contact
//! with type 198 (HUBSPOT_DEFINED, email → contact).

use std::sync::{Arc, Mutex};

use serde_json::{Map, Value, json};

use super::{Answer, Request, serve};

/// What the fake holds.
#[derive(Debug, Default)]
pub struct State {
    token: String,
    /// Requests still to answer 503 (an outage).
    pub outage: u32,
    /// Every request, in order (503s included).
    pub requests: Vec<Request>,
    /// Contacts: id and properties.
    pub contacts: Vec<(u64, Map<String, Value>)>,
    /// Email engagements: id, properties and the contact they are associated to.
    pub emails: Vec<(u64, Map<String, Value>, String)>,
    next: u64,
}

/// The running fake.
pub struct Hubspot {
    pub url: String,
    state: Arc<Mutex<State>>,
}

impl Hubspot {
    pub fn start(token: &str) -> Hubspot {
        let state = Arc::new(Mutex::new(State {
            token: token.to_string(),
            next: 500,
            ..State::default()
        }));
        let url = serve(state.clone(), handle);
        Hubspot { url, state }
    }

    /// Looks at (or changes) what the fake holds.
    pub fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().unwrap())
    }

    /// Sets a contact's lifecycle stage, as a rep would in HubSpot.
    pub fn set_stage(&self, email: &str, stage: &str) {
        self.with(|s| {
            let c = s
                .contacts
                .iter_mut()
                .find(|(_, p)| p["email"] == email)
                .expect("the contact");
            c.1.insert("lifecyclestage".into(), stage.into());
        });
    }
}

fn err(status: u16, message: &str) -> Answer {
    (
        status,
        json!({ "status": "error", "message": message, "category": "VALIDATION_ERROR" }),
    )
}

fn handle(s: &mut State, r: &Request) -> Answer {
    s.requests.push(r.clone());
    if s.outage > 0 {
        s.outage -= 1;
        return err(503, "Service Unavailable");
    }
    if r.headers.get("authorization") != Some(&format!("Bearer {}", s.token)) {
        return err(401, "Authentication credentials not found.");
    }
    let path = r.path.split('?').next().unwrap_or_default();
    let id_in = |prefix: &str| {
        path.strip_prefix(prefix)
            .and_then(|i| i.parse::<u64>().ok())
    };
    match (r.method.as_str(), path) {
        ("POST", "/crm/v3/objects/contacts/search") => search(s, r),
        ("POST", "/crm/v3/objects/contacts") => create_contact(s, r),
        ("POST", "/crm/v3/objects/emails") => create_email(s, r),
        ("PATCH", _) if id_in("/crm/v3/objects/contacts/").is_some() => {
            let id = id_in("/crm/v3/objects/contacts/").unwrap_or_default();
            let Some(c) = s.contacts.iter_mut().find(|(i, _)| *i == id) else {
                return err(404, "not found");
            };
            for (k, v) in r.body["properties"]
                .as_object()
                .cloned()
                .unwrap_or_default()
            {
                c.1.insert(k, v);
            }
            (200, json!({ "id": id.to_string(), "properties": c.1 }))
        }
        ("GET", _) if id_in("/crm/v3/objects/contacts/").is_some() => {
            let id = id_in("/crm/v3/objects/contacts/").unwrap_or_default();
            match s.contacts.iter().find(|(i, _)| *i == id) {
                Some((_, p)) => (
                    200,
                    json!({ "id": id.to_string(), "properties": { "lifecyclestage": p.get("lifecyclestage").cloned().unwrap_or(Value::Null) } }),
                ),
                None => err(404, "not found"),
            }
        }
        _ => err(404, "no such route in the fake"),
    }
}

fn search(s: &State, r: &Request) -> Answer {
    let f = &r.body["filterGroups"][0]["filters"][0];
    if f["propertyName"] != "email" || f["operator"] != "EQ" {
        return err(400, "the fake searches by email EQ only");
    }
    let results: Vec<Value> = s
        .contacts
        .iter()
        .filter(|(_, p)| p["email"] == f["value"])
        .map(|(id, p)| json!({ "id": id.to_string(), "properties": p }))
        .collect();
    (200, json!({ "total": results.len(), "results": results }))
}

fn create_contact(s: &mut State, r: &Request) -> Answer {
    let Some(props) = r.body["properties"].as_object().cloned() else {
        return err(400, "properties missing");
    };
    if let Some((id, _)) = s
        .contacts
        .iter()
        .find(|(_, p)| p["email"] == props["email"])
    {
        return err(409, &format!("Contact already exists. Existing ID: {id}"));
    }
    s.next += 1;
    let mut props = props;
    props
        .entry("lifecyclestage")
        .or_insert_with(|| "lead".into());
    s.contacts.push((s.next, props.clone()));
    (
        201,
        json!({ "id": s.next.to_string(), "properties": props }),
    )
}

fn create_email(s: &mut State, r: &Request) -> Answer {
    let Some(props) = r.body["properties"].as_object().cloned() else {
        return err(400, "properties missing");
    };
    let a = &r.body["associations"][0];
    let to = a["to"]["id"].as_str().unwrap_or_default().to_string();
    let t = &a["types"][0];
    if t["associationCategory"] != "HUBSPOT_DEFINED" || t["associationTypeId"] != 198 {
        return err(400, "email → contact is HUBSPOT_DEFINED 198");
    }
    if !s.contacts.iter().any(|(id, _)| id.to_string() == to) {
        return err(400, "no such contact to associate");
    }
    if props.get("hs_timestamp").is_none() {
        return err(400, "hs_timestamp is required");
    }
    s.next += 1;
    s.emails.push((s.next, props, to));
    (201, json!({ "id": s.next.to_string() }))
}

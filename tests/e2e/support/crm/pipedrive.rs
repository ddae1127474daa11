//! A local Pipedrive (API v1, token in the `x-api-token` header): person search by email,
//! create, update, activities that must name an existing person, a person's deals, and stage
//! names. Deals are set by the test (`set_deal`), as a rep would move one in Pipedrive.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use super::{Answer, Request, serve};

/// What the fake holds.
#[derive(Debug, Default)]
pub struct State {
    token: String,
    /// Requests still to answer 503 (an outage).
    pub outage: u32,
    /// Every request, in order.
    pub requests: Vec<Request>,
    /// Persons: id, name, primary email.
    pub persons: Vec<(u64, String, String)>,
    /// Activities as posted.
    pub activities: Vec<Value>,
    /// Deals: person id, status, stage id.
    pub deals: Vec<(u64, String, u64)>,
    next: u64,
}

/// The pipeline's stages: id and name.
const STAGES: [(u64, &str); 3] = [
    (1, "Qualified"),
    (2, "Proposal made"),
    (3, "Contract signed"),
];

/// The running fake.
pub struct Pipedrive {
    pub url: String,
    state: Arc<Mutex<State>>,
}

impl Pipedrive {
    pub fn start(token: &str) -> Pipedrive {
        let state = Arc::new(Mutex::new(State {
            token: token.to_string(),
            next: 100,
            ..State::default()
        }));
        let url = serve(state.clone(), handle);
        Pipedrive { url, state }
    }

    pub fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().unwrap())
    }

    /// Puts the person with `email` on a deal with `status` at the stage named `stage`.
    pub fn set_deal(&self, email: &str, status: &str, stage: &str) {
        let stage = STAGES.iter().find(|(_, n)| *n == stage).expect("a stage").0;
        self.with(|s| {
            let person = s
                .persons
                .iter()
                .find(|p| p.2 == email)
                .expect("the person")
                .0;
            s.deals.retain(|d| d.0 != person);
            s.deals.push((person, status.to_string(), stage));
        });
    }
}

fn err(status: u16, error: &str) -> Answer {
    (status, json!({ "success": false, "error": error }))
}

fn ok(data: Value) -> Answer {
    (200, json!({ "success": true, "data": data }))
}

/// A query parameter, percent-decoded.
fn param(path: &str, name: &str) -> Option<String> {
    let query = path.split_once('?')?.1;
    let raw = query
        .split('&')
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")))?;
    let bytes = raw.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() + 1 {
            out.push(u8::from_str_radix(&raw[i + 1..i + 3], 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn handle(s: &mut State, r: &Request) -> Answer {
    s.requests.push(r.clone());
    if s.outage > 0 {
        s.outage -= 1;
        return err(503, "Service Unavailable");
    }
    if r.headers.get("x-api-token") != Some(&s.token) || r.path.contains("api_token") {
        return err(401, "unauthorized access");
    }
    let path = r.path.split('?').next().unwrap_or_default();
    let parts: Vec<&str> = path.trim_start_matches("/api/v1/").split('/').collect();
    match (r.method.as_str(), parts.as_slice()) {
        ("GET", ["persons", "search"]) => {
            if param(&r.path, "fields").as_deref() != Some("email") {
                return err(400, "the fake searches by email only");
            }
            let term = param(&r.path, "term").unwrap_or_default();
            let items: Vec<Value> = s
                .persons
                .iter()
                .filter(|p| p.2 == term)
                .map(|p| json!({ "result_score": 1.0, "item": { "id": p.0, "name": p.1, "emails": [p.2] } }))
                .collect();
            ok(json!({ "items": items }))
        }
        ("POST", ["persons"]) => {
            let email = r.body["email"][0]["value"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let name = r.body["name"].as_str().unwrap_or_default().to_string();
            if name.is_empty() || email.is_empty() {
                return err(400, "name and email are required");
            }
            s.next += 1;
            s.persons.push((s.next, name, email));
            (201, json!({ "success": true, "data": { "id": s.next } }))
        }
        ("PUT", ["persons", id]) => match s.persons.iter_mut().find(|p| p.0.to_string() == *id) {
            Some(p) => {
                if let Some(n) = r.body["name"].as_str() {
                    p.1 = n.to_string();
                }
                ok(json!({ "id": p.0 }))
            }
            None => err(404, "Person not found"),
        },
        ("POST", ["activities"]) => {
            let person = r.body["person_id"].as_u64().unwrap_or_default();
            if !s.persons.iter().any(|p| p.0 == person) || r.body["type"] != "email" {
                return err(400, "an email activity of an existing person");
            }
            s.next += 1;
            s.activities.push(r.body.clone());
            (201, json!({ "success": true, "data": { "id": s.next } }))
        }
        ("GET", ["persons", id, "deals"]) => {
            let deals: Vec<Value> = s
                .deals
                .iter()
                .filter(|d| d.0.to_string() == *id)
                .map(|d| json!({ "id": d.0 * 10, "status": d.1, "stage_id": d.2 }))
                .collect();
            ok(if deals.is_empty() {
                Value::Null
            } else {
                Value::Array(deals)
            })
        }
        ("GET", ["stages", id]) => match STAGES.iter().find(|(i, _)| i.to_string() == *id) {
            Some((i, n)) => ok(json!({ "id": i, "name": n, "pipeline_id": 1 })),
            None => err(404, "Stage not found"),
        },
        _ => err(404, "no such route in the fake"),
    }
}

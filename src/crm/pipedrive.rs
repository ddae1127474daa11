//! Pipedrive's API v1, the subset drumbeat needs, with an API token in the `x-api-token`
//! header (never in the URL): persons found by email
//! (`GET /api/v1/persons/search?term=…&fields=email&exact_matching=true`), made
//! (`POST /api/v1/persons`) or renamed (`PUT /api/v1/persons/{id}`); emails logged as done
//! activities of type `email` (`POST /api/v1/activities`); the person's deals read back
//! (`GET /api/v1/persons/{id}/deals`, with `GET /api/v1/stages/{id}` for a stage's name).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use reqwest::Method;
use serde_json::{Value, json};

use super::{Api, Direction, Entry, Failure, Stages, id_of};

/// A Pipedrive company account.
#[derive(Debug, Clone)]
pub struct Pipedrive {
    api: Api,
    /// Stage names by id, read once per client.
    stage_names: Arc<Mutex<HashMap<String, String>>>,
}

/// The form of a query value (an address has `@` and may have `+`).
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Pipedrive {
    /// A client of `api`.
    pub fn new(api: Api) -> Pipedrive {
        Pipedrive {
            api,
            stage_names: Arc::default(),
        }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, Failure> {
        let auth = ("x-api-token", self.api.token().to_string());
        self.api.call(method, path, body, auth).await
    }

    /// The person with the lead's address: renamed to the lead's name when found, made when
    /// not.
    pub async fn find_or_create(&self, e: &Entry) -> Result<String, Failure> {
        let found = self
            .call(
                Method::GET,
                &format!(
                    "/api/v1/persons/search?term={}&fields=email&exact_matching=true",
                    encode(&e.email)
                ),
                None,
            )
            .await?;
        let name = e.name();
        if let Some(id) = found["data"]["items"]
            .get(0)
            .and_then(|i| id_of(&i["item"]["id"]))
        {
            if name != e.email {
                self.call(
                    Method::PUT,
                    &format!("/api/v1/persons/{id}"),
                    Some(&json!({ "name": name })),
                )
                .await?;
            }
            return Ok(id);
        }
        let body = json!({
            "name": name,
            "email": [{ "value": e.email, "primary": true, "label": "work" }],
        });
        let made = self
            .call(Method::POST, "/api/v1/persons", Some(&body))
            .await?;
        id_of(&made["data"]["id"])
            .ok_or_else(|| Failure::Retry("POST /api/v1/persons: no id in the answer".into()))
    }

    /// Logs the email on the person as a done activity of type `email`.
    pub async fn log(&self, person: &str, e: &Entry) -> Result<String, Failure> {
        let subject = e.subject.clone().unwrap_or_default();
        let subject = match e.direction {
            Direction::Out => format!("Email sent: {subject}"),
            Direction::In => format!("Reply received: {subject}"),
        };
        let at = chrono::DateTime::<chrono::Utc>::from_timestamp(e.at, 0).unwrap_or_default();
        let person_id: Value = person
            .parse::<i64>()
            .map_or_else(|_| person.into(), Value::from);
        let body = json!({
            "subject": subject,
            "type": "email",
            "done": 1,
            "person_id": person_id,
            "note": e.text,
            "due_date": at.format("%Y-%m-%d").to_string(),
            "due_time": at.format("%H:%M").to_string(),
        });
        let made = self
            .call(Method::POST, "/api/v1/activities", Some(&body))
            .await?;
        id_of(&made["data"]["id"])
            .ok_or_else(|| Failure::Retry("POST /api/v1/activities: no id in the answer".into()))
    }

    /// The person's deals: each one's status (`open`, `won`, `lost`) and stage name.
    pub async fn stages(&self, person: &str) -> Result<Stages, Failure> {
        let deals = self
            .call(
                Method::GET,
                &format!("/api/v1/persons/{person}/deals?status=all_not_deleted"),
                None,
            )
            .await?;
        let mut out = Stages::default();
        for d in deals["data"].as_array().into_iter().flatten() {
            if let Some(s) = d["status"].as_str() {
                out.deals.push(s.to_lowercase());
            }
            if let Some(stage) = id_of(&d["stage_id"]) {
                out.deals
                    .push(self.stage_name(&stage).await?.to_lowercase());
            }
        }
        Ok(out)
    }

    /// A stage's name, asked once.
    async fn stage_name(&self, id: &str) -> Result<String, Failure> {
        if let Some(n) = self
            .stage_names
            .lock()
            .ok()
            .and_then(|m| m.get(id).cloned())
        {
            return Ok(n);
        }
        let s = self
            .call(Method::GET, &format!("/api/v1/stages/{id}"), None)
            .await?;
        let name = s["data"]["name"].as_str().unwrap_or_default().to_string();
        if let Ok(mut m) = self.stage_names.lock() {
            m.insert(id.to_string(), name.clone());
        }
        Ok(name)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn addresses_are_encoded_for_the_query() {
        assert_eq!(
            super::encode("ann+x@acme.example"),
            "ann%2Bx%40acme.example"
        );
    }
}

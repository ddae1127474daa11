//! HubSpot's CRM v3 API, the subset drumbeat needs, with a private app's token
//! (`Authorization: Bearer …`): contacts found by email (`POST /crm/v3/objects/contacts/search`),
//! made (`POST /crm/v3/objects/contacts`) or updated (`PATCH …/{id}`); emails logged as
//! engagements (`POST /crm/v3/objects/emails`, associated to the contact with the
//! HUBSPOT_DEFINED type 198, email → contact); the contact's lifecycle stage and its deals'
//! stages read back (`GET /crm/v3/objects/contacts/{id}?properties=lifecyclestage&associations=deals`,
//! `GET /crm/v3/objects/deals/{id}?properties=dealstage`).

use reqwest::Method;
use serde_json::{Map, Value, json};

use super::{Api, Direction, Entry, Failure, Stages, id_of};

/// HubSpot's association type of an email to a contact.
pub const EMAIL_TO_CONTACT: u32 = 198;

/// A HubSpot account.
#[derive(Debug, Clone)]
pub struct Hubspot {
    api: Api,
    /// Whether deal stages are read (`stop_deal_stages` is set).
    deals: bool,
}

impl Hubspot {
    /// A client of `api`; `deals`: read the contact's deals' stages too.
    pub fn new(api: Api, deals: bool) -> Hubspot {
        Hubspot { api, deals }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, Failure> {
        let auth = ("authorization", format!("Bearer {}", self.api.token()));
        self.api.call(method, path, body, auth).await
    }

    /// The contact's properties drumbeat knows, the empty ones left out.
    fn properties(e: &Entry) -> Map<String, Value> {
        let mut p = Map::new();
        p.insert("email".into(), e.email.clone().into());
        for (k, v) in [
            ("firstname", &e.first_name),
            ("lastname", &e.last_name),
            ("company", &e.company),
            ("jobtitle", &e.title),
        ] {
            if let Some(v) = v.as_deref().filter(|v| !v.trim().is_empty()) {
                p.insert(k.into(), v.into());
            }
        }
        p
    }

    /// The contact with the lead's address: updated with the lead's fields when found, made
    /// when not.
    pub async fn find_or_create(&self, e: &Entry) -> Result<String, Failure> {
        let search = json!({
            "filterGroups": [{ "filters": [{ "propertyName": "email", "operator": "EQ", "value": e.email }] }],
            "properties": ["email", "lifecyclestage"],
            "limit": 1,
        });
        let found = self
            .call(
                Method::POST,
                "/crm/v3/objects/contacts/search",
                Some(&search),
            )
            .await?;
        let properties = Value::Object(Self::properties(e));
        if let Some(id) = found["results"].get(0).and_then(|c| id_of(&c["id"])) {
            self.call(
                Method::PATCH,
                &format!("/crm/v3/objects/contacts/{id}"),
                Some(&json!({ "properties": properties })),
            )
            .await?;
            return Ok(id);
        }
        let made = self
            .call(
                Method::POST,
                "/crm/v3/objects/contacts",
                Some(&json!({ "properties": properties })),
            )
            .await?;
        id_of(&made["id"]).ok_or_else(|| {
            Failure::Retry("POST /crm/v3/objects/contacts: no id in the answer".into())
        })
    }

    /// Logs the email on the contact `contact` as an email engagement.
    pub async fn log(&self, contact: &str, e: &Entry) -> Result<String, Failure> {
        let (direction, from, to) = match e.direction {
            Direction::Out => (
                "EMAIL",
                e.mailbox.clone().unwrap_or_default(),
                e.email.clone(),
            ),
            Direction::In => (
                "INCOMING_EMAIL",
                e.email.clone(),
                e.mailbox.clone().unwrap_or_default(),
            ),
        };
        let headers =
            json!({ "from": { "email": from }, "to": [{ "email": to }], "cc": [], "bcc": [] });
        let body = json!({
            "properties": {
                "hs_timestamp": e.timestamp(),
                "hs_email_direction": direction,
                "hs_email_status": "SENT",
                "hs_email_subject": e.subject.clone().unwrap_or_default(),
                "hs_email_text": e.text,
                "hs_email_headers": headers.to_string(),
            },
            "associations": [{
                "to": { "id": contact },
                "types": [{ "associationCategory": "HUBSPOT_DEFINED", "associationTypeId": EMAIL_TO_CONTACT }],
            }],
        });
        let made = self
            .call(Method::POST, "/crm/v3/objects/emails", Some(&body))
            .await?;
        id_of(&made["id"]).ok_or_else(|| {
            Failure::Retry("POST /crm/v3/objects/emails: no id in the answer".into())
        })
    }

    /// The contact's lifecycle stage, and its deals' stages when they are wanted.
    pub async fn stages(&self, contact: &str) -> Result<Stages, Failure> {
        let path = if self.deals {
            format!(
                "/crm/v3/objects/contacts/{contact}?properties=lifecyclestage&associations=deals"
            )
        } else {
            format!("/crm/v3/objects/contacts/{contact}?properties=lifecyclestage")
        };
        let c = self.call(Method::GET, &path, None).await?;
        let own = c["properties"]["lifecyclestage"]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_lowercase);
        let mut deals = Vec::new();
        if self.deals {
            let ids: Vec<String> = c["associations"]["deals"]["results"]
                .as_array()
                .map(|a| a.iter().filter_map(|d| id_of(&d["id"])).collect())
                .unwrap_or_default();
            for id in ids {
                let d = self
                    .call(
                        Method::GET,
                        &format!("/crm/v3/objects/deals/{id}?properties=dealstage"),
                        None,
                    )
                    .await?;
                if let Some(s) = d["properties"]["dealstage"].as_str() {
                    deals.push(s.to_lowercase());
                }
            }
        }
        Ok(Stages { own, deals })
    }
}

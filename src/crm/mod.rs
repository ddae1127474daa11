//! Native CRM sync (HubSpot, Pipedrive): each lead that is emailed gets a contact (a person)
//! in the CRM, each sent email and each reply is logged on it, and a lead whose CRM stage is
//! one config.toml names under `stop_stages` stops (the policy decides, `Signal::CrmStage`).
//!
//! Work comes from the events table through a queue (`crm_jobs`, see `store::crm`), logged
//! oldest first by one worker per daemon (`worker.rs`); a failure waits with a growing,
//! capped back-off and holds the jobs behind it, so nothing is lost and the order stays. The
//! sync never blocks sending: it only reads events sending already recorded.

pub mod hubspot;
pub mod pipedrive;
mod worker;

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::{CrmSettings, Secret};
use crate::webhooks::describe;

pub use worker::{SyncReport, Syncer, backoff, init_cursors, is_configured, run};

/// Which way an email went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// We sent it to the lead.
    Out,
    /// The lead wrote to us.
    In,
}

/// What one job logs: the lead's fields (to find or make the contact) and the email.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The lead's address.
    pub email: String,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Company.
    pub company: Option<String>,
    /// Job title.
    pub title: Option<String>,
    /// Which way the email went.
    pub direction: Direction,
    /// When (unix seconds).
    pub at: i64,
    /// The email's subject.
    pub subject: Option<String>,
    /// A line about the email (the body itself is not kept by drumbeat).
    pub text: String,
    /// The sending mailbox's address, when known.
    pub mailbox: Option<String>,
}

impl Entry {
    /// The lead's full name, or the address when no name is known.
    pub fn name(&self) -> String {
        let name = [self.first_name.as_deref(), self.last_name.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        if name.trim().is_empty() {
            self.email.clone()
        } else {
            name
        }
    }

    /// The instant as RFC 3339 in UTC.
    pub fn timestamp(&self) -> String {
        DateTime::<Utc>::from_timestamp(self.at, 0)
            .unwrap_or_default()
            .to_rfc3339_opts(SecondsFormat::Secs, true)
    }
}

/// Why a call to a CRM failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The CRM is down, slow, rate-limiting or refused the token: try again later.
    Retry(String),
    /// The CRM refused the request itself: trying again would not help.
    Permanent(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Retry(e) | Failure::Permanent(e) => f.write_str(e),
        }
    }
}

/// What the CRM says of a lead's record: its own stage, and its deals' stages and statuses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stages {
    /// The contact's lifecycle stage (HubSpot), lowercased.
    pub own: Option<String>,
    /// The deals' stages (names or internal ids) and statuses (`won`, `lost`), lowercased.
    pub deals: Vec<String>,
}

/// A CRM's REST API: the base URL, the token, and one HTTP client.
#[derive(Debug, Clone)]
pub struct Api {
    client: reqwest::Client,
    base: String,
    token: Secret,
}

/// How long one call may take.
const TIMEOUT: Duration = Duration::from_secs(20);

impl Api {
    /// An API at `settings.base_url` with the token read now from its secret.
    pub fn new(settings: &CrmSettings, config_dir: &std::path::Path) -> Result<Api, String> {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let token = settings
            .token
            .resolve(config_dir)
            .map_err(|e| format!("token: {e}"))?;
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(TIMEOUT)
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("drumbeat/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot make an HTTP client: {e}"))?;
        Ok(Api {
            client,
            base: settings.base_url.clone(),
            token,
        })
    }

    /// Sends `method path` with `body` (JSON) and the token in `auth` (a header name and
    /// value made from the token); returns the JSON answer, or why it failed (never the
    /// answer's body, the token or the query).
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        auth: (&str, String),
    ) -> Result<Value, Failure> {
        let what = format!("{method} {}", path.split('?').next().unwrap_or(path));
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.base))
            .header(auth.0, auth.1)
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| Failure::Retry(format!("{what}: {}", describe(e))))?;
        let status = resp.status();
        if status.is_success() {
            return resp.json::<Value>().await.map_err(|e| {
                Failure::Retry(format!("{what}: unreadable answer: {}", describe(e)))
            });
        }
        let why = format!("{what}: HTTP {status}");
        Err(match status.as_u16() {
            401 | 403 => Failure::Retry(format!(
                "{why} (is the token right and allowed to do this?)"
            )),
            408 | 425 | 429 => Failure::Retry(why),
            s if s >= 500 => Failure::Retry(why),
            _ => Failure::Permanent(why),
        })
    }

    /// The token, for the one header that carries it.
    fn token(&self) -> &str {
        self.token.expose()
    }
}

/// A string or number field of a JSON answer as text (CRM ids come as either).
fn id_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// One configured CRM's client.
#[derive(Debug, Clone)]
pub enum Client {
    /// HubSpot's CRM v3 API.
    Hubspot(hubspot::Hubspot),
    /// Pipedrive's API v1.
    Pipedrive(pipedrive::Pipedrive),
}

impl Client {
    /// The lead's record: found by address, updated with the lead's fields, or made.
    pub async fn find_or_create(&self, e: &Entry) -> Result<String, Failure> {
        match self {
            Client::Hubspot(c) => c.find_or_create(e).await,
            Client::Pipedrive(c) => c.find_or_create(e).await,
        }
    }

    /// Logs the email on the record `remote`; returns the id of what was made.
    pub async fn log(&self, remote: &str, e: &Entry) -> Result<String, Failure> {
        match self {
            Client::Hubspot(c) => c.log(remote, e).await,
            Client::Pipedrive(c) => c.log(remote, e).await,
        }
    }

    /// The stages of the record `remote`.
    pub async fn stages(&self, remote: &str) -> Result<Stages, Failure> {
        match self {
            Client::Hubspot(c) => c.stages(remote).await,
            Client::Pipedrive(c) => c.stages(remote).await,
        }
    }
}

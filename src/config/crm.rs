//! `[crm.hubspot]` and `[crm.pipedrive]`: the CRMs drumbeat keeps in step through their REST
//! APIs (the contact or person, each sent email and reply logged on it, and the stage that
//! stops a lead). Each has a private-app or API token read from a secret.

use serde::Deserialize;
use toml::Spanned;

use super::SecretSource;
use super::problems::Problems;
use super::sending::parse_duration;

/// HubSpot's public API.
pub const HUBSPOT_API: &str = "https://api.hubapi.com";

/// Every CRM's settings; a CRM without a table is not synced.
#[derive(Debug, Clone, Default)]
pub struct CrmConfig {
    /// `[crm.hubspot]`.
    pub hubspot: Option<CrmSettings>,
    /// `[crm.pipedrive]`.
    pub pipedrive: Option<CrmSettings>,
}

/// One CRM's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrmSettings {
    /// The private-app token (HubSpot) or API token (Pipedrive).
    pub token: SecretSource,
    /// The API's base URL, without a trailing slash.
    pub base_url: String,
    /// Stages that stop a lead: HubSpot lifecycle stages (internal names such as
    /// `salesqualifiedlead`), Pipedrive deal stage names or a deal status (`won`, `lost`).
    /// Compared without regard to case.
    pub stop_stages: Vec<String>,
    /// HubSpot deal stages (internal names such as `closedwon`) that stop a lead whose contact
    /// is on the deal.
    pub stop_deal_stages: Vec<String>,
    /// How often a lead's stage is read (seconds).
    pub poll_every: i64,
}

impl CrmSettings {
    /// Whether anything is polled.
    pub fn polls(&self) -> bool {
        !self.stop_stages.is_empty() || !self.stop_deal_stages.is_empty()
    }
}

/// `[crm]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCrm {
    hubspot: Option<RawHubspot>,
    pipedrive: Option<RawPipedrive>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHubspot {
    token: SecretSource,
    base_url: Option<Spanned<String>>,
    #[serde(default)]
    stop_stages: Vec<String>,
    #[serde(default)]
    stop_deal_stages: Vec<String>,
    poll_every: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPipedrive {
    token: SecretSource,
    base_url: Option<Spanned<String>>,
    company_domain: Option<Spanned<String>>,
    #[serde(default)]
    stop_stages: Vec<String>,
    poll_every: Option<Spanned<String>>,
}

/// A base URL as written: http(s), no trailing slash.
fn base_url(key: &str, v: Spanned<String>, problems: &mut Problems) -> String {
    let (span, url) = (v.span(), v.into_inner());
    let url = url.trim().trim_end_matches('/').to_string();
    if !(url.starts_with("https://") || url.starts_with("http://"))
        || url.contains(char::is_whitespace)
    {
        problems.push((
            Some(span),
            format!("{key}: {url:?} is not an http(s) URL (e.g. \"https://api.hubapi.com\")"),
        ));
    }
    url
}

/// `poll_every`, at least a minute (15 minutes when absent).
fn poll_every(key: &str, v: Option<Spanned<String>>, problems: &mut Problems) -> i64 {
    let Some(v) = v else { return 15 * 60 };
    match parse_duration(v.get_ref()) {
        Ok(s) if s >= 60 => s,
        Ok(_) => {
            problems.push((Some(v.span()), format!("{key}: poll at most once a minute")));
            60
        }
        Err(e) => {
            problems.push((Some(v.span()), format!("{key}: {e}")));
            15 * 60
        }
    }
}

fn lower(v: Vec<String>) -> Vec<String> {
    v.into_iter().map(|s| s.trim().to_lowercase()).collect()
}

/// The typed settings, or what is wrong with them (each naming its key).
pub(super) fn resolve(raw: Option<RawCrm>) -> (CrmConfig, Problems) {
    let mut problems = Vec::new();
    let Some(raw) = raw else {
        return (CrmConfig::default(), problems);
    };
    let hubspot = raw.hubspot.map(|h| CrmSettings {
        token: h.token,
        base_url: h.base_url.map_or_else(
            || HUBSPOT_API.to_string(),
            |u| base_url("crm.hubspot.base_url", u, &mut problems),
        ),
        stop_stages: lower(h.stop_stages),
        stop_deal_stages: lower(h.stop_deal_stages),
        poll_every: poll_every("crm.hubspot.poll_every", h.poll_every, &mut problems),
    });
    let pipedrive = raw.pipedrive.map(|p| {
        let base = match (p.base_url, p.company_domain) {
            (Some(u), None) => base_url("crm.pipedrive.base_url", u, &mut problems),
            (None, Some(d)) => {
                let (span, d) = (d.span(), d.into_inner());
                if d.is_empty() || !d.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                    problems.push((
                        Some(span),
                        format!("crm.pipedrive.company_domain: {d:?} is not a company domain (the COMPANY of COMPANY.pipedrive.com)"),
                    ));
                }
                format!("https://{d}.pipedrive.com")
            }
            (Some(u), Some(_)) => {
                problems.push((
                    Some(u.span()),
                    "crm.pipedrive: give base_url or company_domain, not both".into(),
                ));
                String::new()
            }
            (None, None) => {
                problems.push((
                    None,
                    "crm.pipedrive: company_domain is missing (the COMPANY of COMPANY.pipedrive.com), or give base_url".into(),
                ));
                String::new()
            }
        };
        CrmSettings {
            token: p.token,
            base_url: base,
            stop_stages: lower(p.stop_stages),
            stop_deal_stages: Vec::new(),
            poll_every: poll_every("crm.pipedrive.poll_every", p.poll_every, &mut problems),
        }
    });
    (CrmConfig { hubspot, pipedrive }, problems)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::{Config, SecretSource};

    fn parse(text: &str) -> Result<Config, Vec<String>> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        Config::parse(text, "config.toml", &dir.join("config.toml"), dir)
            .map_err(|ds| ds.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn crm_tables_are_typed_with_defaults() {
        let c = parse(
            "[crm.hubspot]\ntoken = { file = \"hubspot.token\" }\nstop_stages = [\"Customer\"]\n",
        )
        .expect("config");
        let h = c.crm.hubspot.expect("hubspot");
        assert_eq!(h.token, SecretSource::File("hubspot.token".into()));
        assert_eq!(h.base_url, "https://api.hubapi.com");
        assert_eq!(h.stop_stages, ["customer"]);
        assert_eq!(h.poll_every, 900);
        let c = parse(
            "[crm.pipedrive]\ntoken = { env = \"PD\" }\ncompany_domain = \"acme\"\npoll_every = \"5 minutes\"\n",
        )
        .expect("config");
        let p = c.crm.pipedrive.expect("pipedrive");
        assert_eq!(p.base_url, "https://acme.pipedrive.com");
        assert_eq!(p.poll_every, 300);
    }

    #[test]
    fn bad_crm_settings_name_their_key_and_line() {
        let bad = parse("[crm.hubspot]\ntoken = { env = \"T\" }\nbase_url = \"api.hubapi.com\"\n")
            .unwrap_err();
        assert!(
            bad[0].starts_with("config.toml:3:12: crm.hubspot.base_url: "),
            "{bad:?}"
        );
        let bad =
            parse("[crm.hubspot]\ntoken = { env = \"T\" }\npoll_every = \"10 s\"\n").unwrap_err();
        assert!(bad[0].contains("crm.hubspot.poll_every"), "{bad:?}");
        let bad = parse("[crm.pipedrive]\ntoken = { env = \"T\" }\n").unwrap_err();
        assert!(bad[0].contains("company_domain is missing"), "{bad:?}");
        let bad = parse("[crm.hubspot]\ntokn = { env = \"T\" }\n").unwrap_err();
        assert!(bad[0].starts_with("config.toml:2:1:"), "{bad:?}");
    }
}

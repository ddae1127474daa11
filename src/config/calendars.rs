//! `[calendars.*]`: the scheduling tools whose webhooks say a lead booked a meeting (Cal.com,
//! Calendly), each with the secret that proves a request comes from it.

use serde::Deserialize;

use super::SecretSource;

/// Every scheduling tool's webhook settings; one without a table gets 404 at its path.
#[derive(Debug, Clone, Default)]
pub struct CalendarsConfig {
    /// `[calendars.calcom]`.
    pub calcom: Option<CalcomConfig>,
    /// `[calendars.calendly]`.
    pub calendly: Option<CalendlyConfig>,
}

/// Cal.com: the webhook's secret (`X-Cal-Signature-256`, hex HMAC-SHA256 of the body).
#[derive(Debug, Clone)]
pub struct CalcomConfig {
    /// The secret typed into the webhook's settings in Cal.com.
    pub secret: SecretSource,
}

/// Calendly: the webhook subscription's signing key (`Calendly-Webhook-Signature`).
#[derive(Debug, Clone)]
pub struct CalendlyConfig {
    /// The `signing_key` given when the webhook subscription was created.
    pub signing_key: SecretSource,
}

/// `[calendars]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCalendars {
    calcom: Option<RawCalcom>,
    calendly: Option<RawCalendly>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCalcom {
    secret: SecretSource,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCalendly {
    signing_key: SecretSource,
}

/// The typed settings (nothing more to check: the secrets are read when needed).
pub(super) fn resolve(raw: Option<RawCalendars>) -> CalendarsConfig {
    let Some(raw) = raw else {
        return CalendarsConfig::default();
    };
    CalendarsConfig {
        calcom: raw.calcom.map(|c| CalcomConfig { secret: c.secret }),
        calendly: raw.calendly.map(|c| CalendlyConfig {
            signing_key: c.signing_key,
        }),
    }
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
    fn calendar_tables_are_typed_and_unknown_keys_name_the_line() {
        let c = parse("[calendars.calcom]\nsecret = { env = \"CAL_SECRET\" }\n").expect("config");
        let cal = c.calendars.calcom.expect("calcom");
        assert_eq!(cal.secret, SecretSource::Env("CAL_SECRET".into()));
        assert!(c.calendars.calendly.is_none());
        let c = parse("[calendars.calendly]\nsigning_key = { file = \"k\" }\n").expect("config");
        assert!(c.calendars.calendly.is_some());
        let bad = parse("[calendars.calendly]\nsecret = { env = \"X\" }\n").unwrap_err();
        assert!(bad[0].starts_with("config.toml:2:1:"), "{bad:?}");
        let bad = parse("[calendars.google]\nsecret = { env = \"X\" }\n").unwrap_err();
        assert!(bad[0].starts_with("config.toml:1:"), "{bad:?}");
    }
}

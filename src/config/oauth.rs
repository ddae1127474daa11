//! `[mailbox.oauth]`: OAuth2 for Gmail and Microsoft 365 without a helper. drumbeat keeps the
//! refresh token (a secret, usually a file written by `drumbeat auth MAILBOX`) and gets short-lived
//! access tokens itself for SMTP and IMAP XOAUTH2.

use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use super::SecretSource;
use super::problems::Report;

/// An OAuth2 provider whose endpoints and scopes drumbeat knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OAuthProvider {
    /// Google (Gmail, Google Workspace).
    Google,
    /// Microsoft (Microsoft 365, Outlook.com), through the Microsoft identity platform v2.0.
    Microsoft,
}

/// A mailbox's OAuth2 client and its refresh token, with the endpoints resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthSettings {
    /// The provider named, when one is (its quirks: Google's `access_type=offline`).
    pub provider: Option<OAuthProvider>,
    /// The token endpoint (refresh, device-code and authorization-code grants).
    pub token_url: String,
    /// The device authorization endpoint (RFC 8628), for `drumbeat auth --device`.
    pub device_url: Option<String>,
    /// The authorization endpoint (RFC 6749 §4.1), for `drumbeat auth --browser`.
    pub auth_url: Option<String>,
    /// The scopes asked for, space-separated.
    pub scope: String,
    /// The application's client id.
    pub client_id: String,
    /// The application's client secret, when it has one (Google's clients do).
    pub client_secret: Option<SecretSource>,
    /// Where the refresh token is kept.
    pub refresh_token: SecretSource,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOAuth {
    provider: Option<OAuthProvider>,
    tenant: Option<Spanned<String>>,
    token_url: Option<Spanned<String>>,
    device_url: Option<Spanned<String>>,
    auth_url: Option<Spanned<String>>,
    scope: Option<String>,
    client_id: Spanned<String>,
    client_secret: Option<SecretSource>,
    refresh_token: Option<SecretSource>,
}

const GOOGLE_TOKEN: &str = "https://oauth2.googleapis.com/token";
const GOOGLE_DEVICE: &str = "https://oauth2.googleapis.com/device/code";
const GOOGLE_AUTH: &str = "https://accounts.google.com/o/oauth2/v2/auth";
const GOOGLE_SCOPE: &str = "https://mail.google.com/";
const MICROSOFT_SCOPE: &str = "offline_access https://outlook.office.com/SMTP.Send https://outlook.office.com/IMAP.AccessAsUser.All";

/// Checks a mailbox's `[mailbox.oauth]`, adding its problems to `report`.
pub(super) fn resolve(
    name: &str,
    raw: Spanned<RawOAuth>,
    report: &mut Report,
) -> Option<OAuthSettings> {
    let at = raw.span();
    let raw = raw.into_inner();
    let mut err = |span: Range<usize>, field: &str, msg: String| {
        report.error(
            Some(span),
            format!("mailbox {name:?}: oauth.{field}: {msg}"),
        );
    };
    let client_id = raw.client_id.get_ref().trim().to_string();
    if client_id.is_empty() {
        err(raw.client_id.span(), "client_id", "is empty".into());
    }
    let known = known_endpoints(&raw, at.clone(), &mut err);
    let mut url = |field: &str, given: &Option<Spanned<String>>, default: Option<String>| match (
        given, default,
    ) {
        (Some(u), _) => check_url(u.get_ref())
            .map(|()| Some(u.get_ref().trim().to_string()))
            .map_err(|e| err(u.span(), field, e)),
        (None, d) => Ok(d),
    };
    let token_url = url(
        "token_url",
        &raw.token_url,
        known.as_ref().map(|k| k.0.clone()),
    );
    let device_url = url(
        "device_url",
        &raw.device_url,
        known.as_ref().map(|k| k.1.clone()),
    );
    let auth_url = url(
        "auth_url",
        &raw.auth_url,
        known.as_ref().map(|k| k.2.clone()),
    );
    let token_url = match token_url {
        Ok(Some(u)) => Some(u),
        Ok(None) => {
            let msg = "is missing: set provider = \"google\" or \"microsoft\", or give token_url and auth_url or device_url";
            err(at.clone(), "token_url", msg.into());
            None
        }
        Err(()) => None,
    };
    if matches!((&device_url, &auth_url), (Ok(None), Ok(None))) {
        let msg = "is missing: `drumbeat auth` needs auth_url (sign-in in a browser) or device_url (a code typed on another device)";
        err(at.clone(), "auth_url", msg.into());
    }
    let refresh_token = raw.refresh_token.or_else(|| {
        let msg = "is missing: name where the refresh token is kept, e.g. { file = \"secrets/NAME.refresh-token\" } (`drumbeat auth` writes it)";
        err(at.clone(), "refresh_token", msg.replace("NAME", name));
        None
    });
    let scope = raw
        .scope
        .filter(|s| !s.trim().is_empty())
        .or_else(|| known.as_ref().map(|k| k.3.to_string()))
        .unwrap_or_default();
    Some(OAuthSettings {
        provider: raw.provider,
        refresh_token: refresh_token?,
        token_url: token_url?,
        device_url: device_url.ok()?,
        auth_url: auth_url.ok()?,
        scope,
        client_id,
        client_secret: raw.client_secret,
    })
}

/// The token, device and authorization endpoints and the scopes of a known provider (Microsoft's in its
/// `tenant`, "common" by default).
fn known_endpoints(
    raw: &RawOAuth,
    at: Range<usize>,
    err: &mut impl FnMut(Range<usize>, &str, String),
) -> Option<(String, String, String, &'static str)> {
    if let (Some(t), Some(p)) = (&raw.tenant, raw.provider)
        && p != OAuthProvider::Microsoft
    {
        err(
            t.span(),
            "tenant",
            "only the microsoft provider has tenants".into(),
        );
    }
    let tenant = raw
        .tenant
        .as_ref()
        .map_or("common", |t| t.get_ref().as_str());
    let fine = |c: char| c.is_ascii_alphanumeric() || "-.".contains(c);
    if tenant.is_empty() || !tenant.chars().all(fine) {
        let span = raw.tenant.as_ref().map_or(at, Spanned::span);
        err(
            span,
            "tenant",
            format!("{tenant:?} is not a tenant id or domain"),
        );
    }
    raw.provider.map(|p| match p {
        OAuthProvider::Google => (
            GOOGLE_TOKEN.to_string(),
            GOOGLE_DEVICE.to_string(),
            GOOGLE_AUTH.to_string(),
            GOOGLE_SCOPE,
        ),
        OAuthProvider::Microsoft => {
            let base = format!("https://login.microsoftonline.com/{tenant}/oauth2/v2.0");
            (
                format!("{base}/token"),
                format!("{base}/devicecode"),
                format!("{base}/authorize"),
                MICROSOFT_SCOPE,
            )
        }
    })
}

/// An endpoint URL: https, or http on loopback only (a token must never cross a network in
/// the clear).
fn check_url(url: &str) -> Result<(), String> {
    let url = url.trim();
    if url.starts_with("https://") && url.len() > "https://".len() {
        return Ok(());
    }
    let loopback = [
        "http://127.0.0.1:",
        "http://127.0.0.1/",
        "http://localhost:",
        "http://localhost/",
        "http://[::1]:",
    ];
    if loopback.iter().any(|p| url.starts_with(p)) {
        return Ok(());
    }
    Err(format!(
        "{url:?} is not an https:// URL (plain http only on 127.0.0.1 or localhost)"
    ))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::Config;

    fn parse(oauth: &str) -> Result<Config, String> {
        let text = format!(
            "[[mailbox]]\nname = \"ana\"\nfrom = \"ana@example.com\"\n\
             [mailbox.smtp]\nhost = \"smtp.example.com\"\n\
             [mailbox.imap]\nhost = \"imap.example.com\"\n\
             [mailbox.oauth]\n{oauth}"
        );
        Config::parse(
            &text,
            "config.toml",
            Path::new("config.toml"),
            Path::new("/srv"),
        )
        .map_err(|ds| {
            ds.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        })
    }

    #[test]
    fn known_providers_fill_in_endpoints_and_scopes() {
        let c = parse(
            "provider = \"microsoft\"\nclient_id = \"abc\"\nrefresh_token = { file = \"rt\" }\n",
        )
        .unwrap();
        let o = c.mailboxes[0].oauth.as_ref().unwrap();
        assert_eq!(
            o.token_url,
            "https://login.microsoftonline.com/common/oauth2/v2.0/token"
        );
        assert_eq!(
            o.device_url.as_deref(),
            Some("https://login.microsoftonline.com/common/oauth2/v2.0/devicecode")
        );
        assert_eq!(
            o.auth_url.as_deref(),
            Some("https://login.microsoftonline.com/common/oauth2/v2.0/authorize")
        );
        assert!(o.scope.contains("offline_access") && o.scope.contains("IMAP.AccessAsUser.All"));
        let c = parse("provider = \"microsoft\"\ntenant = \"contoso.com\"\nclient_id = \"abc\"\nrefresh_token = { file = \"rt\" }\n").unwrap();
        assert!(
            c.mailboxes[0]
                .oauth
                .as_ref()
                .unwrap()
                .token_url
                .contains("/contoso.com/")
        );
        let c = parse("provider = \"google\"\nclient_id = \"abc\"\nclient_secret = { env = \"S\" }\nrefresh_token = { file = \"rt\" }\n").unwrap();
        let o = c.mailboxes[0].oauth.as_ref().unwrap();
        assert_eq!(o.token_url, "https://oauth2.googleapis.com/token");
        assert_eq!(o.scope, "https://mail.google.com/");
        assert_eq!(
            o.auth_url.as_deref(),
            Some("https://accounts.google.com/o/oauth2/v2/auth")
        );
        // Another provider: the token endpoint and one way to sign in.
        let c = parse("token_url = \"https://id.example/token\"\nauth_url = \"https://id.example/auth\"\nclient_id = \"abc\"\nrefresh_token = { file = \"rt\" }\n").unwrap();
        let o = c.mailboxes[0].oauth.as_ref().unwrap();
        assert_eq!((o.device_url.as_deref(), o.provider), (None, None));
        let e = parse("token_url = \"https://id.example/token\"\nclient_id = \"abc\"\nrefresh_token = { file = \"rt\" }\n").unwrap_err();
        assert!(e.contains("oauth.auth_url: is missing"), "{e}");
    }

    #[test]
    fn bad_oauth_settings_name_the_field_and_line() {
        let e = parse("client_id = \"abc\"\nrefresh_token = { file = \"rt\" }\n").unwrap_err();
        assert!(e.contains("oauth.token_url: is missing"), "{e}");
        let e = parse("token_url = \"http://auth.example.com/token\"\ndevice_url = \"https://x/d\"\nclient_id = \"abc\"\nrefresh_token = { file = \"rt\" }\n").unwrap_err();
        assert!(
            e.contains("config.toml:9:") && e.contains("oauth.token_url") && e.contains("https"),
            "{e}"
        );
        let e =
            parse("provider = \"yahoo\"\nclient_id = \"abc\"\nrefresh_token = { file = \"rt\" }\n")
                .unwrap_err();
        assert!(e.contains("yahoo") && e.contains("google"), "{e}");
        let e =
            parse("provider = \"google\"\nclient_id = \" \"\nrefresh_token = { file = \"rt\" }\n")
                .unwrap_err();
        assert!(e.contains("oauth.client_id: is empty"), "{e}");
        let e = parse("provider = \"google\"\nclient_id = \"abc\"\n").unwrap_err();
        assert!(e.contains("refresh_token"), "{e}");
        let e = parse("provider = \"google\"\ntenant = \"x\"\nclient_id = \"abc\"\nrefresh_token = { file = \"rt\" }\n").unwrap_err();
        assert!(e.contains("oauth.tenant"), "{e}");
    }

    #[test]
    fn a_password_beside_oauth_is_refused_and_imap_needs_none() {
        let c = parse(
            "provider = \"google\"\nclient_id = \"abc\"\nrefresh_token = { file = \"rt\" }\n",
        )
        .unwrap();
        assert!(c.mailboxes[0].imap.is_some());
        let text = "[[mailbox]]\nname = \"ana\"\nfrom = \"ana@example.com\"\n\
             [mailbox.smtp]\nhost = \"smtp.example.com\"\npassword = { env = \"P\" }\n\
             [mailbox.oauth]\nprovider = \"google\"\nclient_id = \"abc\"\nrefresh_token = { file = \"rt\" }\n";
        let e = Config::parse(
            text,
            "config.toml",
            Path::new("config.toml"),
            Path::new("/srv"),
        )
        .unwrap_err()
        .iter()
        .map(|d| d.to_string())
        .collect::<String>();
        assert!(
            e.contains("smtp.password") && e.contains("[mailbox.oauth]"),
            "{e}"
        );
    }
}

//! Free and disposable mail providers, so a lead at `gmail.com` is not taken for an account
//! called "gmail.com".
//!
//! The list is vendored from the npm package `free-email-domains` (HubSpot's list of free
//! providers plus public disposable-domain lists); `free_email_domains.txt` names the version.

use std::collections::HashSet;
use std::sync::LazyLock;

/// The vendored list: one domain a line, `#` starts a comment line.
const LIST: &str = include_str!("free_email_domains.txt");

static DOMAINS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    LIST.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect()
});

/// Whether `domain` belongs to a free or disposable mail provider.
///
/// Matches the exact domain only, ignoring ASCII case: `gmail.com` matches, `corp.gmail.com`
/// does not (a subdomain of a provider is someone's own).
pub fn is_free_mail_domain(domain: &str) -> bool {
    if domain.bytes().any(|b| b.is_ascii_uppercase()) {
        DOMAINS.contains(domain.to_ascii_lowercase().as_str())
    } else {
        DOMAINS.contains(domain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_providers_are_free_mail() {
        for domain in [
            "gmail.com",
            "googlemail.com",
            "outlook.com",
            "hotmail.com",
            "yahoo.com",
            "icloud.com",
            "proton.me",
            "gmx.de",
            "web.de",
            "mail.ru",
            "qq.com",
        ] {
            assert!(is_free_mail_domain(domain), "{domain} should be free mail");
        }
    }

    #[test]
    fn company_domains_are_not_free_mail() {
        for domain in ["acme.com", "stripe.com", "example.org", "siemens.de"] {
            assert!(!is_free_mail_domain(domain), "{domain} is a company domain");
        }
    }

    #[test]
    fn subdomains_of_providers_do_not_match() {
        assert!(!is_free_mail_domain("corp.gmail.com"));
        assert!(!is_free_mail_domain("mail.yahoo.com.evil.example"));
    }

    #[test]
    fn lookup_ignores_ascii_case() {
        assert!(is_free_mail_domain("GMail.COM"));
    }

    #[test]
    fn vendored_list_is_loaded_without_comments_or_blanks() {
        assert!(
            DOMAINS.len() > 10_000,
            "only {} domains loaded",
            DOMAINS.len()
        );
        assert!(DOMAINS.iter().all(|d| !d.is_empty() && !d.starts_with('#')));
        assert!(
            DOMAINS
                .iter()
                .all(|d| *d == d.to_ascii_lowercase() && !d.contains(' '))
        );
    }
}

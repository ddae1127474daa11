//! Disposable (throwaway) mail domains: a lead at one gives an address nobody will read for
//! long. The list is vendored from the disposable-email-domains project (CC0 1.0);
//! `disposable_email_domains.txt` says which copy and how to refresh it.

use std::collections::HashSet;
use std::sync::LazyLock;

/// The vendored list: one domain a line, `#` starts a comment line.
const LIST: &str = include_str!("disposable_email_domains.txt");

static DOMAINS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    LIST.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect()
});

/// Whether `domain` (any letter case, a trailing dot allowed) is a disposable mail domain or
/// a subdomain of one (`x.mailinator.com` counts as `mailinator.com`).
pub fn disposable(domain: &str) -> bool {
    let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    let mut rest = domain.as_str();
    loop {
        if DOMAINS.contains(rest) {
            return true;
        }
        match rest.split_once('.') {
            Some((_, parent)) if parent.contains('.') => rest = parent,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_throwaway_domains_and_their_subdomains_are_disposable() {
        assert!(DOMAINS.len() > 5_000, "the list holds {}", DOMAINS.len());
        assert!(disposable("mailinator.com"));
        assert!(disposable("Mailinator.COM."));
        assert!(disposable("eu.mailinator.com"));
        assert!(disposable("guerrillamail.com"));
    }

    #[test]
    fn ordinary_domains_and_bare_suffixes_are_not() {
        assert!(!disposable("example.com"));
        assert!(!disposable("gmail.com"));
        assert!(!disposable("com"));
        assert!(!disposable(""));
    }
}

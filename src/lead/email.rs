//! A lead's email address, parsed once at the edge and normalized so two spellings of the same
//! address compare equal.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use email_address::EmailAddress;

use super::freemail::is_free_mail_domain;

/// Longest address we accept, in bytes (RFC 5321's path limit less the angle brackets).
const MAX_LEN: usize = 254;
/// Longest local part (before `@`) RFC 5321 allows, in bytes.
const MAX_LOCAL_LEN: usize = 64;
/// How much of a rejected input an error message quotes.
const QUOTE_LIMIT: usize = 80;

/// A valid, normalized email address.
///
/// It can only be built by [`Email::parse`], so holding one means the address is syntactically
/// deliverable: one `@`, a dotted domain name (no IP address), no spaces, at most 254 bytes,
/// and lowercase throughout. Parsing accepts what spreadsheets hold (`mailto:` links,
/// `Jane Doe <jane@acme.com>`, stray spaces and invisible characters) and keeps only the address.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Email(String);

/// Why a text is not an email address. Messages quote the input and say what is missing, so a
/// rep can fix the cell.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    /// The text is empty or only whitespace.
    #[error("email is empty")]
    Empty,
    /// The text is not an address; `input` is what was given (shortened when long).
    #[error("\"{input}\" is not a valid email address ({problem})")]
    Invalid {
        /// The text as given, trimmed and shortened to 80 characters.
        input: String,
        /// What is wrong with it.
        problem: EmailProblem,
    },
}

/// The specific defect of a rejected address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailProblem {
    /// No `@` at all.
    #[error("missing \"@\"")]
    MissingAt,
    /// More than one `@`, often two addresses in one cell.
    #[error("more than one \"@\"; put one address per row")]
    SeveralAt,
    /// Nothing before the `@`.
    #[error("missing the name before \"@\"")]
    MissingLocalPart,
    /// Nothing after the `@`.
    #[error("missing domain")]
    MissingDomain,
    /// A domain such as `localhost` that cannot receive mail from the internet.
    #[error("domain \"{0}\" has no dot")]
    DomainWithoutDot(String),
    /// An IP address where a domain name belongs.
    #[error("an IP address instead of a domain name")]
    IpAddress,
    /// A domain with characters or a shape that no registered domain has.
    #[error("domain \"{0}\" is not a valid domain name")]
    InvalidDomain(String),
    /// A space inside the address.
    #[error("contains a space")]
    Space,
    /// Longer than an address may be.
    #[error("{0} characters long; the limit is 254")]
    TooLong(usize),
    /// The part before `@` is longer than 64 bytes.
    #[error("the name before \"@\" is longer than 64 characters")]
    LocalPartTooLong,
    /// A character that may not appear in an address.
    #[error("contains {0:?}, which is not allowed in an address")]
    InvalidCharacter(char),
    /// Angle brackets left over around or inside the address.
    #[error("stray \"<\" or \">\"")]
    Unbalanced,
    /// A dot first, last or doubled in the name before `@`.
    #[error("a dot at the start or end of the name before \"@\", or two dots in a row")]
    MisplacedDot,
    /// Any other violation of the address grammar.
    #[error("not an address")]
    Malformed,
}

impl Email {
    /// Parses and normalizes an address as a rep would type or paste it.
    ///
    /// Trims whitespace (including no-break and zero-width spaces), drops a leading `mailto:`,
    /// takes the address out of `Name <addr>` or `<addr>`, and lowercases the result. Parsing
    /// the normalized form again yields the same `Email`.
    pub fn parse(input: &str) -> Result<Email, EmailError> {
        let shown = trim(input);
        if shown.is_empty() {
            return Err(EmailError::Empty);
        }
        let normalized = normalize(shown);
        validate(&normalized).map_err(|problem| EmailError::Invalid {
            input: quote(shown),
            problem,
        })?;
        Ok(Email(normalized))
    }

    /// The whole address, e.g. `jane@acme.com`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part before the `@`.
    pub fn local(&self) -> &str {
        self.split().0
    }

    /// The part after the `@`.
    pub fn domain(&self) -> &str {
        self.split().1
    }

    /// The domain when it names the lead's organization; `None` for free-mail providers such as
    /// `gmail.com`, whose domain says nothing about the account.
    pub fn account_domain(&self) -> Option<&str> {
        let domain = self.domain();
        (!is_free_mail_domain(domain)).then_some(domain)
    }

    fn split(&self) -> (&str, &str) {
        self.0
            .rsplit_once('@')
            .expect("a parsed Email always contains '@'")
    }
}

impl FromStr for Email {
    type Err = EmailError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Email::parse(s)
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Email {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl serde::Serialize for Email {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Email {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Email::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Characters that render as nothing and creep in through copy and paste.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}'
    )
}

/// Trims whitespace (Unicode's, so including no-break spaces) and invisible characters.
pub(crate) fn trim(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_whitespace() || is_invisible(c))
}

fn strip_mailto(mut s: &str) -> &str {
    const PREFIX: &str = "mailto:";
    while s.len() >= PREFIX.len()
        && s.is_char_boundary(PREFIX.len())
        && s[..PREFIX.len()].eq_ignore_ascii_case(PREFIX)
    {
        s = trim(&s[PREFIX.len()..]);
    }
    s
}

fn normalize(s: &str) -> String {
    let mut s = strip_mailto(s);
    if let (Some(open), true) = (s.rfind('<'), s.ends_with('>')) {
        s = strip_mailto(trim(&s[open + 1..s.len() - 1]));
    }
    // Nearly every address is ASCII, which has no invisible characters and lowercases byte by
    // byte; `char::to_lowercase` would build the String one char at a time.
    if s.is_ascii() {
        return s.to_ascii_lowercase();
    }
    s.chars()
        .filter(|c| !is_invisible(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

fn validate(s: &str) -> Result<(), EmailProblem> {
    if s.len() > MAX_LEN {
        return Err(EmailProblem::TooLong(s.chars().count()));
    }
    if s.contains(['<', '>']) {
        return Err(EmailProblem::Unbalanced);
    }
    let (local, domain) = s.rsplit_once('@').ok_or(EmailProblem::MissingAt)?;
    if local.contains('@') {
        return Err(EmailProblem::SeveralAt);
    }
    if s.chars().any(char::is_whitespace) {
        return Err(EmailProblem::Space);
    }
    if local.is_empty() {
        return Err(EmailProblem::MissingLocalPart);
    }
    if domain.is_empty() {
        return Err(EmailProblem::MissingDomain);
    }
    if local.len() > MAX_LOCAL_LEN {
        return Err(EmailProblem::LocalPartTooLong);
    }
    if let Some(c) = local.chars().find(|c| !is_local_char(*c)) {
        return Err(EmailProblem::InvalidCharacter(c));
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err(EmailProblem::MisplacedDot);
    }
    validate_domain(domain)?;
    let options = email_address::Options::default()
        .without_display_text()
        .without_domain_literal()
        .with_required_tld();
    EmailAddress::parse_with_options(s, options)
        .map(|_| ())
        .map_err(|_| EmailProblem::Malformed)
}

/// Domains must be dotted host names: letters (any script), digits and inner hyphens.
fn validate_domain(domain: &str) -> Result<(), EmailProblem> {
    let invalid = || EmailProblem::InvalidDomain(domain.to_owned());
    // An IP address starts with a digit (v4) or holds a colon (v6); others need no parsing.
    let maybe_ip = domain.starts_with(|c: char| c.is_ascii_digit()) || domain.contains(':');
    if domain.starts_with('[') || (maybe_ip && domain.parse::<IpAddr>().is_ok()) {
        return Err(EmailProblem::IpAddress);
    }
    if !domain.contains('.') {
        return Err(EmailProblem::DomainWithoutDot(domain.to_owned()));
    }
    let labels_ok = domain.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_alphanumeric() || c == '-')
    });
    let tld = domain.rsplit('.').next().unwrap_or_default();
    if !labels_ok || tld.chars().count() < 2 || tld.chars().all(|c| c.is_ascii_digit()) {
        return Err(
            if domain
                .split('.')
                .all(|l| l.chars().all(|c| c.is_ascii_digit()))
            {
                EmailProblem::IpAddress
            } else {
                invalid()
            },
        );
    }
    Ok(())
}

/// Characters RFC 5322 allows unquoted before the `@` (plus UTF-8 letters, RFC 6531).
fn is_local_char(c: char) -> bool {
    c.is_alphanumeric()
        || matches!(
            c,
            '.' | '!'
                | '#'
                | '$'
                | '%'
                | '&'
                | '\''
                | '*'
                | '+'
                | '-'
                | '/'
                | '='
                | '?'
                | '^'
                | '_'
                | '`'
                | '{'
                | '|'
                | '}'
                | '~'
        )
}

/// The input as an error message shows it: at most [`QUOTE_LIMIT`] characters.
fn quote(s: &str) -> String {
    match s.char_indices().nth(QUOTE_LIMIT) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ok(s: &str) -> String {
        match Email::parse(s) {
            Ok(email) => email.as_str().to_owned(),
            Err(err) => panic!("{s:?} should parse: {err}"),
        }
    }

    fn err(s: &str) -> String {
        match Email::parse(s) {
            Ok(email) => panic!("{s:?} should be rejected, got {email}"),
            Err(err) => err.to_string(),
        }
    }

    #[test]
    fn plain_address_is_lowercased() {
        assert_eq!(ok("Jane.Doe@ACME.com"), "jane.doe@acme.com");
    }

    #[test]
    fn whitespace_nbsp_and_zero_width_characters_are_trimmed() {
        assert_eq!(ok("  jane@acme.com\t"), "jane@acme.com");
        assert_eq!(ok("\u{a0}jane@acme.com\u{200b}"), "jane@acme.com");
        assert_eq!(ok("\u{feff}jane@acme.com"), "jane@acme.com");
    }

    #[test]
    fn mailto_prefix_is_stripped() {
        assert_eq!(ok("mailto:jane@acme.com"), "jane@acme.com");
        assert_eq!(ok("MAILTO: jane@acme.com"), "jane@acme.com");
    }

    #[test]
    fn display_name_forms_yield_the_address() {
        assert_eq!(ok("Jane Doe <Jane@Acme.com>"), "jane@acme.com");
        assert_eq!(ok("\"Doe, Jane\" <jane@acme.com>"), "jane@acme.com");
        assert_eq!(ok("<jane@acme.com>"), "jane@acme.com");
        assert_eq!(ok("<mailto:jane@acme.com>"), "jane@acme.com");
    }

    #[test]
    fn parts_are_split_at_the_at_sign() {
        let email = Email::parse("o'brien+leads@mail.acme.co.uk").unwrap();
        assert_eq!(email.local(), "o'brien+leads");
        assert_eq!(email.domain(), "mail.acme.co.uk");
        assert_eq!(email.to_string(), "o'brien+leads@mail.acme.co.uk");
        assert_eq!(email.as_ref(), "o'brien+leads@mail.acme.co.uk");
    }

    #[test]
    fn international_addresses_are_accepted() {
        assert_eq!(ok("Jürgen@Müller.de"), "jürgen@müller.de");
        assert_eq!(ok("info@xn--mller-kva.de"), "info@xn--mller-kva.de");
    }

    #[test]
    fn missing_domain_is_explained() {
        assert_eq!(
            err("jane@"),
            r#""jane@" is not a valid email address (missing domain)"#
        );
    }

    #[test]
    fn empty_input_is_empty_error() {
        assert_eq!(Email::parse("  \u{a0} "), Err(EmailError::Empty));
        assert_eq!(err(""), "email is empty");
    }

    #[test]
    fn each_defect_has_its_own_message() {
        assert!(err("jane.acme.com").ends_with("(missing \"@\")"));
        assert!(err("@acme.com").ends_with("(missing the name before \"@\")"));
        assert!(err("jane@localhost").ends_with("(domain \"localhost\" has no dot)"));
        assert!(err("jane@[10.0.0.1]").ends_with("(an IP address instead of a domain name)"));
        assert!(err("jane@10.0.0.1").ends_with("(an IP address instead of a domain name)"));
        assert!(err("jane doe@acme.com").ends_with("(contains a space)"));
        assert!(err("jane@acme.com, bob@acme.com").contains("put one address per row"));
        assert!(err("jane@bob@acme.com").contains("more than one \"@\""));
        assert!(err("jane@acme..com").contains("is not a valid domain name"));
        assert!(err("jane@-acme.com").contains("is not a valid domain name"));
        assert!(err("jane@acme.c").contains("is not a valid domain name"));
        assert!(err("jane@acme_corp.com").contains("is not a valid domain name"));
        assert!(err("ja(ne@acme.com").contains("contains '('"));
        assert!(err("\"jane\"@acme.com").contains("contains '\"'"));
        assert!(err("Jane <jane@acme.com").contains("stray"));
        assert!(err(".jane@acme.com").contains("two dots in a row"));
        assert!(err("ja..ne@acme.com").contains("two dots in a row"));
    }

    #[test]
    fn over_long_addresses_are_rejected() {
        let long = format!("{}@{}.com", "a".repeat(60), "b".repeat(200));
        assert!(err(&long).contains("the limit is 254"));
        let local = format!("{}@acme.com", "a".repeat(65));
        assert!(err(&local).contains("longer than 64"));
    }

    #[test]
    fn long_inputs_are_shortened_in_messages() {
        let message = err(&"x".repeat(500));
        assert!(message.len() < 200, "{message}");
        assert!(message.contains('…'));
    }

    #[test]
    fn account_domain_skips_free_mail() {
        assert_eq!(
            Email::parse("jane@acme.com").unwrap().account_domain(),
            Some("acme.com")
        );
        assert_eq!(
            Email::parse("jane@gmail.com").unwrap().account_domain(),
            None
        );
        assert_eq!(Email::parse("jane@GMX.de").unwrap().account_domain(), None);
    }

    #[test]
    fn serde_round_trips_as_a_string_and_validates_on_the_way_in() {
        let email = Email::parse("Jane@Acme.com").unwrap();
        let json = serde_json::to_string(&email).unwrap();
        assert_eq!(json, r#""jane@acme.com""#);
        let back: Email = serde_json::from_str(&json).unwrap();
        assert_eq!(back, email);
        let bad = serde_json::from_str::<Email>(r#""jane@""#).unwrap_err();
        assert!(bad.to_string().contains("missing domain"), "{bad}");
    }

    #[test]
    fn from_str_matches_parse() {
        assert_eq!(
            "Jane@Acme.com".parse::<Email>(),
            Email::parse("jane@acme.com")
        );
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in any::<String>()) {
            let _ = Email::parse(&s);
        }

        #[test]
        fn parse_is_idempotent(s in any::<String>()) {
            if let Ok(email) = Email::parse(&s) {
                prop_assert_eq!(Email::parse(email.as_str()), Ok(email.clone()));
            }
        }

        #[test]
        fn parse_is_idempotent_on_address_shaped_text(
            s in "(mailto:)?[ \u{a0}]?([A-Za-zİß\"' ]{0,6} <)?[A-Za-z0-9._%+'İéß-]{1,12}@[A-Za-z0-9ÄÖ][A-Za-z0-9ÄÖ_-]{0,9}(\\.[a-zA-Z]{1,3}){1,2}>?[ \u{200b}]?"
        ) {
            if let Ok(email) = Email::parse(&s) {
                prop_assert_eq!(Email::parse(email.as_str()), Ok(email.clone()));
                prop_assert!(email.as_str().contains('@'));
            }
        }
    }
}

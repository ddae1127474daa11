//! The people a referral names: valid addresses in the reply's own text, with the name written
//! before them (`Jane Doe <jane@acme.com>`), never the sender's own, the rep's, a no-reply or a
//! role address (a shared inbox is not a person to write to).

use serde::Serialize;

use crate::lead::Email;

/// Someone a reply names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Referred {
    /// The address, normalized.
    pub email: String,
    /// The name written right before it (`Jane Doe <jane@acme.com>`, `Jane Doe
    /// (jane@acme.com)`), when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// At most this many people are taken from one reply.
const MAX_REFERRED: usize = 3;

/// Local parts that are machines or shared inboxes, not a person.
const ROLE_LOCALS: &[&str] = &[
    "noreply",
    "no-reply",
    "no_reply",
    "donotreply",
    "do-not-reply",
    "do_not_reply",
    "mailer-daemon",
    "postmaster",
    "hostmaster",
    "webmaster",
    "abuse",
    "bounce",
    "bounces",
    "unsubscribe",
    "privacy",
    "gdpr",
    "dpo",
    "info",
    "support",
    "help",
    "helpdesk",
    "service",
    "contact",
    "kontakt",
    "office",
    "hello",
    "admin",
    "team",
    "jobs",
    "careers",
    "notifications",
    "newsletter",
    "sales",
    "ops",
    "operations",
    "billing",
    "accounts",
    "finance",
    "hr",
    "legal",
    "it",
    "mail",
    "enquiries",
    "inquiries",
    "general",
    "reception",
    "accueil",
    "empfang",
    "recepcion",
    "recepcao",
    "receptie",
    "secretariat",
    "sekretariat",
];

/// The addresses `text` names (lowercased text, as the reader normalizes it), in order, each
/// once, without those in `exclude` and without role or no-reply addresses.
pub fn referred_addresses(text: &str, exclude: &[&str]) -> Vec<Referred> {
    let mut out: Vec<Referred> = Vec::new();
    let mut offset = 0;
    for token in text.split_inclusive(is_separator) {
        let start = offset;
        offset += token.len();
        let word = token
            .trim_end_matches(is_separator)
            .trim_start_matches("mailto:")
            .trim_matches(|c: char| matches!(c, '.' | ':' | '*' | '_' | '!' | '?'));
        if !word.contains('@') {
            continue;
        }
        let Ok(email) = Email::parse(word) else {
            continue;
        };
        let address = email.as_str();
        if exclude.iter().any(|x| x.eq_ignore_ascii_case(address))
            || is_role(&email)
            || out.iter().any(|r| r.email == address)
        {
            continue;
        }
        out.push(Referred {
            email: address.to_string(),
            name: name_before(text.get(..start).unwrap_or_default()),
        });
        if out.len() == MAX_REFERRED {
            break;
        }
    }
    out
}

fn is_separator(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '<' | '>' | '"' | '(' | ')' | ',' | ';' | '[' | ']' | '\''
        )
}

fn is_role(email: &Email) -> bool {
    let local = email.local();
    let base = local.split('+').next().unwrap_or(local);
    ROLE_LOCALS.contains(&base) || base.starts_with("noreply") || base.starts_with("no-reply")
}

/// The name right before an address: up to three words ending in `<` or `(` just before it,
/// with no punctuation among them ("talk to our CTO, Jane Doe <jane@acme.com>" → "Jane Doe").
/// The text is lowercase, so the name is given capitals again.
fn name_before(before: &str) -> Option<String> {
    let before = before.trim_end();
    let rest = before
        .strip_suffix('<')
        .or_else(|| before.strip_suffix('('))?
        .trim_end();
    let clause = rest
        .rsplit([',', ';', ':', '.', '!', '?', '\n'])
        .next()
        .unwrap_or_default();
    let words: Vec<&str> = clause.split_whitespace().collect();
    let words: Vec<&str> = words.iter().rev().take(3).rev().copied().collect();
    // "… contact jane doe <…>": drop leading function words.
    let words: Vec<&str> = words
        .into_iter()
        .skip_while(|w| STOP_WORDS.contains(w))
        .collect();
    if words.is_empty() || words.iter().any(|w| !w.chars().all(is_name_char)) {
        return None;
    }
    Some(
        words
            .iter()
            .map(|w| capitalize(w))
            .collect::<Vec<_>>()
            .join(" "),
    )
}

const STOP_WORDS: &[&str] = &[
    "successor",
    "replacement",
    "nachfolger",
    "nachfolgerin",
    "vertretung",
    "successeur",
    "remplaçant",
    "remplaçante",
    "sucesor",
    "sucessor",
    "opvolger",
    "vervanger",
    "to",
    "at",
    "is",
    "contact",
    "email",
    "our",
    "my",
    "the",
    "with",
    "please",
    "try",
    "cto",
    "ceo",
    "cfo",
    "coo",
    "vp",
    "head",
    "an",
    "a",
    "de",
    "la",
    "le",
    "el",
    "com",
    "met",
    "mit",
    "à",
    "para",
    "por",
    "y",
    "and",
    "und",
    "et",
    "e",
    "en",
    "meinen",
    "meine",
    "mon",
    "ma",
    "mi",
    "meu",
    "minha",
    "mijn",
    "colleague",
    "kollegen",
    "kollege",
    "kollegin",
    "collègue",
    "compañero",
    "compañera",
    "colega",
    "collega",
    "manager",
    "director",
    "herr",
    "frau",
    "mr",
    "ms",
    "mrs",
    "m",
    "mme",
    "sr",
    "sra",
    "dhr",
    "mevr",
];

fn is_name_char(c: char) -> bool {
    c.is_alphabetic() || c == '-' || c == '\''
}

fn capitalize(w: &str) -> String {
    let mut out = String::with_capacity(w.len());
    let mut up = true;
    for c in w.chars() {
        if up {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        up = c == '-' || c == '\'';
    }
    out
}

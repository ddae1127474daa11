//! What a person's reply means: interested, asking for a meeting, not interested, the wrong
//! person, or pointing at someone else (a referral, with the addresses it names). Read from the
//! lead's own new text only (the inbox has already cut quoted history and the signature), with
//! word lists in the languages the out-of-office detection knows (English, German, French,
//! Spanish, Portuguese, Dutch), and returned with the words that decided, so a rep can see why.
//!
//! Pure: no I/O, no panics on any input. The inbox calls [`read_reply`] for a human reply and
//! [`read_auto_reply`] for an automatic one (an out-of-office or "I have left" notice that
//! names a replacement); the policy decides what each intent does to the lead.

mod referral;
mod words;

use serde::Serialize;

pub use referral::{Referred, referred_addresses};

/// What a human reply says about the lead's interest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Intent {
    /// Wants to hear more.
    Interested,
    /// Asks for a call, a meeting or a demo (or accepts one).
    MeetingRequest,
    /// Says no.
    NotInterested,
    /// Is not the one to talk to (and names no one).
    WrongPerson,
    /// Names someone else to write to.
    Referral,
    /// Nothing in the text decides.
    Unclear,
}

impl Intent {
    /// The name used in events, reports and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Intent::Interested => "interested",
            Intent::MeetingRequest => "meeting-request",
            Intent::NotInterested => "not-interested",
            Intent::WrongPerson => "wrong-person",
            Intent::Referral => "referral",
            Intent::Unclear => "unclear",
        }
    }

    /// Every intent, in the order a report lists them.
    pub const ALL: [Intent; 6] = [
        Intent::Interested,
        Intent::MeetingRequest,
        Intent::NotInterested,
        Intent::WrongPerson,
        Intent::Referral,
        Intent::Unclear,
    ];

    /// The intent named `s` (as [`Intent::as_str`] writes it).
    pub fn parse(s: &str) -> Option<Intent> {
        Intent::ALL.into_iter().find(|i| i.as_str() == s)
    }
}

impl std::fmt::Display for Intent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The verdict on one message's text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reading {
    /// What it means.
    pub intent: Intent,
    /// The language of the words that decided (`en`, `de`, `fr`, `es`, `pt`, `nl`).
    #[serde(rename = "intent_language", skip_serializing_if = "Option::is_none")]
    pub language: Option<&'static str>,
    /// The words that decided, as listed (lowercase).
    #[serde(rename = "intent_words")]
    pub words: Vec<String>,
    /// A referral's addresses: never the sender's own, a no-reply or role address.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub referred: Vec<Referred>,
    /// The writer says they have left the company (or no longer hold the role).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub left: bool,
}

impl Reading {
    fn unclear() -> Reading {
        Reading {
            intent: Intent::Unclear,
            language: None,
            words: Vec::new(),
            referred: Vec::new(),
            left: false,
        }
    }
}

/// At most this much text is read (a reply's own text is far shorter).
const MAX_CHARS: usize = 8_000;

/// An automatic reply says what it has to say at the top; below may follow a copy of the
/// message it answers.
const AUTO_REPLY_CHARS: usize = 2_000;

/// Header names whose line starts a copy of a message's header (a bounce-like answer that
/// quotes the mail it got): nothing from there on is the writer's own text.
const HEADER_LINES: &[&str] = &[
    "received:",
    "return-path:",
    "message-id:",
    "from:",
    "to:",
    "cc:",
    "subject:",
    "date:",
    "reply-to:",
    "mime-version:",
    "content-type:",
    "delivered-to:",
];

/// The text before the first line that looks like a copied mail header, or a line of the
/// `---- … ----` kind that introduces an attached copy.
fn own_text(text: &str) -> &str {
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        let l = line.trim_start().to_ascii_lowercase();
        let dashes = l.starts_with("----") || l.starts_with("====");
        if dashes || HEADER_LINES.iter().any(|h| l.starts_with(h)) {
            return text.get(..at).unwrap_or(text);
        }
        at += line.len();
    }
    text
}

/// Reads a human reply's own text. `exclude` holds addresses that are never a referral: the
/// sender's own, and the rep's when known. Rules in order: a referral (someone named, with an
/// address, in referral wording), not interested, wrong person, a meeting request, interested;
/// else unclear.
pub fn read_reply(text: &str, exclude: &[&str]) -> Reading {
    let text = normalize(own_text(text));
    let left = first(&text, words::LEFT);
    if let Some(r) = referral(&text, exclude, left.is_some()) {
        return r;
    }
    let found = [
        (Intent::NotInterested, words::NOT_INTERESTED),
        (Intent::WrongPerson, words::WRONG_PERSON),
        (Intent::WrongPerson, words::LEFT),
        (Intent::MeetingRequest, words::MEETING),
        (Intent::Interested, words::INTERESTED),
    ]
    .into_iter()
    .find_map(|(intent, list)| {
        let guarded = matches!(intent, Intent::MeetingRequest | Intent::Interested);
        let hits = all(&text, list, guarded);
        (!hits.is_empty()).then_some((intent, hits))
    });
    match found {
        Some((intent, hits)) => Reading {
            intent,
            language: language(&hits),
            words: hits.into_iter().map(|(_, w)| w.to_string()).collect(),
            referred: Vec::new(),
            left: left.is_some(),
        },
        None => Reading::unclear(),
    }
}

/// Reads an automatic reply: a referral when it names a replacement ("in my absence please
/// contact …", "I have left; write to …"), wrong person when it only says the writer has left;
/// `None` for an ordinary out-of-office notice.
pub fn read_auto_reply(text: &str, exclude: &[&str]) -> Option<Reading> {
    let own = own_text(text);
    let head = own
        .char_indices()
        .nth(AUTO_REPLY_CHARS)
        .map_or(own, |(at, _)| own.get(..at).unwrap_or(own));
    let text = normalize(head);
    let left = first(&text, words::LEFT);
    if let Some(r) = referral(&text, exclude, left.is_some()) {
        return Some(r);
    }
    let (lang, phrase) = left?;
    Some(Reading {
        intent: Intent::WrongPerson,
        language: Some(lang),
        words: vec![phrase.to_string()],
        referred: Vec::new(),
        left: true,
    })
}

/// A referral: an address other than `exclude` (and not a role or no-reply address) in a text
/// with referral wording.
fn referral(text: &str, exclude: &[&str], left: bool) -> Option<Reading> {
    let referred = referred_addresses(text, exclude);
    if referred.is_empty() {
        return None;
    }
    let mut hits = all(text, words::REFERRAL, false);
    hits.extend(all(text, words::WRONG_PERSON, false));
    hits.extend(all(text, words::LEFT, false));
    let lang = language(&hits)?;
    let mut words: Vec<String> = Vec::new();
    for (_, w) in hits {
        if !words.iter().any(|x| x == w) {
            words.push(w.to_string());
        }
    }
    Some(Reading {
        intent: Intent::Referral,
        language: Some(lang),
        words,
        referred,
        left,
    })
}

/// The language of the longest phrase found (the most telling: "neem contact op met" is Dutch
/// although it holds the English "contact").
fn language(hits: &[(&'static str, &'static str)]) -> Option<&'static str> {
    hits.iter()
        .max_by_key(|(_, p)| p.chars().count())
        .map(|(lang, _)| *lang)
}

/// Lowercase, typographic apostrophes made plain, runs of white space (line ends included)
/// made one space; at most [`MAX_CHARS`].
fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_CHARS));
    let mut space = false;
    for c in text.chars().take(MAX_CHARS) {
        if c.is_whitespace() {
            space = true;
            continue;
        }
        if space && !out.is_empty() {
            out.push(' ');
        }
        space = false;
        match c {
            '\u{2018}' | '\u{2019}' | '\u{02bc}' | '`' => out.push('\''),
            '\u{00a0}' => out.push(' '),
            c => out.extend(c.to_lowercase()),
        }
    }
    out
}

/// The first phrase of `list` found in `text` as whole words.
fn first(
    text: &str,
    list: &[(&'static str, &'static str)],
) -> Option<(&'static str, &'static str)> {
    list.iter()
        .find(|(_, p)| find_words(text, p, false).is_some())
        .copied()
}

/// Every phrase of `list` found in `text` as whole words, in list order; with `guarded`, a
/// phrase right after a negation ("not", "nicht", "pas", "no", "não", "niet"…) does not count.
fn all(
    text: &str,
    list: &[(&'static str, &'static str)],
    guarded: bool,
) -> Vec<(&'static str, &'static str)> {
    list.iter()
        .filter(|(_, p)| find_words(text, p, guarded).is_some())
        .copied()
        .take(8)
        .collect()
}

/// Where `phrase` occurs in `text` with no letter or digit right before or after it (and, with
/// `guarded`, no negation among the three words before it).
fn find_words(text: &str, phrase: &str, guarded: bool) -> Option<usize> {
    if phrase.is_empty() {
        return None;
    }
    let mut from = 0;
    while let Some(at) = text.get(from..).and_then(|t| t.find(phrase)) {
        let start = from + at;
        let end = start + phrase.len();
        let before = text.get(..start).and_then(|t| t.chars().next_back());
        let after = text.get(end..).and_then(|t| t.chars().next());
        let bounded =
            !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric);
        if bounded && !(guarded && negated(text.get(..start).unwrap_or_default())) {
            return Some(start);
        }
        from = start + text.get(start..)?.chars().next()?.len_utf8();
    }
    None
}

/// Whether one of the last three words of `before`'s last clause negates what follows ("No,
/// let's talk" is no negation of "let's talk").
fn negated(before: &str) -> bool {
    let clause = before
        .rsplit(['.', ',', ';', ':', '!', '?', '-', '\u{2014}'])
        .next()
        .unwrap_or_default();
    clause
        .split(|c: char| !c.is_alphanumeric() && c != '\'')
        .filter(|w| !w.is_empty())
        .rev()
        .take(3)
        .any(|w| words::NEGATIONS.contains(&w) || w.ends_with("n't"))
}

#[cfg(test)]
mod tests;

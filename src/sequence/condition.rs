//! The condition language of a step's `when:` and `unless:`: tests of a lead's fields and of
//! the lead's engagement with the sequence's earlier emails, joined with `and`, `or`, `not`.
//!
//! ```text
//! lead.phone                         the field has a value
//! lead.title contains "founder"      case-insensitive
//! lead.country == "DE"               case-insensitive, trimmed (!= for the opposite)
//! lead.title matches "^(ceo|cto)\b"  a regular expression, case-insensitive
//! clicked                            a tracked link of an earlier email of this sequence
//! clicked intro                      … of that step's email
//! opened, opened intro               the open pixel (or a click) of an earlier email
//! not clicked and lead.phone         `and` binds tighter than `or`
//! ```

use std::collections::BTreeSet;

use regex::{Regex, RegexBuilder};

use crate::lead::LeadRecord;

/// A parsed condition: any of its alternatives holds when all of that alternative's tests do.
#[derive(Debug, Clone)]
pub struct Expr {
    /// `a and b or c` is `[[a, b], [c]]`.
    pub any: Vec<Vec<Test>>,
}

/// One test, maybe negated.
#[derive(Debug, Clone)]
pub struct Test {
    /// What is tested.
    pub fact: Fact,
    /// Written after `not` (or with `!=`).
    pub negated: bool,
}

/// What a test looks at.
#[derive(Debug, Clone)]
pub enum Fact {
    /// A lead field (`lead.NAME`) and what it must be.
    Field {
        /// The field's name (`phone`, or a custom column's snake_case header).
        name: String,
        /// Present, equal to, containing or matching.
        check: FieldCheck,
    },
    /// A click on a tracked link of an earlier email (of that step, when named).
    Clicked(Option<String>),
    /// An open (pixel fetched, or a click) of an earlier email (of that step, when named).
    Opened(Option<String>),
}

/// What a field must be.
#[derive(Debug, Clone)]
pub enum FieldCheck {
    /// Has a non-blank value.
    Present,
    /// Equal, ignoring case and surrounding spaces.
    Equals(String),
    /// Contains, ignoring case.
    Contains(String),
    /// Matches the (case-insensitive) regular expression.
    Matches(Regex),
}

/// What a lead did with this enrollment's emails, by step id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Engagement {
    /// Steps whose email was opened.
    pub opened: BTreeSet<String>,
    /// Steps whose email had a link clicked.
    pub clicked: BTreeSet<String>,
}

/// What a condition is tested on: the lead, and its engagement when known (a preview does
/// not know it: engagement is decided at send time).
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    /// The lead's fields.
    pub lead: &'a LeadRecord,
    /// Opens and clicks so far; `None` when not known.
    pub engagement: Option<&'a Engagement>,
}

/// The value of a condition: known, or only known at send time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Truth {
    /// Holds.
    Yes,
    /// Does not hold.
    No,
    /// Depends on engagement not known here.
    Unknown,
}

impl Truth {
    fn not(self) -> Truth {
        match self {
            Truth::Yes => Truth::No,
            Truth::No => Truth::Yes,
            Truth::Unknown => Truth::Unknown,
        }
    }

    fn from(b: bool) -> Truth {
        if b { Truth::Yes } else { Truth::No }
    }
}

impl Expr {
    /// The condition's value for these facts.
    pub fn eval(&self, facts: Facts<'_>) -> Truth {
        let mut unknown = false;
        for all in &self.any {
            let mut value = Truth::Yes;
            for t in all {
                match t.eval(facts) {
                    Truth::No => {
                        value = Truth::No;
                        break;
                    }
                    Truth::Unknown => value = Truth::Unknown,
                    Truth::Yes => {}
                }
            }
            match value {
                Truth::Yes => return Truth::Yes,
                Truth::Unknown => unknown = true,
                Truth::No => {}
            }
        }
        if unknown { Truth::Unknown } else { Truth::No }
    }

    /// Every test of the condition.
    pub fn tests(&self) -> impl Iterator<Item = &Test> {
        self.any.iter().flatten()
    }
}

impl Test {
    fn eval(&self, facts: Facts<'_>) -> Truth {
        let value = match &self.fact {
            Fact::Field { name, check } => {
                let v = lead_field(facts.lead, name);
                Truth::from(match (check, v) {
                    (_, None) => false,
                    (FieldCheck::Present, Some(_)) => true,
                    (FieldCheck::Equals(want), Some(v)) => {
                        v.eq_ignore_ascii_case(want.trim())
                            || v.to_lowercase() == want.trim().to_lowercase()
                    }
                    (FieldCheck::Contains(part), Some(v)) => {
                        v.to_lowercase().contains(&part.to_lowercase())
                    }
                    (FieldCheck::Matches(re), Some(v)) => re.is_match(v),
                })
            }
            Fact::Clicked(step) => match facts.engagement {
                None => Truth::Unknown,
                Some(e) => Truth::from(seen(&e.clicked, step.as_deref())),
            },
            Fact::Opened(step) => match facts.engagement {
                None => Truth::Unknown,
                Some(e) => Truth::from(
                    seen(&e.opened, step.as_deref()) || seen(&e.clicked, step.as_deref()),
                ),
            },
        };
        if self.negated { value.not() } else { value }
    }
}

fn seen(steps: &BTreeSet<String>, step: Option<&str>) -> bool {
    match step {
        Some(s) => steps.contains(s),
        None => !steps.is_empty(),
    }
}

/// A lead's field by the name templates use (`lead.NAME`): trimmed, `None` when blank.
pub fn lead_field<'a>(lead: &'a LeadRecord, name: &str) -> Option<&'a str> {
    let v = match name {
        "email" => Some(lead.email.as_str()),
        "first_name" => lead.first_name.as_deref(),
        "last_name" => lead.last_name.as_deref(),
        "company" => lead.company.as_deref(),
        "title" => lead.title.as_deref(),
        "timezone" => lead.timezone.as_deref(),
        "phone" => lead.phone.as_deref(),
        "owner" => lead.owner.as_deref(),
        other => lead.custom.get(other).map(String::as_str),
    };
    v.map(str::trim).filter(|v| !v.is_empty())
}

/// A problem in a condition: the character offset where it is, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionError {
    /// Offset in characters from the start of the condition's text.
    pub at: usize,
    /// What is wrong, and how to write it.
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Word(String),
    Quoted(String),
    Op(&'static str),
}

/// Splits a condition into words, quoted strings and the operators `==` and `!=`, each with
/// its character offset.
fn tokens(text: &str) -> Result<Vec<(Tok, usize)>, ConditionError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '"' || c == '\'' {
            let end = chars[i + 1..]
                .iter()
                .position(|&d| d == c)
                .ok_or(ConditionError {
                    at: i,
                    message: format!("the quoted text that starts here never ends (add a {c})"),
                })?;
            out.push((Tok::Quoted(chars[i + 1..i + 1 + end].iter().collect()), i));
            i += end + 2;
        } else if (c == '=' || c == '!') && chars.get(i + 1) == Some(&'=') {
            out.push((Tok::Op(if c == '=' { "==" } else { "!=" }), i));
            i += 2;
        } else {
            let start = i;
            while i < chars.len()
                && !chars[i].is_whitespace()
                && !matches!(chars[i], '"' | '\'')
                && !((chars[i] == '=' || chars[i] == '!') && chars.get(i + 1) == Some(&'='))
            {
                i += 1;
            }
            out.push((Tok::Word(chars[start..i].iter().collect()), start));
        }
    }
    Ok(out)
}

/// How to write a test, for errors.
const FORMS: &str = "write lead.FIELD, lead.FIELD == \"value\", lead.FIELD != \"value\", lead.FIELD contains \"text\", lead.FIELD matches \"regex\", clicked, clicked STEP, opened or opened STEP (each may follow not; join them with and, or)";

/// Parses a condition. Never panics.
pub fn parse(text: &str) -> Result<Expr, ConditionError> {
    let toks = tokens(text)?;
    if toks.is_empty() {
        return Err(ConditionError {
            at: 0,
            message: format!("the condition is empty; {FORMS}"),
        });
    }
    let mut p = Reader {
        toks,
        i: 0,
        len: text.chars().count(),
    };
    let mut any = vec![Vec::new()];
    loop {
        let test = p.test()?;
        any.last_mut().expect("one alternative at least").push(test);
        match p.next() {
            None => break,
            Some((Tok::Word(w), _)) if w == "and" => {}
            Some((Tok::Word(w), _)) if w == "or" => any.push(Vec::new()),
            Some((t, at)) => {
                return Err(ConditionError {
                    at,
                    message: format!(
                        "expected and, or, or the end after a test, found {}",
                        show(&t)
                    ),
                });
            }
        }
    }
    Ok(Expr { any })
}

fn show(t: &Tok) -> String {
    match t {
        Tok::Word(w) => format!("{w:?}"),
        Tok::Quoted(q) => format!("the quoted {q:?}"),
        Tok::Op(o) => o.to_string(),
    }
}

struct Reader {
    toks: Vec<(Tok, usize)>,
    i: usize,
    len: usize,
}

impl Reader {
    fn next(&mut self) -> Option<(Tok, usize)> {
        let t = self.toks.get(self.i).cloned();
        self.i += 1;
        t
    }

    fn peek_word(&self) -> Option<&str> {
        match self.toks.get(self.i) {
            Some((Tok::Word(w), _)) => Some(w),
            _ => None,
        }
    }

    fn end_error(&self, what: &str) -> ConditionError {
        ConditionError {
            at: self.len,
            message: format!("the condition ends where {what} should be; {FORMS}"),
        }
    }

    /// One test, after any number of `not`.
    fn test(&mut self) -> Result<Test, ConditionError> {
        let mut negated = false;
        while self.peek_word() == Some("not") {
            negated = !negated;
            self.i += 1;
        }
        let Some((tok, at)) = self.next() else {
            return Err(self.end_error("a test"));
        };
        let Tok::Word(word) = tok else {
            return Err(ConditionError {
                at,
                message: format!("expected a test, found {}; {FORMS}", show(&tok)),
            });
        };
        let fact = match word.as_str() {
            "clicked" | "opened" => {
                let step = match self.peek_word() {
                    Some(w) if w != "and" && w != "or" => Some(w.to_string()),
                    _ => None,
                };
                if step.is_some() {
                    self.i += 1;
                }
                if word == "clicked" {
                    Fact::Clicked(step)
                } else {
                    Fact::Opened(step)
                }
            }
            w if w.starts_with("lead.") => return self.field(&w["lead.".len()..], at, negated),
            "replied" | "reply" | "no_reply" | "not_replied" => {
                return Err(ConditionError {
                    at,
                    message: "a reply stops the lead, so every step that runs has had no reply yet; drop this test".into(),
                });
            }
            _ => {
                return Err(ConditionError {
                    at,
                    message: format!("unknown test {word:?}; {FORMS}"),
                });
            }
        };
        Ok(Test { fact, negated })
    }

    /// `lead.NAME` and what follows it: an operator and a value, or nothing (present).
    fn field(&mut self, name: &str, at: usize, negated: bool) -> Result<Test, ConditionError> {
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return Err(ConditionError {
                at,
                message: format!(
                    "lead.{name} is not a field name: fields are lowercase letters, digits and _ (lead.phone, lead.company_size)"
                ),
            });
        }
        let name = name.to_string();
        let op = match self.toks.get(self.i) {
            Some((Tok::Op(o), _)) => Some(*o),
            Some((Tok::Word(w), _)) if w == "contains" || w == "matches" => {
                Some(if w == "contains" {
                    "contains"
                } else {
                    "matches"
                })
            }
            _ => None,
        };
        let Some(op) = op else {
            let check = FieldCheck::Present;
            let fact = Fact::Field { name, check };
            return Ok(Test { fact, negated });
        };
        self.i += 1;
        let (value, vat) = match self.next() {
            Some((Tok::Quoted(v) | Tok::Word(v), vat)) => (v, vat),
            Some((t, vat)) => {
                return Err(ConditionError {
                    at: vat,
                    message: format!("expected a value after {op}, found {}", show(&t)),
                });
            }
            None => return Err(self.end_error(&format!("the value after {op}"))),
        };
        let (check, negated) = match op {
            "==" => (FieldCheck::Equals(value), negated),
            "!=" => (FieldCheck::Equals(value), !negated),
            "contains" => (FieldCheck::Contains(value), negated),
            _ => (FieldCheck::Matches(regex(&value, vat)?), negated),
        };
        Ok(Test {
            fact: Fact::Field { name, check },
            negated,
        })
    }
}

/// A case-insensitive regular expression of bounded size (a condition is written by a rep,
/// but a huge one must not eat the daemon's memory).
fn regex(pattern: &str, at: usize) -> Result<Regex, ConditionError> {
    RegexBuilder::new(pattern)
        .case_insensitive(true)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| ConditionError {
            at,
            message: format!("{pattern:?} is not a regular expression: {e}"),
        })
}

#[cfg(test)]
mod tests;

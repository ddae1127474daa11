//! Lead routing (`[[route]]` and `[groups]`): which rep owns a new lead. Rules are tried in
//! file order; the first whose `match` holds sends the lead to a rep (`to`) or a group
//! (`group`, shared round robin). Every name is checked against the mailboxes here, so a typo
//! fails at load with `config.toml:LINE`, not on the thousandth import.

use std::collections::{BTreeMap, HashSet};
use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use super::problems::Problems;

/// The routing rules, checked.
#[derive(Debug, Clone, Default)]
pub struct Routing {
    /// The rules, in file order.
    pub rules: Vec<Rule>,
    /// The groups by name.
    pub groups: BTreeMap<String, Group>,
}

/// One `[[route]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Every condition must hold (none: the rule matches every lead).
    pub conditions: Vec<Condition>,
    /// Where a matching lead goes.
    pub target: Target,
}

/// `field = value` or `field = [values…]`: the lead's field (or custom column) equals one of
/// the values, ignoring case and surrounding spaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// The field: `company`, `title`, `timezone`, `email`, `domain`, or a custom column's
    /// snake_case header (`territory`).
    pub field: String,
    /// Any of these values, lowercased and trimmed.
    pub values: Vec<String>,
}

/// Where a rule sends a lead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// This mailbox name.
    Rep(String),
    /// This group's round robin.
    Group(String),
}

/// A group of reps that share leads in turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// Its name (the key under `[groups]`).
    pub name: String,
    /// Its reps, in file order.
    pub members: Vec<Member>,
}

/// One rep of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The mailbox name.
    pub rep: String,
    /// Turns per round (1 by default): a rep with weight 2 gets twice the leads.
    pub weight: u32,
    /// The rep is skipped while they own this many leads with an active or paused enrollment.
    pub max_open: Option<u32>,
}

/// `[[route]]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRoute {
    #[serde(rename = "match", default)]
    matches: BTreeMap<String, Spanned<OneOrMany>>,
    to: Option<Spanned<String>>,
    group: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(
    untagged,
    expecting = "a value or a list of values, e.g. \"EMEA\" or [\"fintech\", \"banking\"]"
)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// A group member as written: `"ben"` or `{ rep = "cara", weight = 2, max_open = 200 }`.
#[derive(Debug, Deserialize)]
#[serde(
    untagged,
    expecting = "a mailbox name or { rep = \"NAME\", weight = N, max_open = N } (keys: rep, weight, max_open)"
)]
pub(super) enum RawMember {
    Name(String),
    Full(RawMemberTable),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMemberTable {
    rep: String,
    weight: Option<i64>,
    max_open: Option<i64>,
}

/// `[groups]` as written.
pub(super) type RawGroups = BTreeMap<Spanned<String>, Spanned<Vec<Spanned<RawMember>>>>;

/// Checks the rules and groups against the mailbox names.
pub(super) fn resolve(
    routes: Vec<RawRoute>,
    groups: Option<RawGroups>,
    mailboxes: &HashSet<String>,
) -> (Routing, Problems) {
    let mut problems = Vec::new();
    let mut out = Routing::default();
    for (name, members) in groups.unwrap_or_default() {
        let group = resolve_group(name.into_inner(), members, mailboxes, &mut problems);
        out.groups.insert(group.name.clone(), group);
    }
    for r in routes {
        let Some(target) = resolve_target(r.to, r.group, &out, mailboxes, &mut problems) else {
            continue;
        };
        let conditions = resolve_conditions(r.matches, &mut problems);
        out.rules.push(Rule { conditions, target });
    }
    (out, problems)
}

/// The mailbox names, sorted, for a message.
fn mailbox_list(mailboxes: &HashSet<String>) -> String {
    let mut v: Vec<&str> = mailboxes.iter().map(String::as_str).collect();
    v.sort_unstable();
    v.join(", ")
}

/// One group of `[groups]`: each member a mailbox, listed once, with a weight from 1 to 1000
/// and a cap of 0 or more; at least one member.
fn resolve_group(
    name: String,
    members: Spanned<Vec<Spanned<RawMember>>>,
    mailboxes: &HashSet<String>,
    problems: &mut Problems,
) -> Group {
    let span = members.span();
    let mut group = Group {
        name,
        members: Vec::new(),
    };
    for m in members.into_inner() {
        let at = m.span();
        let member = resolve_member(&group.name, m.into_inner(), &at, mailboxes, problems);
        if group.members.iter().any(|m| m.rep == member.rep) {
            problems.push((
                Some(at),
                format!(
                    "group {:?}: {:?} is listed twice (use weight for a larger share)",
                    group.name, member.rep
                ),
            ));
        }
        group.members.push(member);
    }
    if group.members.is_empty() {
        problems.push((
            Some(span),
            format!("group {:?} is empty; list at least one mailbox", group.name),
        ));
    }
    group
}

/// One member of group `group_name`, written at `at`.
fn resolve_member(
    group_name: &str,
    raw: RawMember,
    at: &Range<usize>,
    mailboxes: &HashSet<String>,
    problems: &mut Problems,
) -> Member {
    let (rep, weight, max_open) = match raw {
        RawMember::Name(n) => (n, None, None),
        RawMember::Full(t) => (t.rep, t.weight, t.max_open),
    };
    let mut member = Member {
        rep: rep.trim().to_string(),
        weight: 1,
        max_open: None,
    };
    if !mailboxes.contains(&member.rep) {
        problems.push((
            Some(at.clone()),
            format!(
                "group {group_name:?}: {:?} is not a mailbox (mailboxes: {})",
                member.rep,
                mailbox_list(mailboxes)
            ),
        ));
    }
    if let Some(w) = weight {
        match u32::try_from(w) {
            Ok(v) if (1..=1000).contains(&v) => member.weight = v,
            _ => problems.push((
                Some(at.clone()),
                format!(
                    "group {group_name:?}: rep {:?}: weight must be a whole number from 1 to 1000",
                    member.rep
                ),
            )),
        }
    }
    if let Some(c) = max_open {
        match u32::try_from(c) {
            Ok(v) => member.max_open = Some(v),
            Err(_) => problems.push((
                Some(at.clone()),
                format!(
                    "group {group_name:?}: rep {:?}: max_open must be 0 or more",
                    member.rep
                ),
            )),
        }
    }
    member
}

/// Where a `[[route]]` sends its leads: a mailbox (`to`) or a group of `routing` (`group`),
/// exactly one of them. None when the rule has neither or both.
fn resolve_target(
    to: Option<Spanned<String>>,
    group: Option<Spanned<String>>,
    routing: &Routing,
    mailboxes: &HashSet<String>,
    problems: &mut Problems,
) -> Option<Target> {
    match (to, group) {
        (Some(to), None) => {
            let rep = to.get_ref().trim().to_string();
            if !mailboxes.contains(&rep) {
                problems.push((
                    Some(to.span()),
                    format!(
                        "route: to {rep:?} is not a mailbox (mailboxes: {})",
                        mailbox_list(mailboxes)
                    ),
                ));
            }
            Some(Target::Rep(rep))
        }
        (None, Some(g)) => {
            let name = g.get_ref().trim().to_string();
            if !routing.groups.contains_key(&name) {
                let groups: Vec<&str> = routing.groups.keys().map(String::as_str).collect();
                let mut msg = format!("route: unknown group {name:?}");
                match crate::diag::did_you_mean(&name, groups.iter().copied()) {
                    Some(s) => msg.push_str(&format!("; did you mean {s:?}?")),
                    None if groups.is_empty() => msg.push_str(" (no [groups] defined)"),
                    None => msg.push_str(&format!(" (groups: {})", groups.join(", "))),
                }
                problems.push((Some(g.span()), msg));
            }
            Some(Target::Group(name))
        }
        (Some(to), Some(_)) => {
            problems.push((
                Some(to.span()),
                "route has both `to` and `group`; keep one".to_string(),
            ));
            None
        }
        (None, None) => {
            problems.push((
                None,
                "a [[route]] needs `to = \"MAILBOX\"` or `group = \"GROUP\"`".to_string(),
            ));
            None
        }
    }
}

/// A rule's `match`: one condition per field, its values lowercased and trimmed.
fn resolve_conditions(
    matches: BTreeMap<String, Spanned<OneOrMany>>,
    problems: &mut Problems,
) -> Vec<Condition> {
    let mut conditions = Vec::new();
    for (field, value) in matches {
        let values = match value.get_ref() {
            OneOrMany::One(v) => vec![v.clone()],
            OneOrMany::Many(vs) => vs.clone(),
        };
        if values.is_empty() {
            problems.push((
                Some(value.span()),
                format!("route: match {field:?} lists no values"),
            ));
        }
        conditions.push(Condition {
            field: field.trim().to_ascii_lowercase(),
            values: values.iter().map(|v| v.trim().to_lowercase()).collect(),
        });
    }
    conditions
}

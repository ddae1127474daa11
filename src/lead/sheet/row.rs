//! One row's named cells into a lead: the email among several columns, the name split, the
//! time zone checked, the opt-out read.

use std::collections::{BTreeMap, HashMap};

use super::columns::flag;
use super::email::Email;
use super::header::{self, Field};
use super::{LeadRecord, ZONE_CACHE_LIMIT, timezone};

/// A row's lead, and the column (as written) that says the person opted out, if one does.
pub(super) type RowLead = (LeadRecord, Option<String>);

/// The lead of one row: each named column with its cleaned cell. Problems come back with
/// the name of their column, in column order.
pub(super) fn lead_from_columns<'a>(
    values: impl Iterator<Item = (&'a header::Column, &'a str)>,
    zone_suggestions: &mut HashMap<String, Option<&'static str>>,
) -> Result<RowLead, Vec<(String, String)>> {
    let mut opted_out = None;
    let mut email_cell = None;
    let mut other_emails: Vec<&str> = Vec::new();
    let mut timezone_cell = None;
    let mut lead = Fields::default();
    for (column, value) in values {
        if value.is_empty() {
            continue;
        }
        let owned = || Some(value.to_string());
        match &column.field {
            Field::Email if email_cell.is_none() => email_cell = Some((column, value)),
            Field::Email => other_emails.push(value),
            Field::Timezone => timezone_cell = Some((column, value)),
            Field::FirstName => lead.first_name = owned(),
            Field::LastName => lead.last_name = owned(),
            Field::Company => lead.company = owned(),
            Field::Title => lead.title = owned(),
            Field::Phone => lead.phone = owned(),
            Field::Owner => lead.owner = owned(),
            Field::FullName => {
                let (first, last) = split_name(value);
                lead.first_name = first;
                lead.last_name = last;
            }
            Field::OptOut | Field::Subscribed => {
                let says_out = flag(value) == Some(column.field == Field::OptOut);
                if says_out && opted_out.is_none() {
                    opted_out = Some(column.name.clone());
                }
                lead.custom.insert(
                    header::custom_key(&column.name, column.index),
                    value.to_string(),
                );
            }
            Field::Custom(key) => {
                lead.custom.insert(key.clone(), value.to_string());
            }
        }
    }

    keep_other_emails(
        &mut lead.custom,
        email_cell.map(|(_, cell)| cell),
        &other_emails,
    );
    let mut problems = Vec::new();
    let email = parse_email(email_cell, &mut problems);
    let timezone = timezone_cell.and_then(|(column, text)| {
        let zone = timezone::canonical_zone(text);
        if zone.is_none() {
            problems.push((column.name.clone(), zone_problem(text, zone_suggestions)));
        }
        zone.map(str::to_owned)
    });
    match email {
        Some(email) if problems.is_empty() => Ok((
            LeadRecord {
                email,
                first_name: lead.first_name,
                last_name: lead.last_name,
                company: lead.company,
                title: lead.title,
                timezone,
                phone: lead.phone,
                owner: lead.owner,
                custom: lead.custom,
            },
            opted_out,
        )),
        _ => Err(problems),
    }
}

/// The lead's address from its email cell; a problem (naming the column) when it is empty or
/// not an address.
fn parse_email(
    cell: Option<(&header::Column, &str)>,
    problems: &mut Vec<(String, String)>,
) -> Option<Email> {
    match cell.map(|(column, cell)| (column, Email::parse(cell))) {
        Some((_, Ok(email))) => Some(email),
        Some((column, Err(err))) => {
            problems.push((column.name.clone(), err.to_string()));
            None
        }
        None => {
            problems.push(("email".to_owned(), "email is empty".to_owned()));
            None
        }
    }
}

/// The addresses of a row's other email columns, kept as the `other_emails` custom field
/// (comma-separated, without repeats of the lead's own address).
fn keep_other_emails(custom: &mut BTreeMap<String, String>, first: Option<&str>, others: &[&str]) {
    let mut kept: Vec<&str> = Vec::new();
    for other in others {
        let repeat = |a: &str| a.eq_ignore_ascii_case(other);
        if !first.is_some_and(repeat) && !kept.iter().any(|k| repeat(k)) {
            kept.push(other);
        }
    }
    if !kept.is_empty() {
        custom.insert("other_emails".to_owned(), kept.join(", "));
    }
}

/// The optional fields of a lead while its row is read.
#[derive(Default)]
struct Fields {
    first_name: Option<String>,
    last_name: Option<String>,
    company: Option<String>,
    title: Option<String>,
    phone: Option<String>,
    owner: Option<String>,
    custom: BTreeMap<String, String>,
}

/// `Jane van der Berg` → (`Jane`, `van der Berg`).
fn split_name(full: &str) -> (Option<String>, Option<String>) {
    let full = full.trim();
    match full.split_once(char::is_whitespace) {
        Some((first, rest)) => (Some(first.to_owned()), Some(rest.trim().to_owned())),
        None => (Some(full.to_owned()), None),
    }
}

fn zone_problem(text: &str, cache: &mut HashMap<String, Option<&'static str>>) -> String {
    let suggestion = match cache.get(text) {
        Some(suggestion) => *suggestion,
        None => {
            let suggestion = timezone::suggest_zone(text);
            if cache.len() < ZONE_CACHE_LIMIT {
                cache.insert(text.to_owned(), suggestion);
            }
            suggestion
        }
    };
    let mut problem = format!("timezone \"{text}\" is not an IANA time zone (e.g. Europe/Berlin)");
    if let Some(zone) = suggestion {
        problem.push_str(&format!("; did you mean \"{zone}\"?"));
    }
    problem
}

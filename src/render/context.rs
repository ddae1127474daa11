//! The variables a template sees: `lead.*`, `account.*`, `sender.*`, `sequence.*`, `step.*`.
//! Empty values are left out, so a template that uses one without `default(…)` fails instead
//! of writing "Hi ,".

use std::collections::BTreeMap;

use tera::{Context, Value};

use super::{RenderInput, SEED_VAR};
use crate::sequence::Sequence;

/// The lead fields every lead may have; any other `lead.NAME` is a custom CSV column.
pub const STANDARD_LEAD_FIELDS: &[&str] = &[
    "email",
    "first_name",
    "last_name",
    "company",
    "title",
    "timezone",
    "phone",
    "owner",
];

/// Lead fields drumbeat itself sets on some leads, kept with the custom columns: `referred_by`,
/// the address of the lead whose reply named this one (see `store::REFERRED_BY`). A template
/// uses them under `{% if lead.referred_by %}` or with `default(…)`.
pub const SET_LEAD_FIELDS: &[&str] = &["referred_by"];

/// Puts a value the template may use: line ends made LF and control characters dropped (see
/// [`super::plain`]), trimmed; a value that is empty after that is left out, so it counts as
/// missing (a first name of just NUL is no first name).
fn put(map: &mut BTreeMap<String, Value>, key: &str, value: Option<&str>) {
    let Some(value) = value else {
        return;
    };
    let value = super::plain(value);
    let v = value.trim();
    if !v.is_empty() {
        map.insert(key.to_string(), Value::from(v));
    }
}

/// Builds the render context for a lead at step `index` of `sequence`.
pub(super) fn build(
    input: &RenderInput<'_>,
    sequence: &Sequence,
    index: usize,
    seed: u64,
) -> Context {
    let l = input.lead;
    let mut lead = BTreeMap::new();
    for (k, v) in &l.custom {
        put(&mut lead, k, Some(v));
    }
    put(&mut lead, "email", Some(l.email.as_str()));
    put(&mut lead, "first_name", l.first_name.as_deref());
    put(&mut lead, "last_name", l.last_name.as_deref());
    put(&mut lead, "company", l.company.as_deref());
    put(&mut lead, "title", l.title.as_deref());
    put(&mut lead, "timezone", l.timezone.as_deref());
    put(&mut lead, "phone", l.phone.as_deref());
    put(&mut lead, "owner", l.owner.as_deref());

    let mut account = BTreeMap::new();
    put(&mut account, "domain", l.email.account_domain());
    put(&mut account, "name", l.company.as_deref());

    let s = input.sender;
    let mut sender = BTreeMap::new();
    put(&mut sender, "name", s.display_name.as_deref());
    put(
        &mut sender,
        "first_name",
        s.display_name
            .as_deref()
            .and_then(|n| n.split_whitespace().next()),
    );
    put(&mut sender, "email", Some(s.from.as_str()));
    put(
        &mut sender,
        "signature",
        s.signature.as_deref().map(str::trim_end),
    );
    put(&mut sender, "mailbox", Some(&s.name));

    let step = &sequence.steps[index];
    let mut seq = BTreeMap::new();
    put(&mut seq, "id", Some(&sequence.id));
    put(&mut seq, "name", Some(&sequence.name));
    let mut st: BTreeMap<String, Value> = BTreeMap::new();
    put(&mut st, "id", Some(&step.id));
    st.insert("number".into(), Value::from(index + 1));

    let mut ctx = Context::new();
    ctx.insert_value("lead", Value::from(lead));
    ctx.insert_value("account", Value::from(account));
    ctx.insert_value("sender", Value::from(sender));
    ctx.insert_value("sequence", Value::from(seq));
    ctx.insert_value("step", Value::from(st));
    ctx.insert_value("unsubscribe_url", Value::from(input.unsubscribe_url));
    ctx.insert_value(SEED_VAR, Value::from(seed as i64));
    ctx
}

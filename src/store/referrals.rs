//! The rep's tasks an inbound message opens: answering a challenge-response request, and
//! approving a referral. A referral's people become leads (with `referred_by`, the referring
//! lead's address, among their fields, so templates can say `{{ lead.referred_by }}`), each
//! with a task whose `done` enrolls them in the referring lead's sequence: never an automatic
//! send.

use std::collections::BTreeMap;

use sqlx::AnyConnection;

use super::inbox::{InboundFact, Target};
use super::leads::{LEAD_COLUMNS, lead_record, upsert};
use super::suppressions::values_for;
use super::tasks::{RepTask, open_rep_task};
use super::{Backend, StoreError, built};
use crate::lead::{Email, LeadRecord};
use crate::policy::{CHALLENGE_TASK, REFERRAL_TASK};

/// The lead field that names who referred a lead.
pub const REFERRED_BY: &str = "referred_by";

/// The lead source of a referred lead (what `report --by source` shows).
pub const REFERRAL_SOURCE: &str = "referral";

/// Opens the rep's task of kind `task` for what `fact` is about, inside the caller's
/// transaction: one task for a challenge, one per referred person for a referral (each made a
/// lead first). A message matched to no enrollment opens none.
pub(super) async fn open_rep_tasks(
    tx: &mut AnyConnection,
    backend: Backend,
    task: &str,
    fact: &InboundFact<'_>,
    target: &Target,
    now: i64,
) -> Result<(), StoreError> {
    let Some(enrollment) = target.enrollment else {
        return Ok(());
    };
    let base = RepTask {
        enrollment,
        lead: target.lead,
        sequence: target.sequence.as_deref(),
        kind: task,
        note: "",
        owner: fact.mailbox,
    };
    if task == CHALLENGE_TASK {
        let note = format!(
            "Only a person can answer this challenge-response request ({}): reply to it or \
             follow its link, so that your emails reach the lead. Its subject: {}",
            fact.rule,
            fact.evidence["subject"].as_str().unwrap_or("(none)")
        );
        return open_rep_task(
            tx,
            &RepTask {
                note: &note,
                ..base
            },
            now,
        )
        .await;
    }
    if task != REFERRAL_TASK {
        return Ok(());
    }
    let Some(referrer) = referrer(tx, target.lead).await? else {
        return Ok(());
    };
    for (record, note) in referred_leads(&referrer, fact, target) {
        // A suppressed address (or a forgotten person) is never stored again or written to.
        if suppressed(tx, &record.email).await? {
            tracing::info!(
                mailbox = fact.mailbox,
                lead = target.lead,
                "a referral names a suppressed address: no lead, no task"
            );
            continue;
        }
        let ids = upsert(
            tx,
            backend,
            std::slice::from_ref(&record),
            REFERRAL_SOURCE,
            now,
        )
        .await?;
        let Some((id, _)) = ids.first() else {
            continue;
        };
        let t = RepTask {
            lead: id.0,
            note: &note,
            ..base
        };
        open_rep_task(tx, &t, now).await?;
    }
    Ok(())
}

/// Whether the address, its domain or its forgotten hash is on the suppression list.
async fn suppressed(tx: &mut AnyConnection, email: &Email) -> Result<bool, StoreError> {
    let [address, domain, hash] = values_for(email);
    let n: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM suppressions WHERE value IN ($1, $2, $3)")
            .bind(address)
            .bind(domain)
            .bind(hash)
            .fetch_one(&mut *tx)
            .await?;
    Ok(n > 0)
}

/// The referring lead's record.
async fn referrer(tx: &mut AnyConnection, lead: i64) -> Result<Option<LeadRecord>, StoreError> {
    let row = sqlx::query(built(format!(
        "SELECT {LEAD_COLUMNS} FROM leads WHERE id = $1"
    )))
    .bind(lead)
    .fetch_optional(&mut *tx)
    .await?;
    row.map(|r| lead_record(&r)).transpose()
}

/// The leads a referral names, each with its task's note: the referrer's owner, and, at the
/// same company (the same account domain), its company and time zone.
fn referred_leads(
    referrer: &LeadRecord,
    fact: &InboundFact<'_>,
    target: &Target,
) -> Vec<(LeadRecord, String)> {
    let sequence = target.sequence.as_deref().unwrap_or("(none)");
    fact.referred
        .iter()
        .filter_map(|r| {
            let email = Email::parse(&r.email).ok()?;
            if email == referrer.email {
                return None;
            }
            let same = email.account_domain().is_some()
                && email.account_domain() == referrer.email.account_domain();
            let mut name = r.name.as_deref().unwrap_or_default().split_whitespace();
            let first_name = name.next().map(str::to_string);
            let rest: Vec<&str> = name.collect();
            let who = match &r.name {
                Some(n) => format!("{n} <{email}>"),
                None => email.to_string(),
            };
            let note = format!(
                "{} named {who} in a reply ({}: {}). Done enrolls them in {sequence}, the sequence \
                 {} was in; skip enrolls no one. Templates see `lead.referred_by`.",
                referrer.email,
                fact.intent.map_or("referral", |i| i.as_str()),
                fact.evidence["intent_words"]
                    .as_array()
                    .map(|w| w
                        .iter()
                        .filter_map(|x| x.as_str())
                        .collect::<Vec<_>>()
                        .join(", "))
                    .unwrap_or_default(),
                referrer.email,
            );
            let record = LeadRecord {
                first_name,
                last_name: (!rest.is_empty()).then(|| rest.join(" ")),
                company: referrer.company.clone().filter(|_| same),
                title: None,
                timezone: referrer.timezone.clone().filter(|_| same),
                phone: None,
                owner: referrer
                    .owner
                    .clone()
                    .or_else(|| Some(fact.mailbox.to_string())),
                custom: BTreeMap::from([(
                    REFERRED_BY.to_string(),
                    referrer.email.as_str().to_string(),
                )]),
                email,
            };
            Some((record, note))
        })
        .collect()
}

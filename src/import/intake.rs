//! Lead intake: what every arriving lead goes through, whether it comes from a spreadsheet
//! (`drumbeat leads import`) or from the API (`POST /api/leads`). Its owner is read as a
//! mailbox; a person who asked to be forgotten is not stored again; leads without an owner
//! are routed by the `[[route]]` rules; the rest are upserted, and enrolled when a sequence is
//! given, in one transaction.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::catalog::Sequence;
use crate::config::{Config, parse_tz};
use crate::lead::{Email, LeadRecord};
use crate::routing::{RouteSummary, route_arrivals};
use crate::store::{
    Admission, EnrollInto, EnrollOutcome, EnrollRequest, LeadId, Store, StoreError, UpsertOutcome,
};

/// Where a batch of arriving leads goes and how: one intake serves every batch of an import,
/// or one API request.
pub struct Intake<'a> {
    /// The store the leads land in.
    pub store: &'a Store,
    /// The mailboxes, routing rules and send settings.
    pub config: &'a Config,
    /// What `leads.source` records: `csv:FILE` or `api`.
    pub source: &'a str,
    /// Enroll the leads into this sequence.
    pub sequence: Option<&'a Sequence>,
    /// The rules enrolling follows (`[enrollment]`, the sequences' `exclusive:`), and whether
    /// the caller forces them.
    pub admission: Admission<'a>,
    /// Tell what would happen and change nothing (the routing cursors included).
    pub dry_run: bool,
    /// How often the upsert is tried while the store aborts it for contention (SQLite busy, a
    /// PostgreSQL deadlock); 1 tries it once.
    pub tries: u32,
    /// Unix seconds of the arrival.
    pub now: i64,
}

/// What intake did with one lead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arrival {
    /// The person asked to be forgotten: the lead is not stored (its address, as given).
    Forgotten(Email),
    /// The lead is stored (in a dry run: would be).
    Stored(Stored),
}

/// A lead that was stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// The lead's id (in a dry run, the id it would get).
    pub id: LeadId,
    /// Whether the lead is new, changed or unchanged.
    pub lead: UpsertOutcome,
    /// With a sequence: what enrolling did, and when the first step is (or would be) due, in
    /// unix seconds.
    pub enrollment: Option<(EnrollOutcome, i64)>,
}

/// What intake did with a batch.
#[derive(Debug, Clone, Default)]
pub struct Intaken {
    /// One arrival per lead, in the order the leads were given.
    pub leads: Vec<Arrival>,
    /// What the routing rules did with the leads that came without an owner.
    pub routing: RouteSummary,
}

impl Intake<'_> {
    /// Puts on the suppression list the people whose export or request says they opted out
    /// (each with the column or field that says so; `origin` says where: `column … of FILE`,
    /// `field … of an API request`), before their leads are taken in, so none of them is enrolled. Forgotten
    /// people are left out (their address must not be written again); a dry run writes
    /// nothing. Returns the column of each person it took, in order.
    pub async fn suppress_opted_out(
        &self,
        rows: Vec<(Email, String)>,
        origin: (&str, &str),
    ) -> Result<Vec<String>, StoreError> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let reason = crate::policy::exported_opt_out().as_str();
        let emails: Vec<&Email> = rows.iter().map(|(email, _)| email).collect();
        let forgotten = self.store.forgotten_among(&emails).await?;
        let mut taken = Vec::with_capacity(rows.len());
        for (email, column) in rows {
            if forgotten.contains(&email) {
                continue;
            }
            if !self.dry_run {
                let (kind, place) = origin;
                let note = format!("opted out in {kind} \"{column}\" of {place}");
                self.store
                    .suppress(email.as_str(), reason, Some(&note), self.now)
                    .await?;
            }
            taken.push(column);
        }
        Ok(taken)
    }

    /// Takes in `leads` (owners already read with [`assign_owner`]): leaves out forgotten
    /// people, routes the leads without an owner, then upserts (and enrolls) the rest in one
    /// transaction. Nothing is written when every lead is forgotten. The order of `leads` is
    /// the order in which routing hands out turns and the store locks rows.
    pub async fn take(&self, leads: Vec<LeadRecord>) -> Result<Intaken, StoreError> {
        let emails: Vec<&Email> = leads.iter().map(|l| &l.email).collect();
        let forgotten = self.store.forgotten_among(&emails).await?;
        let mut arrivals = Vec::with_capacity(leads.len());
        let mut positions = Vec::with_capacity(leads.len());
        let mut kept = Vec::with_capacity(leads.len());
        for (i, lead) in leads.into_iter().enumerate() {
            if forgotten.contains(&lead.email) {
                arrivals.push(Some(Arrival::Forgotten(lead.email)));
            } else {
                arrivals.push(None);
                positions.push(i);
                kept.push(lead);
            }
        }
        let mut routing = RouteSummary::default();
        if !kept.is_empty() {
            routing = route_arrivals(
                self.store,
                self.config,
                &mut kept,
                self.sequence.is_some(),
                self.dry_run,
                self.now,
            )
            .await?;
            for (i, stored) in positions.into_iter().zip(self.store_leads(&kept).await?) {
                arrivals[i] = Some(Arrival::Stored(stored));
            }
        }
        let leads = arrivals
            .into_iter()
            .map(|a| a.expect("every lead is either forgotten or stored, once"))
            .collect();
        Ok(Intaken { leads, routing })
    }

    /// Upserts `leads` and, with a sequence, enrolls them, in one transaction.
    async fn store_leads(&self, leads: &[LeadRecord]) -> Result<Vec<Stored>, StoreError> {
        let (store, now) = (self.store, self.now);
        let Some(seq) = self.sequence else {
            let upserted = retry_transient(self.tries, || {
                store.upsert_leads(leads, self.source, now, self.dry_run)
            })
            .await?;
            return Ok(upserted
                .into_iter()
                .map(|(id, lead)| Stored {
                    id,
                    lead,
                    enrollment: None,
                })
                .collect());
        };
        let due: Vec<i64> = leads
            .iter()
            .map(|lead| first_due_at(self.config, seq, lead, now))
            .collect();
        let first = &seq.steps[0].id;
        let done = retry_transient(self.tries, || {
            let into = EnrollInto {
                sequence: &seq.id,
                first_step: first,
                due_at: &due,
                admission: self.admission,
            };
            store.upsert_and_enroll(leads, self.source, into, now, self.dry_run)
        })
        .await?;
        Ok(done
            .upserted
            .into_iter()
            .zip(done.enrolled.into_iter().zip(due))
            .map(|((id, lead), enrollment)| Stored {
                id,
                lead,
                enrollment: Some(enrollment),
            })
            .collect())
    }
}

/// How often a batch's transaction is tried while the store aborts it for contention (SQLite
/// busy, a PostgreSQL deadlock or serialization failure) before the error is given: to the API
/// client as a 503, to an import as its error. The store takes its locks in one order, so such
/// an abort is rare (two batches creating the same new address at once can still meet one).
pub const TRIES: u32 = 8;

/// Runs a store transaction, and again while the store aborts it for contention, at most
/// `tries` times in all (with a short, growing pause between tries); the last error is
/// returned.
pub async fn retry_transient<T, F, Fut>(tries: u32, mut f: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    let mut tried = 0;
    loop {
        match f().await {
            Ok(v) => return Ok(v),
            Err(e) if e.is_transient() && tried + 1 < tries => {
                tried += 1;
                tracing::debug!(tries = tried, "store busy, trying again: {e}");
                tokio::time::sleep(Duration::from_millis(10 * u64::from(tried))).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Reads an arriving lead's owner: `forced` (an import's `--owner`, an API batch's `owner`,
/// already a mailbox name) replaces it; otherwise an owner the lead names is read with
/// [`resolve_owner`], which notes it in `unknown` when it names no mailbox.
pub fn assign_owner(
    config: &Config,
    lead: &mut LeadRecord,
    forced: Option<&str>,
    unknown: &mut BTreeSet<String>,
) {
    if let Some(owner) = forced {
        lead.owner = Some(owner.to_string());
    } else if let Some(owner) = lead.owner.take() {
        lead.owner = Some(resolve_owner(config, &owner, unknown));
    }
}

/// A CSV owner value (a mailbox name, From address or display name) as a mailbox name; a
/// value that names no mailbox is kept as written and noted in `unknown`.
pub fn resolve_owner(config: &Config, owner: &str, unknown: &mut BTreeSet<String>) -> String {
    let found = config.mailboxes.iter().find(|m| {
        m.name.eq_ignore_ascii_case(owner)
            || m.from.as_str().eq_ignore_ascii_case(owner)
            || m.display_name
                .as_deref()
                .is_some_and(|d| d.eq_ignore_ascii_case(owner))
    });
    match found {
        Some(m) => m.name.clone(),
        None => {
            if unknown.len() < 100 {
                unknown.insert(owner.to_string());
            }
            owner.to_string()
        }
    }
}

/// The enrollment of a lead into `seq` now: its first step is due at the first moment the
/// step's wait has passed and the send window is open in the lead's time zone.
pub fn enroll_request<'a>(
    config: &Config,
    seq: &'a Sequence,
    lead: &'a LeadRecord,
    id: LeadId,
    now: i64,
) -> EnrollRequest<'a> {
    let first = &seq.steps[0];
    let due = first_due_at(config, seq, lead, now);
    EnrollRequest {
        lead: id,
        email: &lead.email,
        first_step: &first.id,
        due_at: due,
    }
}

/// When the first step of `seq` would go out for `lead` if enrolled at `now`.
pub fn first_due_at(config: &Config, seq: &Sequence, lead: &LeadRecord, now: i64) -> i64 {
    let tz = seq.window.zone_for(
        lead.timezone.as_deref().and_then(|t| parse_tz(t).ok()),
        config.timezone,
    );
    let now_dt = DateTime::<Utc>::from_timestamp(now, 0).unwrap_or_default();
    // A window that can never open leaves the step due "now"; the scheduler re-checks the
    // window before sending, and validate refuses such windows.
    let first = &seq.steps[0];
    let seed = crate::plan::jitter_seed(lead.email.as_str(), &seq.id, &first.id);
    let country =
        crate::schedule::Country::of_lead(lead.custom.get("country").map(String::as_str), tz);
    crate::plan::due_after(
        &seq.window.for_lead(country),
        tz,
        now_dt,
        first.wait,
        seed,
        config.sending.jitter,
    )
    .map_or(now, |d| d.timestamp())
}

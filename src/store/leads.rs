//! Leads and accounts.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::enrollments::enroll;
use super::events::{self, NewEvent};
use super::{
    Backend, EnrollOutcome, EnrollRequest, Store, StoreError, built, in_list, json_rows, json_safe,
    values_clause,
};
use crate::domain::EventKind;
use crate::lead::{Email, LeadRecord};

/// Row id of a lead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct LeadId(pub i64);

/// A lead as stored.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StoredLead {
    /// Row id.
    pub id: LeadId,
    /// Its fields.
    #[serde(flatten)]
    pub record: LeadRecord,
    /// The account's domain (None for free-mail addresses).
    pub account: Option<String>,
    /// Where it came from.
    pub source: Option<String>,
    /// When it was first stored (unix seconds).
    pub created_at: i64,
    /// When it last changed.
    pub updated_at: i64,
}

/// Everything about one lead: what `drumbeat leads show --json` prints and
/// `GET /api/leads/{email}` answers.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LeadView {
    /// The lead.
    pub lead: StoredLead,
    /// Its enrollments, oldest first.
    pub enrollments: Vec<super::EnrollmentRow>,
    /// Its touches, oldest first.
    pub touches: Vec<super::TouchRow>,
    /// Its timeline, oldest first.
    pub events: Vec<super::EventRow>,
}

/// What [`Store::upsert_and_enroll`] did, per input record.
#[derive(Debug, Clone)]
pub struct UpsertAndEnroll {
    /// Each record's lead and what the upsert did to it.
    pub upserted: Vec<(LeadId, UpsertOutcome)>,
    /// What enrolling each record's lead did.
    pub enrolled: Vec<EnrollOutcome>,
}

/// What an upsert did to one lead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpsertOutcome {
    /// It was not in the store.
    New,
    /// It was, and some field changed.
    Updated,
    /// It was, with the same data.
    Unchanged,
}

pub(super) const LEAD_COLUMNS: &str = "id, email, first_name, last_name, company, title, timezone, phone, owner, custom, source, created_at, updated_at, fingerprint";

/// Rows per multi-row statement: well under SQLite's and PostgreSQL's bind limits.
const CHUNK: usize = 500;

/// Page cache of a connection that writes leads in bulk (SQLite), in KiB. The default 2 MiB
/// makes a million-lead import re-read and re-write the same index pages through the kernel;
/// 64 MiB keeps the hot parts of the email and account indexes in memory. Only connections
/// that ran a bulk write grow to it.
const BULK_CACHE_KIB: i64 = 65_536;

async fn bulk_cache(conn: &mut sqlx::AnyConnection, backend: Backend) -> Result<(), StoreError> {
    if backend == Backend::Sqlite {
        sqlx::query(built(format!("PRAGMA cache_size = -{BULK_CACHE_KIB}")))
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

impl Store {
    /// Inserts new leads and updates changed ones, in one transaction. A field the new record
    /// leaves empty keeps its stored value (an import never erases data); custom fields merge.
    /// Returns, for each input record in order, its id and what happened. The same email may
    /// appear several times; later records win, and each occurrence's outcome says what it
    /// changes over the ones before it (the first of a new lead is `New`). When all of them
    /// together leave the stored lead as it is, every occurrence is `Unchanged`, so the same
    /// batch twice changes nothing the second time. With `dry_run` the transaction is rolled
    /// back: the outcomes say what would happen and nothing changes.
    pub async fn upsert_leads(
        &self,
        records: &[LeadRecord],
        source: &str,
        now: i64,
        dry_run: bool,
    ) -> Result<Vec<(LeadId, UpsertOutcome)>, StoreError> {
        let mut tx = self.begin_write().await?;
        bulk_cache(&mut tx, self.backend).await?;
        let out = upsert(&mut tx, self.backend, records, source, now).await?;
        if dry_run {
            tx.rollback().await?;
        } else {
            tx.commit().await?;
        }
        Ok(out)
    }

    /// Upserts leads as [`Store::upsert_leads`] does and enrolls each into `sequence` as
    /// [`Store::enroll`] does, in one transaction: a batch of an import lands whole, and its dry
    /// run can tell what enrolling leads it only pretends to create would do. Record `i`'s first
    /// step is `first_step`, due at `due_at[i]`. Returns both functions' outcomes, in input order.
    #[allow(clippy::too_many_arguments)]
    pub async fn upsert_and_enroll(
        &self,
        records: &[LeadRecord],
        source: &str,
        sequence: &str,
        first_step: &str,
        due_at: &[i64],
        now: i64,
        dry_run: bool,
    ) -> Result<UpsertAndEnroll, StoreError> {
        assert_eq!(records.len(), due_at.len(), "one due time per record");
        let mut tx = self.begin_write().await?;
        bulk_cache(&mut tx, self.backend).await?;
        let upserted = upsert(&mut tx, self.backend, records, source, now).await?;
        let requests: Vec<EnrollRequest<'_>> = records
            .iter()
            .zip(&upserted)
            .zip(due_at)
            .map(|((r, (id, _)), due)| EnrollRequest {
                lead: *id,
                email: &r.email,
                first_step,
                due_at: *due,
            })
            .collect();
        let enrolled = enroll(&mut tx, self.backend, sequence, &requests, now).await?;
        if dry_run {
            tx.rollback().await?;
        } else {
            tx.commit().await?;
        }
        Ok(UpsertAndEnroll { upserted, enrolled })
    }

    /// The lead with this email.
    pub async fn lead_by_email(&self, email: &Email) -> Result<Option<StoredLead>, StoreError> {
        let sql = format!(
            "SELECT {LEAD_COLUMNS}, (SELECT domain FROM accounts a WHERE a.id = leads.account_id) AS account FROM leads WHERE email = $1"
        );
        let row = sqlx::query(built(sql))
            .bind(email.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| stored_lead(&r)).transpose()
    }

    /// Everything about the lead with this email, or None when there is none.
    pub async fn lead_view(&self, email: &Email) -> Result<Option<LeadView>, StoreError> {
        let Some(lead) = self.lead_by_email(email).await? else {
            return Ok(None);
        };
        Ok(Some(LeadView {
            enrollments: self.enrollments_for_lead(lead.id).await?,
            touches: self.touches_for_lead(lead.id).await?,
            events: self.events_for_lead(lead.id).await?,
            lead,
        }))
    }

    /// Leads by id (missing ids are left out).
    pub async fn leads_by_ids(
        &self,
        ids: &[LeadId],
    ) -> Result<HashMap<LeadId, StoredLead>, StoreError> {
        let mut out = HashMap::new();
        for chunk in ids.chunks(CHUNK) {
            let sql = format!(
                "SELECT {LEAD_COLUMNS}, (SELECT domain FROM accounts a WHERE a.id = leads.account_id) AS account FROM leads WHERE forgotten_at IS NULL AND id IN ({})",
                in_list(self.backend, chunk.len())
            );
            let mut q = sqlx::query(built(sql));
            for id in chunk {
                q = q.bind(id.0);
            }
            for row in q.fetch_all(&self.pool).await? {
                let lead = stored_lead(&row)?;
                out.insert(lead.id, lead);
            }
        }
        Ok(out)
    }

    /// Number of leads stored.
    pub async fn count_leads(&self) -> Result<i64, StoreError> {
        Ok(
            sqlx::query("SELECT COUNT(*) AS n FROM leads WHERE forgotten_at IS NULL")
                .fetch_one(&self.pool)
                .await?
                .try_get("n")?,
        )
    }
}

/// [`Store::upsert_leads`] inside the caller's transaction.
async fn upsert(
    conn: &mut AnyConnection,
    backend: Backend,
    records: &[LeadRecord],
    source: &str,
    now: i64,
) -> Result<Vec<(LeadId, UpsertOutcome)>, StoreError> {
    // Each address once, in order of first appearance, with the positions of its records:
    // one statement then writes each lead once, with all its records folded together.
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut group_of: HashMap<&str, usize> = HashMap::new();
    for (i, r) in records.iter().enumerate() {
        let g = *group_of.entry(r.email.as_str()).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[g].push(i);
    }
    let mut out: Vec<Option<(LeadId, UpsertOutcome)>> = vec![None; records.len()];
    for chunk in groups.chunks(CHUNK) {
        upsert_chunk(conn, backend, records, chunk, source, now, &mut out).await?;
    }
    Ok(out
        .into_iter()
        .map(|o| o.expect("every record belongs to a group, and every group gets outcomes"))
        .collect())
}

/// Upserts the leads of `groups` (each the positions in `records` of one address), filling
/// their entries of `out`.
async fn upsert_chunk(
    conn: &mut AnyConnection,
    backend: Backend,
    records: &[LeadRecord],
    groups: &[Vec<usize>],
    source: &str,
    now: i64,
    out: &mut [Option<(LeadId, UpsertOutcome)>],
) -> Result<(), StoreError> {
    let first = |g: &Vec<usize>| &records[g[0]];

    // What is stored already. (Addresses never hold NUL: they are JSON-safe.)
    let q = if backend == Backend::Sqlite {
        let emails: Vec<&str> = groups.iter().map(|g| first(g).email.as_str()).collect();
        sqlx::query(built(format!(
            "SELECT {LEAD_COLUMNS} FROM leads WHERE email IN (SELECT j.value FROM json_each(?) AS j)"
        )))
        .bind(json_rows(&emails)?)
    } else {
        let sql = format!(
            "SELECT {LEAD_COLUMNS} FROM leads WHERE email IN ({})",
            in_list(backend, groups.len())
        );
        let mut q = sqlx::query(built(sql));
        for g in groups {
            q = q.bind(first(g).email.as_str());
        }
        q
    };
    let mut existing: HashMap<String, (LeadId, LeadRecord, i64)> = HashMap::new();
    for row in q.fetch_all(&mut *conn).await? {
        let id = LeadId(row.try_get("id")?);
        let fp: i64 = row.try_get("fingerprint")?;
        let rec = lead_record(&row)?;
        existing.insert(rec.email.as_str().to_string(), (id, rec, fp));
    }

    // Fold each address's records over what is stored; an occurrence's outcome is what it
    // changes over the fold before it.
    // A lead to write: its records' positions, the fold (a record that is all there is to
    // write is borrowed, not copied), its fingerprint and each record's outcome.
    type Write<'a> = (&'a [usize], Cow<'a, LeadRecord>, i64, Vec<UpsertOutcome>);
    let mut writes: Vec<Write<'_>> = Vec::new();
    for g in groups {
        let stored = existing.get(first(g).email.as_str());
        let mut current: Option<Cow<'_, LeadRecord>> = stored.map(|(_, rec, _)| Cow::Borrowed(rec));
        let mut steps = Vec::with_capacity(g.len());
        for &i in g {
            let r = &records[i];
            let (next, step) = match &current {
                None => (Cow::Borrowed(r), UpsertOutcome::New),
                Some(c) => {
                    let m = merge(c, r);
                    let step = if m == **c {
                        UpsertOutcome::Unchanged
                    } else {
                        UpsertOutcome::Updated
                    };
                    (Cow::Owned(m), step)
                }
            };
            steps.push(step);
            current = Some(next);
        }
        let folded = current.expect("a group holds at least one record");
        let fp = fingerprint(&folded);
        match stored {
            Some((id, _, old_fp)) if *old_fp == fp => {
                for &i in g {
                    out[i] = Some((*id, UpsertOutcome::Unchanged));
                }
            }
            _ => writes.push((g, folded, fp, steps)),
        }
    }
    if writes.is_empty() {
        return Ok(());
    }

    // Accounts: one per company domain.
    let mut domains: Vec<(&str, Option<&str>)> = Vec::new();
    let mut seen = HashSet::new();
    for (_, r, _, _) in &writes {
        if let Some(d) = r.email.account_domain()
            && seen.insert(d)
        {
            domains.push((d, r.company.as_deref()));
        }
    }
    let mut account_ids: HashMap<String, i64> = HashMap::new();
    // SQLite reads the rows of the account and lead statements out of one JSON bind each,
    // unless a field holds NUL (custom fields travel as their own JSON text, which never does).
    let json = backend == Backend::Sqlite
        && writes.iter().all(|(_, r, _, _)| {
            [
                &r.first_name,
                &r.last_name,
                &r.company,
                &r.title,
                &r.timezone,
                &r.phone,
                &r.owner,
            ]
            .into_iter()
            .flatten()
            .all(|f| json_safe(f))
        });
    if !domains.is_empty() {
        let (insert, select) = if json {
            // One bind each: `[[domain, name], …]` (the domains are addresses' domains, and
            // the names companies of JSON-safe records).
            let rows = json_rows(&domains)?;
            (
                sqlx::query(
                    "INSERT INTO accounts (domain, name, created_at) \
                     SELECT j.value ->> 0, j.value ->> 1, ? FROM jsonb_each(?) AS j WHERE true \
                     ON CONFLICT (domain) DO NOTHING",
                )
                .bind(now)
                .bind(rows.clone()),
                sqlx::query(
                    "SELECT id, domain FROM accounts \
                     WHERE domain IN (SELECT j.value ->> 0 FROM jsonb_each(?) AS j)",
                )
                .bind(rows),
            )
        } else {
            let sql = format!(
                "INSERT INTO accounts (domain, name, created_at) VALUES {} ON CONFLICT (domain) DO NOTHING",
                values_clause(backend, domains.len(), 3)
            );
            let mut insert = sqlx::query(built(sql));
            for (d, name) in &domains {
                insert = insert.bind(*d).bind(name.map(str::to_string)).bind(now);
            }
            let sql = format!(
                "SELECT id, domain FROM accounts WHERE domain IN ({})",
                in_list(backend, domains.len())
            );
            let mut select = sqlx::query(built(sql));
            for (d, _) in &domains {
                select = select.bind(*d);
            }
            (insert, select)
        };
        insert.execute(&mut *conn).await?;
        for row in select.fetch_all(&mut *conn).await? {
            account_ids.insert(row.try_get("domain")?, row.try_get("id")?);
        }
    }

    const UPSERT: &str = "ON CONFLICT (email) DO UPDATE SET first_name = excluded.first_name, last_name = excluded.last_name, \
           company = excluded.company, title = excluded.title, timezone = excluded.timezone, phone = excluded.phone, \
           owner = excluded.owner, account_id = excluded.account_id, custom = excluded.custom, \
           fingerprint = excluded.fingerprint, updated_at = excluded.updated_at \
         RETURNING id, email";
    let account_of = |r: &LeadRecord| {
        r.email
            .account_domain()
            .and_then(|d| account_ids.get(d).copied())
    };
    let q = if json {
        // One bind for all rows: `[[email, first_name, …, account_id, custom, fingerprint], …]`.
        type Row<'a> = (
            &'a str,
            &'a Option<String>,
            &'a Option<String>,
            &'a Option<String>,
            &'a Option<String>,
            &'a Option<String>,
            &'a Option<String>,
            &'a Option<String>,
            Option<i64>,
            String,
            i64,
        );
        let rows: Vec<Row<'_>> = writes
            .iter()
            .map(|(_, r, fp, _)| {
                (
                    r.email.as_str(),
                    &r.first_name,
                    &r.last_name,
                    &r.company,
                    &r.title,
                    &r.timezone,
                    &r.phone,
                    &r.owner,
                    account_of(r),
                    custom_json(&r.custom),
                    *fp,
                )
            })
            .collect();
        sqlx::query(built(format!(
            "INSERT INTO leads (email, first_name, last_name, company, title, timezone, phone, owner, account_id, custom, fingerprint, source, created_at, updated_at) \
             SELECT j.value ->> 0, j.value ->> 1, j.value ->> 2, j.value ->> 3, j.value ->> 4, j.value ->> 5, \
               j.value ->> 6, j.value ->> 7, j.value ->> 8, j.value ->> 9, j.value ->> 10, ?, ?, ? \
             FROM jsonb_each(?) AS j WHERE true {UPSERT}"
        )))
        .bind(source)
        .bind(now)
        .bind(now)
        .bind(json_rows(&rows)?)
    } else {
        let sql = format!(
            "INSERT INTO leads (email, first_name, last_name, company, title, timezone, phone, owner, account_id, custom, source, fingerprint, created_at, updated_at) \
             VALUES {} {UPSERT}",
            values_clause(backend, writes.len(), 14)
        );
        let mut q = sqlx::query(built(sql));
        for (_, r, fp, _) in &writes {
            q = q
                .bind(r.email.as_str())
                .bind(r.first_name.clone())
                .bind(r.last_name.clone())
                .bind(r.company.clone())
                .bind(r.title.clone())
                .bind(r.timezone.clone())
                .bind(r.phone.clone())
                .bind(r.owner.clone())
                .bind(account_of(r))
                .bind(custom_json(&r.custom))
                .bind(source)
                .bind(*fp)
                .bind(now)
                .bind(now);
        }
        q
    };
    let mut ids: HashMap<String, i64> = HashMap::new();
    for row in q.fetch_all(&mut *conn).await? {
        ids.insert(row.try_get("email")?, row.try_get("id")?);
    }
    // The log: a new lead arrived (owned by whom, from where), a stored one changed owner.
    let source_data = serde_json::json!({ "source": source });
    let mut arrivals: Vec<NewEvent<'_>> = Vec::new();
    for (g, r, _, steps) in &writes {
        let id = ids
            .get(r.email.as_str())
            .copied()
            .ok_or_else(|| StoreError::Corrupt(format!("upsert of {} returned no id", r.email)))?;
        for (&i, step) in g.iter().zip(steps) {
            out[i] = Some((LeadId(id), *step));
        }
        match existing.get(r.email.as_str()) {
            None => {
                let mut ev = NewEvent::about(EventKind::Received, Some(LeadId(id)));
                ev.mailbox = r.owner.as_deref();
                ev.data = source_data.clone();
                arrivals.push(ev);
            }
            Some((_, old, _)) if old.owner != r.owner && r.owner.is_some() => {
                let mut ev = NewEvent::about(EventKind::Assigned, Some(LeadId(id)));
                ev.mailbox = r.owner.as_deref();
                ev.data = serde_json::json!({ "from": old.owner, "by": source });
                arrivals.push(ev);
            }
            Some(_) => {}
        }
    }
    events::insert_many(conn, backend, &arrivals, now).await?;
    Ok(())
}

/// `new` laid over `old`: given fields replace, empty ones keep the stored value.
fn merge(old: &LeadRecord, new: &LeadRecord) -> LeadRecord {
    let pick = |n: &Option<String>, o: &Option<String>| n.clone().or_else(|| o.clone());
    let mut custom = old.custom.clone();
    custom.extend(new.custom.iter().map(|(k, v)| (k.clone(), v.clone())));
    LeadRecord {
        email: new.email.clone(),
        first_name: pick(&new.first_name, &old.first_name),
        last_name: pick(&new.last_name, &old.last_name),
        company: pick(&new.company, &old.company),
        title: pick(&new.title, &old.title),
        timezone: pick(&new.timezone, &old.timezone),
        phone: pick(&new.phone, &old.phone),
        owner: pick(&new.owner, &old.owner),
        custom,
    }
}

/// A hash of everything an import can change, to tell unchanged rows cheaply.
pub(super) fn fingerprint(r: &LeadRecord) -> i64 {
    let mut s = String::with_capacity(128);
    for f in [
        &r.first_name,
        &r.last_name,
        &r.company,
        &r.title,
        &r.timezone,
        &r.phone,
        &r.owner,
    ] {
        s.push_str(f.as_deref().unwrap_or("\u{1}"));
        s.push('\u{0}');
    }
    for (k, v) in &r.custom {
        s.push_str(k);
        s.push('\u{0}');
        s.push_str(v);
        s.push('\u{0}');
    }
    crate::domain::fnv1a(s.as_bytes()) as i64
}

fn custom_json(custom: &BTreeMap<String, String>) -> String {
    serde_json::to_string(custom).expect("a map of strings serializes")
}

fn lead_record(row: &AnyRow) -> Result<LeadRecord, StoreError> {
    let email: String = row.try_get("email")?;
    let custom: String = row.try_get("custom")?;
    Ok(LeadRecord {
        email: Email::parse(&email)
            .map_err(|e| StoreError::Corrupt(format!("lead email {email:?}: {e}")))?,
        first_name: row.try_get("first_name")?,
        last_name: row.try_get("last_name")?,
        company: row.try_get("company")?,
        title: row.try_get("title")?,
        timezone: row.try_get("timezone")?,
        phone: row.try_get("phone")?,
        owner: row.try_get("owner")?,
        custom: serde_json::from_str(&custom)
            .map_err(|e| StoreError::Corrupt(format!("lead {email} custom fields: {e}")))?,
    })
}

pub(super) fn stored_lead(row: &AnyRow) -> Result<StoredLead, StoreError> {
    Ok(StoredLead {
        id: LeadId(row.try_get("id")?),
        record: lead_record(row)?,
        account: row.try_get("account")?,
        source: row.try_get("source")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

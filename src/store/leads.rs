//! Leads and accounts.

use std::collections::{BTreeMap, HashMap, HashSet};

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Backend, Store, StoreError, built, in_list, values_clause};
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

const LEAD_COLUMNS: &str = "id, email, first_name, last_name, company, title, timezone, phone, owner, custom, source, created_at, updated_at, fingerprint";

/// Rows per multi-row statement: well under SQLite's and PostgreSQL's bind limits.
const CHUNK: usize = 500;

impl Store {
    /// Inserts new leads and updates changed ones, in one transaction. A field the new record
    /// leaves empty keeps its stored value (an import never erases data); custom fields merge.
    /// Returns, for each input record in order, its id and what happened. The same email may
    /// appear several times; later records win. With `dry_run` the transaction is rolled
    /// back: the outcomes say what would happen and nothing changes.
    pub async fn upsert_leads(
        &self,
        records: &[LeadRecord],
        source: &str,
        now: i64,
        dry_run: bool,
    ) -> Result<Vec<(LeadId, UpsertOutcome)>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let mut out = Vec::with_capacity(records.len());
        let mut start = 0;
        while start < records.len() {
            // A chunk holds each email once, so one statement never touches a row twice.
            let mut seen = HashSet::new();
            let mut end = start;
            while end < records.len()
                && end - start < CHUNK
                && seen.insert(records[end].email.as_str())
            {
                end += 1;
            }
            let chunk = &records[start..end];
            out.extend(upsert_chunk(&mut tx, self.backend, chunk, source, now).await?);
            start = end;
        }
        if dry_run {
            tx.rollback().await?;
        } else {
            tx.commit().await?;
        }
        Ok(out)
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

    /// Leads by id (missing ids are left out).
    pub async fn leads_by_ids(
        &self,
        ids: &[LeadId],
    ) -> Result<HashMap<LeadId, StoredLead>, StoreError> {
        let mut out = HashMap::new();
        for chunk in ids.chunks(CHUNK) {
            let sql = format!(
                "SELECT {LEAD_COLUMNS}, (SELECT domain FROM accounts a WHERE a.id = leads.account_id) AS account FROM leads WHERE id IN ({})",
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
        Ok(sqlx::query("SELECT COUNT(*) AS n FROM leads")
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?)
    }
}

async fn upsert_chunk(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    backend: Backend,
    chunk: &[LeadRecord],
    source: &str,
    now: i64,
) -> Result<Vec<(LeadId, UpsertOutcome)>, StoreError> {
    // Accounts first: one per company domain.
    let mut domains: Vec<(&str, Option<&str>)> = Vec::new();
    let mut seen = HashSet::new();
    for r in chunk {
        if let Some(d) = r.email.account_domain()
            && seen.insert(d)
        {
            domains.push((d, r.company.as_deref()));
        }
    }
    let mut account_ids: HashMap<String, i64> = HashMap::new();
    if !domains.is_empty() {
        let sql = format!(
            "INSERT INTO accounts (domain, name, created_at) VALUES {} ON CONFLICT (domain) DO NOTHING",
            values_clause(backend, domains.len(), 3)
        );
        let mut q = sqlx::query(built(sql));
        for (d, name) in &domains {
            q = q.bind(*d).bind(name.map(str::to_string)).bind(now);
        }
        q.execute(&mut **tx).await?;
        let sql = format!(
            "SELECT id, domain FROM accounts WHERE domain IN ({})",
            in_list(backend, domains.len())
        );
        let mut q = sqlx::query(built(sql));
        for (d, _) in &domains {
            q = q.bind(*d);
        }
        for row in q.fetch_all(&mut **tx).await? {
            account_ids.insert(row.try_get("domain")?, row.try_get("id")?);
        }
    }

    // What is stored already.
    let sql = format!(
        "SELECT {LEAD_COLUMNS} FROM leads WHERE email IN ({})",
        in_list(backend, chunk.len())
    );
    let mut q = sqlx::query(built(sql));
    for r in chunk {
        q = q.bind(r.email.as_str());
    }
    let mut existing: HashMap<String, (LeadId, LeadRecord, i64)> = HashMap::new();
    for row in q.fetch_all(&mut **tx).await? {
        let id = LeadId(row.try_get("id")?);
        let fp: i64 = row.try_get("fingerprint")?;
        let rec = lead_record(&row)?;
        existing.insert(rec.email.as_str().to_string(), (id, rec, fp));
    }

    let mut outcomes: Vec<Option<(LeadId, UpsertOutcome)>> = vec![None; chunk.len()];
    let mut writes: Vec<(usize, LeadRecord, i64)> = Vec::new();
    for (i, r) in chunk.iter().enumerate() {
        match existing.get(r.email.as_str()) {
            None => {
                let fp = fingerprint(r);
                writes.push((i, r.clone(), fp));
            }
            Some((id, old, old_fp)) => {
                let merged = merge(old, r);
                let fp = fingerprint(&merged);
                if fp == *old_fp {
                    outcomes[i] = Some((*id, UpsertOutcome::Unchanged));
                } else {
                    writes.push((i, merged, fp));
                }
            }
        }
    }
    if !writes.is_empty() {
        let sql = format!(
            "INSERT INTO leads (email, first_name, last_name, company, title, timezone, phone, owner, account_id, custom, source, fingerprint, created_at, updated_at) \
             VALUES {} \
             ON CONFLICT (email) DO UPDATE SET first_name = excluded.first_name, last_name = excluded.last_name, \
               company = excluded.company, title = excluded.title, timezone = excluded.timezone, phone = excluded.phone, \
               owner = excluded.owner, account_id = excluded.account_id, custom = excluded.custom, \
               fingerprint = excluded.fingerprint, updated_at = excluded.updated_at \
             RETURNING id, email",
            values_clause(backend, writes.len(), 14)
        );
        let mut q = sqlx::query(built(sql));
        for (_, r, fp) in &writes {
            let account = r
                .email
                .account_domain()
                .and_then(|d| account_ids.get(d).copied());
            q = q
                .bind(r.email.as_str())
                .bind(r.first_name.clone())
                .bind(r.last_name.clone())
                .bind(r.company.clone())
                .bind(r.title.clone())
                .bind(r.timezone.clone())
                .bind(r.phone.clone())
                .bind(r.owner.clone())
                .bind(account)
                .bind(custom_json(&r.custom))
                .bind(source)
                .bind(*fp)
                .bind(now)
                .bind(now);
        }
        let mut ids: HashMap<String, i64> = HashMap::new();
        for row in q.fetch_all(&mut **tx).await? {
            ids.insert(row.try_get("email")?, row.try_get("id")?);
        }
        for (i, r, _) in &writes {
            let id = ids.get(r.email.as_str()).copied().ok_or_else(|| {
                StoreError::Corrupt(format!("upsert of {} returned no id", r.email))
            })?;
            let outcome = if existing.contains_key(r.email.as_str()) {
                UpsertOutcome::Updated
            } else {
                UpsertOutcome::New
            };
            outcomes[*i] = Some((LeadId(id), outcome));
        }
    }
    Ok(outcomes
        .into_iter()
        .map(|o| o.expect("every record got an outcome"))
        .collect())
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
fn fingerprint(r: &LeadRecord) -> i64 {
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
    crate::render::fnv1a(s.as_bytes()) as i64
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

fn stored_lead(row: &AnyRow) -> Result<StoredLead, StoreError> {
    Ok(StoredLead {
        id: LeadId(row.try_get("id")?),
        record: lead_record(row)?,
        account: row.try_get("account")?,
        source: row.try_get("source")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

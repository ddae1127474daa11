//! Leads and accounts.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::enrollments::enroll;
use super::events::{self, NewEvent};
use super::statements::{Stmt, Val};
use super::{Backend, EnrollOutcome, EnrollRequest, Store, StoreError};
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
    /// Its address is at a disposable (throwaway) mail domain.
    pub disposable_domain: bool,
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

/// The columns [`stored_lead`] reads (with `account`), for statements built outside `sql/`.
pub(super) const LEAD_COLUMNS: &str = "id, email, first_name, last_name, company, title, timezone, phone, owner, custom, source, created_at, updated_at, fingerprint";

/// Where [`Store::upsert_and_enroll`] enrolls the leads it upserts.
#[derive(Debug, Clone, Copy)]
pub struct EnrollInto<'a> {
    /// The sequence.
    pub sequence: &'a str,
    /// Its first step.
    pub first_step: &'a str,
    /// When record `i`'s first step is due (unix seconds): exactly one per record.
    pub due_at: &'a [i64],
    /// The rules the leads are judged by, and whether they are forced.
    pub admission: super::Admission<'a>,
}

/// Rows per multi-row statement: well under SQLite's and PostgreSQL's bind limits.
const CHUNK: usize = 500;

/// Grows the page cache of a connection that writes leads in bulk (SQLite; see the file).
async fn bulk_cache(conn: &mut sqlx::AnyConnection, backend: Backend) -> Result<(), StoreError> {
    if backend == Backend::Sqlite {
        sqlx::query(include_str!("sql/leads/bulk_cache.sqlite.sql"))
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

    /// Upserts leads as [`Store::upsert_leads`] does and enrolls each into `into.sequence` as
    /// [`Store::enroll_under`] does (under `into.admission`), in one transaction: a batch of an
    /// import lands whole, and its dry run can tell what enrolling leads it only pretends to
    /// create would do. Record `i`'s first step is `into.first_step`, due at `into.due_at[i]`.
    /// Returns both functions' outcomes, in input order. Panics when `into.due_at` does not
    /// hold one time per record.
    pub async fn upsert_and_enroll(
        &self,
        records: &[LeadRecord],
        source: &str,
        into: EnrollInto<'_>,
        now: i64,
        dry_run: bool,
    ) -> Result<UpsertAndEnroll, StoreError> {
        assert_eq!(records.len(), into.due_at.len(), "one due time per record");
        let mut tx = self.begin_write().await?;
        bulk_cache(&mut tx, self.backend).await?;
        let upserted = upsert(&mut tx, self.backend, records, source, now).await?;
        let requests: Vec<EnrollRequest<'_>> = records
            .iter()
            .zip(&upserted)
            .zip(into.due_at)
            .map(|((r, (id, _)), due)| EnrollRequest {
                lead: *id,
                email: &r.email,
                first_step: into.first_step,
                due_at: *due,
            })
            .collect();
        let enrolled = enroll(
            &mut tx,
            self.backend,
            into.sequence,
            &requests,
            &into.admission,
            now,
        )
        .await?;
        if dry_run {
            tx.rollback().await?;
        } else {
            tx.commit().await?;
        }
        Ok(UpsertAndEnroll { upserted, enrolled })
    }

    /// The lead with this email.
    pub async fn lead_by_email(&self, email: &Email) -> Result<Option<StoredLead>, StoreError> {
        let row = sqlx::query(include_str!("sql/leads/by_email.sql"))
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
            disposable_domain: crate::lead::disposable(lead.record.email.domain()),
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
            let ids = Val::List(chunk.iter().map(|id| Val::from(id.0)).collect());
            let mut q = Stmt::new(self.backend);
            q.sql_args(include_str!("sql/leads/by_ids.sql"), &[ids]);
            for row in q.fetch_all(&self.pool).await? {
                let lead = stored_lead(&row)?;
                out.insert(lead.id, lead);
            }
        }
        Ok(out)
    }

    /// Number of leads stored.
    pub async fn count_leads(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query(include_str!("sql/leads/count.sql"))
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?)
    }
}

/// [`Store::upsert_leads`] inside the caller's transaction.
pub(super) async fn upsert(
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
    let batch = Batch {
        backend,
        records,
        source,
        now,
    };
    for chunk in groups.chunks(CHUNK) {
        batch.upsert_chunk(conn, chunk, &mut out).await?;
    }
    Ok(out
        .into_iter()
        .map(|o| o.expect("every record belongs to a group, and every group gets outcomes"))
        .collect())
}

/// What every chunk of one upsert shares.
struct Batch<'r> {
    backend: Backend,
    records: &'r [LeadRecord],
    source: &'r str,
    now: i64,
}

/// A stored lead: its id, its record and its fingerprint.
type Stored = (LeadId, LeadRecord, i64);

/// A lead to write: the positions of its records, the fold (a record that is all there is to
/// write is borrowed, not copied), its fingerprint and each record's outcome.
struct Write<'a> {
    group: &'a [usize],
    lead: Cow<'a, LeadRecord>,
    fingerprint: i64,
    steps: Vec<UpsertOutcome>,
}

impl Batch<'_> {
    /// Upserts the leads of `groups` (each the positions in `records` of one address), filling
    /// their entries of `out`.
    async fn upsert_chunk(
        &self,
        conn: &mut AnyConnection,
        groups: &[Vec<usize>],
        out: &mut [Option<(LeadId, UpsertOutcome)>],
    ) -> Result<(), StoreError> {
        let emails = groups.iter().map(|g| self.records[g[0]].email.as_str());
        let existing = stored(conn, self.backend, emails).await?;
        let writes = self.fold(groups, &existing, out);
        if writes.is_empty() {
            return Ok(());
        }
        let accounts = upsert_accounts(conn, self.backend, &writes, self.now).await?;
        let ids = self.write(conn, &writes, &accounts).await?;
        let mut arrivals: Vec<NewEvent<'_>> = Vec::new();
        for w in &writes {
            let id = ids.get(w.lead.email.as_str()).copied().ok_or_else(|| {
                StoreError::Corrupt(format!("upsert of {} returned no id", w.lead.email))
            })?;
            for (&i, step) in w.group.iter().zip(&w.steps) {
                out[i] = Some((LeadId(id), *step));
            }
            let old = existing.get(w.lead.email.as_str()).map(|(_, old, _)| old);
            arrivals.extend(self.arrival(LeadId(id), old, &w.lead));
        }
        events::insert_many(conn, self.backend, &arrivals, self.now).await
    }

    /// Folds each address's records over what is stored; an occurrence's outcome is what it
    /// changes over the fold before it. Leads the fold leaves as stored get their outcomes in
    /// `out` at once; the others are returned, to write.
    fn fold<'a>(
        &'a self,
        groups: &'a [Vec<usize>],
        existing: &'a HashMap<String, Stored>,
        out: &mut [Option<(LeadId, UpsertOutcome)>],
    ) -> Vec<Write<'a>> {
        let mut writes = Vec::new();
        for g in groups {
            let stored = existing.get(self.records[g[0]].email.as_str());
            let mut current: Option<Cow<'a, LeadRecord>> =
                stored.map(|(_, rec, _)| Cow::Borrowed(rec));
            let mut steps = Vec::with_capacity(g.len());
            for &i in g {
                let r = &self.records[i];
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
            let lead = current.expect("a group holds at least one record");
            let fingerprint = fingerprint(&lead);
            match stored {
                Some((id, _, old_fp)) if *old_fp == fingerprint => {
                    for &i in g {
                        out[i] = Some((*id, UpsertOutcome::Unchanged));
                    }
                }
                _ => writes.push(Write {
                    group: g,
                    lead,
                    fingerprint,
                    steps,
                }),
            }
        }
        writes
    }

    /// Writes `writes` in one statement; returns each address's lead id.
    async fn write(
        &self,
        conn: &mut AnyConnection,
        writes: &[Write<'_>],
        accounts: &HashMap<String, i64>,
    ) -> Result<HashMap<String, i64>, StoreError> {
        const COLS: [&str; 11] = [
            "email",
            "first_name",
            "last_name",
            "company",
            "title",
            "timezone",
            "phone",
            "owner",
            "account_id",
            "custom",
            "fingerprint",
        ];
        let rows = writes
            .iter()
            .map(|w| {
                let r = &*w.lead;
                let account = r.email.account_domain().and_then(|d| accounts.get(d));
                vec![
                    Val::from(r.email.as_str()),
                    Val::from(&r.first_name),
                    Val::from(&r.last_name),
                    Val::from(&r.company),
                    Val::from(&r.title),
                    Val::from(&r.timezone),
                    Val::from(&r.phone),
                    Val::from(&r.owner),
                    Val::from(account.copied()),
                    Val::from(custom_json(&r.custom)),
                    Val::from(w.fingerprint),
                ]
            })
            .collect();
        let mut q = Stmt::new(self.backend);
        q.values(&COLS, rows).sql_args(
            include_str!("sql/leads/upsert.sql"),
            &[Val::from(self.source), Val::from(self.now)],
        );
        let mut ids = HashMap::new();
        for row in q.fetch_all(&mut *conn).await? {
            ids.insert(row.try_get("email")?, row.try_get("id")?);
        }
        Ok(ids)
    }

    /// The log of one write: a new lead arrived (owned by whom, from where), or a stored one
    /// (`old`) changed owner.
    fn arrival<'a>(
        &'a self,
        id: LeadId,
        old: Option<&LeadRecord>,
        lead: &'a LeadRecord,
    ) -> Option<NewEvent<'a>> {
        let (kind, data) = match old {
            None => (EventKind::Received, json!({ "source": self.source })),
            Some(old) if old.owner != lead.owner && lead.owner.is_some() => (
                EventKind::Assigned,
                json!({ "from": old.owner, "by": self.source }),
            ),
            Some(_) => return None,
        };
        let mut ev = NewEvent::about(kind, Some(id));
        ev.mailbox = lead.owner.as_deref();
        ev.data = data;
        Some(ev)
    }
}

/// What is stored for `emails` (addresses never hold NUL: they are JSON-safe), by address.
/// On PostgreSQL the rows stay locked until the transaction ends, taken in id order: the fold
/// is written over what was read (no concurrent write lost in between), and concurrent
/// upserts and enrollments lock the leads they share in one order, so they queue instead of
/// deadlocking (a lead left unchanged was otherwise first locked later, by the admission).
async fn stored(
    conn: &mut AnyConnection,
    backend: Backend,
    emails: impl Iterator<Item = &str>,
) -> Result<HashMap<String, Stored>, StoreError> {
    let mut q = Stmt::new(backend);
    q.sql_args(
        include_str!("sql/leads/stored.sql"),
        &[Val::List(emails.map(Val::from).collect())],
    );
    if backend == Backend::Postgres {
        q.sql(include_str!("sql/leads/stored_lock.postgres.sql"));
    }
    let mut existing = HashMap::new();
    for row in q.fetch_all(&mut *conn).await? {
        let id = LeadId(row.try_get("id")?);
        let fp: i64 = row.try_get("fingerprint")?;
        let rec = lead_record(&row)?;
        existing.insert(rec.email.as_str().to_string(), (id, rec, fp));
    }
    Ok(existing)
}

/// Makes sure every company domain of `writes` has its account (named for the first record's
/// company); returns the accounts' ids by domain.
async fn upsert_accounts(
    conn: &mut AnyConnection,
    backend: Backend,
    writes: &[Write<'_>],
    now: i64,
) -> Result<HashMap<String, i64>, StoreError> {
    let mut rows: Vec<Vec<Val<'_>>> = Vec::new();
    let mut domains: Vec<Val<'_>> = Vec::new();
    let mut seen = HashSet::new();
    for w in writes {
        if let Some(d) = w.lead.email.account_domain()
            && seen.insert(d)
        {
            rows.push(vec![Val::from(d), Val::from(&w.lead.company)]);
            domains.push(Val::from(d));
        }
    }
    let mut account_ids = HashMap::new();
    if rows.is_empty() {
        return Ok(account_ids);
    }
    let mut insert = Stmt::new(backend);
    insert.values(&["domain", "name"], rows).sql_args(
        include_str!("sql/leads/insert_accounts.sql"),
        &[Val::from(now)],
    );
    insert.execute(&mut *conn).await?;
    let mut select = Stmt::new(backend);
    select.sql_args(
        include_str!("sql/leads/account_ids.sql"),
        &[Val::List(domains)],
    );
    for row in select.fetch_all(&mut *conn).await? {
        account_ids.insert(row.try_get("domain")?, row.try_get("id")?);
    }
    Ok(account_ids)
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

pub(super) fn lead_record(row: &AnyRow) -> Result<LeadRecord, StoreError> {
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

//! The facts `policy::admit` decides on, gathered inside the enrolling transaction: each lead's
//! open enrollments, when it or anyone at its account last finished a sequence that emailed
//! them, and how many of its account's leads are in sequences. On PostgreSQL the leads (and,
//! under a cap, their accounts) are locked first, so two transactions enrolling the same lead,
//! or two leads of one capped account, decide one after the other.

use std::collections::{HashMap, HashSet};

use sqlx::{AnyConnection, Row};

use super::statements::{Stmt, Val};
use super::{Backend, LeadId, StoreError};
use crate::policy::{EnrollFacts, EnrollRules, Refusal, admit};

/// How a run of enrollments is judged: the rules, and whether a person overrides them.
#[derive(Debug, Clone, Copy)]
pub struct Admission<'a> {
    /// The rules (config.toml's `[enrollment]` and the sequences' `exclusive:`).
    pub rules: &'a EnrollRules,
    /// Enroll even when a rule refuses (`--force`, the API's `force`); each such enrollment
    /// is logged and its `enrolled` event says what was overridden, and by whom.
    pub force: bool,
    /// Who enrolls, for the log and the timeline: `cli`, `api`…
    pub by: &'a str,
}

impl Admission<'_> {
    /// No rules: only suppression and "already in this sequence" hold a lead back.
    pub const OPEN: Admission<'static> = Admission {
        rules: &EnrollRules::OPEN,
        force: false,
        by: "store",
    };
}

/// What the store knows of one lead of a chunk.
#[derive(Debug, Clone, Default)]
pub(super) struct Known {
    /// It has an enrollment in the sequence being enrolled into (any state).
    pub in_sequence: bool,
    /// Its account's row id.
    pub account_id: Option<i64>,
    /// The facts the policy reads.
    pub facts: EnrollFacts,
}

/// The facts of each lead of `leads` (in order) for enrolling into `sequence` under `rules`;
/// on PostgreSQL the leads (and, with a cap, their accounts) stay locked until the
/// transaction ends. Queries only what the rules need.
pub(super) async fn gather(
    conn: &mut AnyConnection,
    backend: Backend,
    sequence: &str,
    leads: &[LeadId],
    rules: &EnrollRules,
) -> Result<Vec<Known>, StoreError> {
    let mut known: Vec<Known> = vec![Known::default(); leads.len()];
    if leads.is_empty() {
        return Ok(known);
    }
    let ids = || Val::List(leads.iter().map(|l| Val::from(l.0)).collect());
    let at: HashMap<i64, Vec<usize>> =
        leads
            .iter()
            .enumerate()
            .fold(HashMap::new(), |mut m, (i, l)| {
                m.entry(l.0).or_default().push(i);
                m
            });
    if rules.need_account() {
        for r in query(
            conn,
            backend,
            include_str!("sql/admission/accounts.sql"),
            &[ids()],
        )
        .await?
        {
            for &i in at
                .get(&r.try_get::<i64, _>("lead_id")?)
                .into_iter()
                .flatten()
            {
                known[i].account_id = Some(r.try_get("account_id")?);
                known[i].facts.account = Some(r.try_get("domain")?);
            }
        }
    }
    let accounts: Vec<i64> = known
        .iter()
        .filter_map(|k| k.account_id)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    if backend == Backend::Postgres {
        lock(conn, backend, leads, &accounts, rules).await?;
    }
    let sql = include_str!("sql/admission/enrollments.sql");
    for r in query(conn, backend, sql, &[ids(), Val::from(sequence)]).await? {
        let seq: String = r.try_get("sequence_id")?;
        for &i in at
            .get(&r.try_get::<i64, _>("lead_id")?)
            .into_iter()
            .flatten()
        {
            if seq == sequence {
                known[i].in_sequence = true;
            } else {
                known[i].facts.open.push(seq.clone());
            }
        }
    }
    if rules.recontact_after.is_some() {
        let sql = include_str!("sql/admission/lead_finished.sql");
        for (lead, t) in keyed(conn, backend, sql, ids(), "at").await? {
            for &i in at.get(&lead).into_iter().flatten() {
                known[i].facts.lead_finished = Some(t);
            }
        }
    }
    account_facts(conn, backend, rules, &accounts, &mut known).await?;
    Ok(known)
}

/// Locks the leads (and, under a cap, their accounts) until the transaction ends, each kind in
/// id order (PostgreSQL).
async fn lock(
    conn: &mut AnyConnection,
    backend: Backend,
    leads: &[LeadId],
    accounts: &[i64],
    rules: &EnrollRules,
) -> Result<(), StoreError> {
    if rules.max_active_per_account.is_some() && !accounts.is_empty() {
        let list = Val::List(sorted(accounts).into_iter().map(Val::from).collect());
        let sql = include_str!("sql/admission/lock_accounts.postgres.sql");
        query(conn, backend, sql, &[list]).await?;
    }
    let list = Val::List(leads.iter().map(|l| Val::from(l.0)).collect());
    let sql = include_str!("sql/admission/lock_leads.postgres.sql");
    query(conn, backend, sql, &[list]).await?;
    Ok(())
}

/// The account side of the facts: when anyone there last finished a sequence that emailed
/// them, and how many of its leads are in sequences (this lead left out).
async fn account_facts(
    conn: &mut AnyConnection,
    backend: Backend,
    rules: &EnrollRules,
    accounts: &[i64],
    known: &mut [Known],
) -> Result<(), StoreError> {
    if accounts.is_empty() {
        return Ok(());
    }
    let list = || Val::List(accounts.iter().map(|a| Val::from(*a)).collect());
    if rules.recontact_after.is_some() {
        let sql = include_str!("sql/admission/account_finished.sql");
        let finished = keyed(conn, backend, sql, list(), "at").await?;
        for k in known.iter_mut() {
            k.facts.account_finished = k.account_id.and_then(|a| finished.get(&a).copied());
        }
    }
    if rules.max_active_per_account.is_some() {
        let sql = include_str!("sql/admission/account_active.sql");
        let active = keyed(conn, backend, sql, list(), "n").await?;
        for k in known.iter_mut() {
            let n = k
                .account_id
                .and_then(|a| active.get(&a).copied())
                .unwrap_or(0);
            // The lead itself counts there when it is in a sequence already.
            let own = i64::from(!k.facts.open.is_empty());
            k.facts.account_active = u32::try_from((n - own).max(0)).unwrap_or(u32::MAX);
        }
    }
    Ok(())
}

/// Runs `sql` (a file of `sql/admission/`) with `args`.
async fn query(
    conn: &mut AnyConnection,
    backend: Backend,
    sql: &str,
    args: &[Val<'_>],
) -> Result<Vec<sqlx::any::AnyRow>, StoreError> {
    let mut q = Stmt::new(backend);
    q.sql_args(sql, args);
    q.fetch_all(&mut *conn).await
}

/// The rows of `sql` (over the list `arg`) as `k` → the integer column `col`; NULLs left out.
async fn keyed(
    conn: &mut AnyConnection,
    backend: Backend,
    sql: &str,
    arg: Val<'_>,
    col: &str,
) -> Result<HashMap<i64, i64>, StoreError> {
    let mut out = HashMap::new();
    for r in query(conn, backend, sql, &[arg]).await? {
        if let Some(v) = r.try_get::<Option<i64>, _>(col)? {
            out.insert(r.try_get("k")?, v);
        }
    }
    Ok(out)
}

fn sorted(v: &[i64]) -> Vec<i64> {
    let mut v = v.to_vec();
    v.sort_unstable();
    v
}

/// What becomes of one lead of a chunk.
#[derive(Debug, Clone)]
pub(super) enum Verdict {
    /// Enrolled (or found in the sequence already).
    Admit,
    /// A rule refuses, and the caller forces it: enrolled, and it says so.
    Force(Refusal),
    /// A rule refuses.
    Refuse(Refusal),
}

/// The verdict on each of `leads` (each once, in order) for enrolling into `sequence` at `now`:
/// the facts are gathered here, the policy decides. A lead admitted counts toward its
/// account's cap for the leads after it.
pub(super) async fn judge(
    conn: &mut AnyConnection,
    backend: Backend,
    sequence: &str,
    leads: &[LeadId],
    admission: &Admission<'_>,
    now: i64,
) -> Result<Vec<Verdict>, StoreError> {
    if !admission.rules.any() {
        return Ok(vec![Verdict::Admit; leads.len()]);
    }
    let known = gather(conn, backend, sequence, leads, admission.rules).await?;
    let mut added: HashMap<i64, u32> = HashMap::new();
    let mut out = Vec::with_capacity(leads.len());
    for k in known {
        if k.in_sequence {
            out.push(Verdict::Admit);
            continue;
        }
        let mut facts = k.facts;
        if let Some(a) = k.account_id {
            facts.account_active += added.get(&a).copied().unwrap_or(0);
        }
        let verdict = match admit(admission.rules, sequence, &facts, now) {
            Ok(()) => Verdict::Admit,
            Err(r) if admission.force => Verdict::Force(r),
            Err(r) => Verdict::Refuse(r),
        };
        if !matches!(verdict, Verdict::Refuse(_))
            && facts.open.is_empty()
            && let Some(a) = k.account_id
        {
            *added.entry(a).or_default() += 1;
        }
        out.push(verdict);
    }
    Ok(out)
}

//! Applying what the policy decided (`crate::policy`): the store does what an [`Effect`] says,
//! inside the transaction that records the signal, and decides nothing itself.

use std::fmt;

use sqlx::AnyConnection;

use super::enrollments::end_open;
use super::{LeadId, StoreError, built};
use crate::bounce::{Reason, Side};
use crate::domain::{InboundKind, ProviderKind};
use crate::policy::{Effect, Stop, Strike};

/// Open enrollments: the ones a reply, bounce or unsubscribe ends.
const OPEN: &str = "('active', 'paused')";

/// Whom an effect is about.
#[derive(Debug, Clone, Copy)]
pub(super) struct Subject<'a> {
    /// The lead, when the signal names one of ours.
    pub lead: Option<i64>,
    /// The enrollment the signal is about (a pause holds only this one).
    pub enrollment: Option<i64>,
    /// The address, for a suppression of someone who is no lead of ours.
    pub address: Option<&'a str>,
    /// Where the suppression came from (the classifier's rule, "sendgrid webhook"…).
    pub note: &'a str,
}

/// What applying an effect changed, as the watcher logs it and `run --once --json` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Applied {
    /// Nothing changed.
    Nothing,
    /// Enrollments ended: the lead's, and the account's others when the sequence says so.
    Stopped {
        /// The lead's enrollments ended.
        lead: u64,
        /// The other leads' at the same account (a reply under `on_reply: stop-account`).
        account: Option<u64>,
    },
    /// The enrollment waits.
    Paused,
    /// The address is on the suppression list (and the lead's enrollments ended).
    Suppressed,
}

impl fmt::Display for Applied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Applied::Nothing => f.write_str("none"),
            Applied::Stopped {
                lead,
                account: None,
            } => write!(f, "stopped {lead}"),
            Applied::Stopped {
                lead,
                account: Some(m),
            } => write!(f, "stopped {lead}, account {m}"),
            Applied::Paused => f.write_str("paused"),
            Applied::Suppressed => f.write_str("suppressed"),
        }
    }
}

/// Does what `effect` says about `subject`.
pub(super) async fn apply(
    tx: &mut AnyConnection,
    effect: Effect,
    subject: Subject<'_>,
    now: i64,
) -> Result<Applied, StoreError> {
    match (effect, subject.lead) {
        (Effect::Nothing, _) => Ok(Applied::Nothing),
        (Effect::Stop(stop), Some(lead)) => stop_lead(tx, stop, lead, subject.note, now).await,
        (Effect::Pause { until, reason }, _) => {
            if let Some(enrollment) = subject.enrollment {
                pause(tx, enrollment, until, reason, now).await?;
            }
            Ok(Applied::Paused)
        }
        (Effect::SuppressAddress(reason), _) => match subject.address {
            Some(address) => {
                sqlx::query(
                    "INSERT INTO suppressions (value, reason, note, created_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (value) DO NOTHING",
                )
                .bind(address)
                .bind(reason.as_str())
                .bind(subject.note)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                Ok(Applied::Suppressed)
            }
            None => Ok(Applied::Nothing),
        },
        (Effect::Stop(_), None) => Ok(Applied::Nothing),
    }
}

async fn stop_lead(
    tx: &mut AnyConnection,
    stop: Stop,
    lead: i64,
    note: &str,
    now: i64,
) -> Result<Applied, StoreError> {
    let n = end_open(tx, LeadId(lead), stop.state, stop.outcome, stop.reason, now).await?;
    let account = if stop.account {
        Some(
            sqlx::query(built(format!(
                "UPDATE enrollments SET state = 'stopped', outcome = 'account-replied', reason = 'someone at the same company replied', \
                 updated_at = $1, finished_at = $1, next_due_at = NULL WHERE state IN {OPEN} AND lead_id IN (\
                   SELECT id FROM leads WHERE account_id IS NOT NULL AND account_id = (SELECT account_id FROM leads WHERE id = $2) AND id <> $2)"
            )))
            .bind(now)
            .bind(lead)
            .execute(&mut *tx)
            .await?
            .rows_affected(),
        )
    } else {
        None
    };
    match stop.suppress {
        Some(reason) => {
            suppress(tx, lead, reason.as_str(), note, now).await?;
            Ok(Applied::Suppressed)
        }
        None => Ok(Applied::Stopped { lead: n, account }),
    }
}

/// The lead's own soft bounces recorded so far (not refusals of the sender), from the inbox
/// and from every provider.
pub(super) async fn soft_bounces(tx: &mut AnyConnection, lead: i64) -> Result<i64, StoreError> {
    let lead_side: Vec<&str> = Reason::ALL
        .into_iter()
        .filter(|r| r.side() == Side::LeadSoft)
        .map(Reason::as_str)
        .collect();
    Ok(sqlx::query_scalar(built(format!(
        "SELECT (SELECT COUNT(*) FROM inbound WHERE lead_id = $1 AND kind = '{}' \
                 AND (reason IS NULL OR reason IN ('{}'))) \
           + (SELECT COUNT(*) FROM provider_events p JOIN touches t ON t.id = p.touch_id \
              WHERE t.lead_id = $1 AND p.kind = '{}')",
        InboundKind::BounceSoft.as_str(),
        lead_side.join("', '"),
        ProviderKind::BounceSoft.as_str()
    )))
    .bind(lead)
    .fetch_one(&mut *tx)
    .await?)
}

/// Counts `strike` against the sending `mailbox` (its health is judged by the daemon).
pub(super) async fn strike(
    tx: &mut AnyConnection,
    mailbox: &str,
    strike: Strike,
    reason: Option<&str>,
    detail: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO mailbox_strikes (mailbox, at, kind, reason, detail) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(mailbox)
    .bind(now)
    .bind(strike.as_str())
    .bind(reason)
    .bind(detail.chars().take(500).collect::<String>())
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Pauses the enrollment (until `until`, or until resumed by hand).
async fn pause(
    tx: &mut AnyConnection,
    enrollment: i64,
    until: Option<i64>,
    reason: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE enrollments SET state = 'paused', paused_until = $1, reason = $2, updated_at = $3, \
         lease_owner = NULL, lease_until = NULL WHERE id = $4 AND state IN ('active', 'paused')",
    )
    .bind(until)
    .bind(reason)
    .bind(now)
    .bind(enrollment)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Puts the lead's address on the suppression list.
pub(super) async fn suppress(
    tx: &mut AnyConnection,
    lead: i64,
    reason: &str,
    note: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO suppressions (value, reason, note, created_at) SELECT email, $1, $2, $3 FROM leads WHERE id = $4 \
         ON CONFLICT (value) DO NOTHING",
    )
    .bind(reason)
    .bind(note)
    .bind(now)
    .bind(lead)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

//! Events from email providers' webhooks (SendGrid, Mailgun, Postmark, Amazon SES): each one
//! recorded once (a provider's retry changes nothing), matched to our touch by Message-ID,
//! and acted on in the same transaction: a complaint suppresses the address, a hard bounce
//! ends the lead's open enrollments and suppresses it (as a bounce found in the inbox does),
//! the rest are recorded as events.

use serde::Serialize;
use sqlx::{AnyConnection, Row};

use super::effects::{self, Applied, Subject};
use super::enrollments::EnrollmentId;
use super::events::{self, NewEvent};
use super::{LeadId, Store, StoreError};
use crate::domain::ProviderKind;
use crate::policy::{self, Seen, Signal, StopRules};

/// One event from a provider, parsed and authenticated.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderEvent {
    /// sendgrid, mailgun, postmark, ses.
    pub provider: &'static str,
    /// The provider's id of the event (what its retries repeat).
    pub event_id: String,
    /// What happened.
    pub kind: ProviderKind,
    /// Our Message-ID, `<id@domain>`, when the event names it.
    pub message_id: Option<String>,
    /// The recipient, lowercased, when the event names it.
    pub recipient: Option<String>,
    /// A one-time token that must never be taken with another event (Mailgun).
    pub token: Option<String>,
    /// Details kept with the event (bounce code and reason, user agent, URL, proxy open…).
    pub data: serde_json::Value,
}

/// What recording a provider event did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum ProviderOutcome {
    /// Recorded; `touch` is the touch it matched, `action` what was done.
    Recorded {
        /// The touch, when the Message-ID (or recipient) matched one.
        touch: Option<i64>,
        /// none, suppressed, bounced.
        action: String,
    },
    /// Already recorded (the provider's retry): nothing changed.
    Duplicate,
    /// Its one-time token was already used by another event: a replay, refused.
    ReplayedToken,
}

struct Target {
    lead: i64,
    enrollment: Option<i64>,
    touch: Option<i64>,
    sequence: Option<String>,
    step: Option<String>,
    mailbox: Option<String>,
}

impl Store {
    /// Records a provider's event and acts on it, in one transaction; committed when this
    /// returns, so the webhook may be acknowledged.
    pub async fn record_provider_event(
        &self,
        e: &ProviderEvent,
        now: i64,
    ) -> Result<ProviderOutcome, StoreError> {
        let mut tx = self.begin_write().await?;
        let target = match_target(&mut tx, e).await?;
        let inserted = sqlx::query(
            "INSERT INTO provider_events (provider, event_id, kind, message_id, touch_id, received_at, token) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        )
        .bind(e.provider)
        .bind(&e.event_id)
        .bind(e.kind.as_str())
        .bind(e.message_id.as_deref())
        .bind(target.as_ref().and_then(|t| t.touch))
        .bind(now)
        .bind(e.token.as_deref())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            let outcome = match &e.token {
                Some(token) => {
                    let used: Option<String> = sqlx::query(
                        "SELECT event_id FROM provider_events WHERE provider = $1 AND token = $2",
                    )
                    .bind(e.provider)
                    .bind(token)
                    .fetch_optional(&mut *tx)
                    .await?
                    .map(|r| r.try_get("event_id"))
                    .transpose()?;
                    match used {
                        Some(id) if id != e.event_id => ProviderOutcome::ReplayedToken,
                        _ => ProviderOutcome::Duplicate,
                    }
                }
                None => ProviderOutcome::Duplicate,
            };
            tx.commit().await?;
            return Ok(outcome);
        }
        let action = act(&mut tx, e, target.as_ref(), now).await?;
        tx.commit().await?;
        Ok(ProviderOutcome::Recorded {
            touch: target.and_then(|t| t.touch),
            action,
        })
    }

    /// Spends a provider's one-time token (Mailgun's), whatever event came with it, before
    /// anything is recorded: true when it is new, or was seen with this same event (the
    /// provider retrying); false when another event used it (a replayed signature). Tokens
    /// seen before `forget_before` are dropped, since their signatures are refused as stale.
    pub async fn spend_provider_token(
        &self,
        provider: &str,
        token: &str,
        event_id: &str,
        now: i64,
        forget_before: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM provider_tokens WHERE seen_at < $1")
            .bind(forget_before)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO provider_tokens (provider, token, event_id, seen_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (provider, token) DO NOTHING",
        )
        .bind(provider)
        .bind(token)
        .bind(event_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let first: String =
            sqlx::query("SELECT event_id FROM provider_tokens WHERE provider = $1 AND token = $2")
                .bind(provider)
                .bind(token)
                .fetch_one(&mut *tx)
                .await?
                .try_get("event_id")?;
        tx.commit().await?;
        Ok(first == event_id)
    }

    /// How many provider events are recorded (for `status` and tests).
    pub async fn count_provider_events(&self, provider: &str) -> Result<i64, StoreError> {
        Ok(
            sqlx::query("SELECT COUNT(*) AS n FROM provider_events WHERE provider = $1")
                .bind(provider)
                .fetch_one(&self.pool)
                .await?
                .try_get("n")?,
        )
    }
}

/// The touch named by the Message-ID, else the lead with the recipient's address.
async fn match_target(
    tx: &mut AnyConnection,
    e: &ProviderEvent,
) -> Result<Option<Target>, StoreError> {
    if let Some(id) = &e.message_id {
        let row = sqlx::query(
            "SELECT id, enrollment_id, lead_id, sequence_id, step_id, mailbox FROM touches WHERE message_id = $1",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(r) = row {
            return Ok(Some(Target {
                lead: r.try_get("lead_id")?,
                enrollment: Some(r.try_get("enrollment_id")?),
                touch: Some(r.try_get("id")?),
                sequence: Some(r.try_get("sequence_id")?),
                step: Some(r.try_get("step_id")?),
                mailbox: r.try_get("mailbox")?,
            }));
        }
    }
    let Some(address) = &e.recipient else {
        return Ok(None);
    };
    let row = sqlx::query("SELECT id FROM leads WHERE email = $1")
        .bind(address)
        .fetch_optional(&mut *tx)
        .await?;
    row.map(|r| {
        Ok(Target {
            lead: r.try_get("id")?,
            enrollment: None,
            touch: None,
            sequence: None,
            step: None,
            mailbox: None,
        })
    })
    .transpose()
}

/// Applies what the policy decided about a provider's event, and records its event.
async fn act(
    tx: &mut AnyConnection,
    e: &ProviderEvent,
    target: Option<&Target>,
    now: i64,
) -> Result<String, StoreError> {
    let soft_bounces = match (e.kind, target) {
        (ProviderKind::BounceSoft, Some(t)) => effects::soft_bounces(tx, t.lead).await?,
        _ => 0,
    };
    let seen = Seen {
        lead: target.is_some(),
        soft_bounces,
    };
    let decision = policy::decide(Signal::Provider(e.kind), StopRules::DEFAULT, seen, now);
    let Some(kind) = decision.event else {
        return Ok(Applied::Nothing.to_string());
    };
    let note = format!("{} webhook", e.provider);
    let subject = Subject {
        lead: target.map(|t| t.lead),
        enrollment: target.and_then(|t| t.enrollment),
        address: e.recipient.as_deref(),
        note: &note,
    };
    let action = effects::apply(tx, decision.effect, subject, now)
        .await?
        .to_string();
    let Some(t) = target else {
        return Ok(action);
    };
    if let (Some(strike), Some(mailbox)) = (decision.strike, t.mailbox.as_deref()) {
        effects::strike(tx, mailbox, strike, None, &note, now).await?;
    }
    let mut ev = NewEvent::about(kind, Some(LeadId(t.lead)));
    ev.enrollment = t.enrollment.map(EnrollmentId);
    ev.touch = t.touch;
    ev.sequence = t.sequence.as_deref();
    ev.step = t.step.as_deref();
    ev.mailbox = t.mailbox.as_deref();
    let mut data = e.data.clone();
    if !data.is_object() {
        data = serde_json::json!({});
    }
    if let Some(o) = data.as_object_mut() {
        o.insert("provider".into(), e.provider.into());
        o.insert("provider_event".into(), e.event_id.clone().into());
        if let Some(hard) = decision.hard_bounce {
            o.insert("hard".into(), hard.into());
        }
    }
    ev.data = data;
    events::insert(tx, &ev, now).await?;
    Ok(action)
}

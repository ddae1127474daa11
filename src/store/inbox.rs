//! The inbox watcher's side of the store: how far each folder was read, which daemon watches
//! which mailbox (a lease), and recording a classified message together with what it does to
//! the lead, in one transaction (DESIGN.md invariant 2: a reply recorded before a claim always
//! prevents that send, because the claim checks the enrollment's state).

use serde::Serialize;
use sqlx::{AnyConnection, Row};

use super::effects::{self, Subject};
use super::enrollments::EnrollmentId;
use super::events::{self, NewEvent};
use super::notifications;
use super::{LeadId, Store, StoreError, built, in_list};
use crate::bounce::Reason;
use crate::domain::{EventKind, InboundKind};
use crate::intent::{Intent, Referred};
use crate::policy::{self, Seen, Signal, StopRules};

/// How far a folder was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FolderState {
    /// The folder's UIDVALIDITY when it was read.
    pub uidvalidity: i64,
    /// The highest UID processed.
    pub last_uid: i64,
    /// When (unix seconds).
    pub synced_at: i64,
}

/// A classified message, ready to be matched and acted on.
#[derive(Debug, Clone)]
pub struct InboundFact<'a> {
    /// The watched mailbox.
    pub mailbox: &'a str,
    /// The folder it was found in.
    pub folder: &'a str,
    /// Its Message-ID (or a stable hash of the message when it has none).
    pub message_key: &'a str,
    /// Message-IDs it points at: In-Reply-To, References, and a bounce's original message.
    pub refs: &'a [String],
    /// Who it is about when no reference matches: the sender (replies) or the failed
    /// recipient (bounces), lowercased.
    pub address: Option<&'a str>,
    /// What the classifier made of it.
    pub kind: InboundKind,
    /// A bounce's reason (sisimai's taxonomy), when the report says.
    pub reason: Option<Reason>,
    /// The rule that decided.
    pub rule: &'a str,
    /// Everything else worth keeping (status code, recipient, dates, the reply's first lines).
    pub evidence: serde_json::Value,
    /// An auto-reply's pause end or a "later" reply's snooze date (unix seconds), already
    /// computed in the lead's time zone.
    pub until: Option<i64>,
    /// When it arrived (unix seconds).
    pub received_at: i64,
    /// What a person's reply means (or an automatic reply naming a replacement), when known.
    pub intent: Option<Intent>,
    /// The writer says they have left the company.
    pub left: bool,
    /// The people a referral names (not the lead, not the rep).
    pub referred: &'a [Referred],
}

/// What recording a message did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum InboundOutcome {
    /// It matched none of our touches or leads: nothing was stored.
    Unmatched,
    /// It was already recorded (seen in another folder, or again after a UIDVALIDITY change).
    Duplicate,
    /// Recorded and acted on.
    Recorded {
        /// The lead.
        lead: i64,
        /// The enrollment it is about, when known.
        enrollment: Option<i64>,
        /// What was done, for logs and tests: "stopped", "paused", "suppressed", "none"…
        action: String,
    },
}

/// A message the rep should look at (a human reply, a "later" without a date).
#[derive(Debug, Clone, Serialize)]
pub struct InboundRow {
    /// Row id (what `drumbeat reply handled ID` takes).
    pub id: i64,
    /// Mailbox.
    pub mailbox: String,
    /// Kind.
    pub kind: String,
    /// The rule.
    pub rule: String,
    /// Lead address.
    pub email: Option<String>,
    /// Sequence of the enrollment.
    pub sequence_id: Option<String>,
    /// Evidence.
    pub evidence: serde_json::Value,
    /// Arrival.
    pub received_at: i64,
    /// Handled by the rep.
    pub handled_at: Option<i64>,
    /// The rep's outcome.
    pub outcome: Option<String>,
}

/// One lead/enrollment a message was matched to.
pub(super) struct Target {
    pub(super) lead: i64,
    pub(super) enrollment: Option<i64>,
    pub(super) touch: Option<i64>,
    pub(super) sequence: Option<String>,
}

impl Store {
    /// A folder's read position.
    pub async fn folder_state(
        &self,
        mailbox: &str,
        folder: &str,
    ) -> Result<Option<FolderState>, StoreError> {
        let row = sqlx::query(
            "SELECT uidvalidity, last_uid, synced_at FROM inbox_folders WHERE mailbox = $1 AND folder = $2",
        )
        .bind(mailbox)
        .bind(folder)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(FolderState {
                uidvalidity: r.try_get("uidvalidity")?,
                last_uid: r.try_get("last_uid")?,
                synced_at: r.try_get("synced_at")?,
            })
        })
        .transpose()
    }

    /// Moves a folder's read position (only forward, unless the UIDVALIDITY changed).
    pub async fn set_folder_state(
        &self,
        mailbox: &str,
        folder: &str,
        state: FolderState,
    ) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        set_folder(&mut conn, mailbox, folder, state).await
    }

    /// Takes or renews the watcher row of a mailbox until `until`, for the daemon that holds
    /// the mailbox (see `holders`): the watcher of a daemon that lost it gets nothing, and the
    /// new holder's watcher takes over at once. True when this instance watches it now.
    pub async fn lease_mailbox(
        &self,
        mailbox: &str,
        instance: &str,
        now: i64,
        until: i64,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "INSERT INTO mailbox_leases (mailbox, owner, until, state, updated_at) \
             SELECT $1, $2, $3, 'connecting', $4 WHERE EXISTS (SELECT 1 FROM mailbox_holders h \
               WHERE h.mailbox = $1 AND h.owner = $2 AND h.until >= $4) \
             ON CONFLICT (mailbox) DO UPDATE SET owner = excluded.owner, until = excluded.until, updated_at = excluded.updated_at",
        )
        .bind(mailbox)
        .bind(instance)
        .bind(until)
        .bind(now)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Gives the lease up (a clean stop), so another instance can take over at once.
    pub async fn release_mailbox(&self, mailbox: &str, instance: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE mailbox_leases SET until = 0, state = 'stopped' WHERE mailbox = $1 AND owner = $2",
        )
        .bind(mailbox)
        .bind(instance)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records the watcher's connection state for `status`.
    pub async fn set_watcher_state(
        &self,
        mailbox: &str,
        instance: &str,
        state: &str,
        detail: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE mailbox_leases SET state = $1, detail = $2, updated_at = $3 WHERE mailbox = $4 AND owner = $5",
        )
        .bind(state)
        .bind(detail)
        .bind(now)
        .bind(mailbox)
        .bind(instance)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Every watcher's state: (mailbox, owner, state, detail, updated_at, lease until).
    pub async fn watcher_states(
        &self,
    ) -> Result<Vec<(String, String, String, Option<String>, i64, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT mailbox, owner, state, detail, updated_at, until FROM mailbox_leases ORDER BY mailbox",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("mailbox")?,
                    r.try_get("owner")?,
                    r.try_get("state")?,
                    r.try_get("detail")?,
                    r.try_get("updated_at")?,
                    r.try_get("until")?,
                ))
            })
            .collect()
    }

    /// Matches a classified message to our touches (by the Message-IDs it references) or,
    /// failing that, to a lead of this mailbox with an open enrollment (by address), and acts
    /// on it, all in one transaction with the folder's new read position (`uid`). Unmatched
    /// mail only moves the read position.
    pub async fn record_inbound(
        &self,
        fact: &InboundFact<'_>,
        uid: Option<(i64, i64)>,
        rules: &(dyn Fn(&str) -> StopRules + Sync),
        now: i64,
    ) -> Result<InboundOutcome, StoreError> {
        let mut tx = self.begin_write().await?;
        if let Some((uidvalidity, last_uid)) = uid {
            let state = FolderState {
                uidvalidity,
                last_uid,
                synced_at: now,
            };
            set_folder(&mut tx, fact.mailbox, fact.folder, state).await?;
        }
        let Some(target) = self.match_target(&mut tx, fact).await? else {
            tx.commit().await?;
            return Ok(InboundOutcome::Unmatched);
        };
        // A bounce or an unsubscribe request ends a person's sequences (and may suppress them
        // for good) only when it is tied to an email we sent: our Message-ID in its references
        // or in the report's copy of our headers. One that only names an address could come
        // from anyone (a forged delivery report, a spoofed From:); it waits for the rep.
        let unverified = target.touch.is_none() && policy::needs_our_email(fact.kind);
        let rule = if unverified {
            format!(
                "{}; not tied to an email we sent, so not acted on",
                fact.rule
            )
        } else {
            fact.rule.to_string()
        };
        let inserted = insert_inbound(&mut tx, fact, &target, &rule, now).await?;
        if !inserted {
            tx.commit().await?;
            return Ok(InboundOutcome::Duplicate);
        }
        if unverified {
            tracing::warn!(
                mailbox = fact.mailbox,
                kind = fact.kind.as_str(),
                lead = target.lead,
                "a {} that names a lead but none of our emails: shown to the rep, not acted on",
                fact.kind
            );
            tx.commit().await?;
            return Ok(InboundOutcome::Recorded {
                lead: target.lead,
                enrollment: target.enrollment,
                action: "unverified".into(),
            });
        }
        // Kinds the rep need not look at are handled at once.
        if !policy::rep_reads(fact.kind, fact.until) {
            mark_handled(&mut tx, fact, now).await?;
        }
        let rules = target.sequence.as_deref().map_or(StopRules::DEFAULT, rules);
        let action = act(&mut tx, self.backend, fact, &target, rules, now).await?;
        tx.commit().await?;
        Ok(InboundOutcome::Recorded {
            lead: target.lead,
            enrollment: target.enrollment,
            action,
        })
    }

    async fn match_target(
        &self,
        tx: &mut AnyConnection,
        fact: &InboundFact<'_>,
    ) -> Result<Option<Target>, StoreError> {
        let refs: Vec<&String> = fact.refs.iter().take(200).collect();
        if !refs.is_empty() {
            let sql = format!(
                "SELECT t.id, t.enrollment_id, t.lead_id, t.sequence_id FROM touches t WHERE t.message_id IN ({}) \
                 ORDER BY t.id DESC LIMIT 1",
                in_list(self.backend, refs.len())
            );
            let mut q = sqlx::query(built(sql));
            for r in &refs {
                q = q.bind(r.as_str());
            }
            if let Some(r) = q.fetch_optional(&mut *tx).await? {
                return Ok(Some(Target {
                    lead: r.try_get("lead_id")?,
                    enrollment: Some(r.try_get("enrollment_id")?),
                    touch: Some(r.try_get("id")?),
                    sequence: Some(r.try_get("sequence_id")?),
                }));
            }
        }
        let Some(address) = fact.address else {
            return Ok(None);
        };
        let row = sqlx::query(
            "SELECT e.id, e.lead_id, e.sequence_id FROM enrollments e JOIN leads l ON l.id = e.lead_id \
             WHERE l.email = $1 AND (e.mailbox = $2 OR e.mailbox IS NULL) AND e.state IN ('active', 'paused') \
             ORDER BY e.updated_at DESC, e.id DESC LIMIT 1",
        )
        .bind(address)
        .bind(fact.mailbox)
        .fetch_optional(&mut *tx)
        .await?;
        row.map(|r| {
            Ok(Target {
                lead: r.try_get("lead_id")?,
                enrollment: Some(r.try_get("id")?),
                touch: None,
                sequence: Some(r.try_get("sequence_id")?),
            })
        })
        .transpose()
    }

    /// Messages waiting for the rep (human replies, "later" replies without a date), newest
    /// first; with `all`, handled ones too.
    pub async fn inbound(&self, all: bool, limit: i64) -> Result<Vec<InboundRow>, StoreError> {
        let filter = if all {
            ""
        } else {
            "WHERE i.handled_at IS NULL"
        };
        let sql = format!(
            "SELECT i.id, i.mailbox, i.kind, i.rule, i.evidence, i.received_at, i.handled_at, i.outcome, l.email, e.sequence_id \
             FROM inbound i LEFT JOIN leads l ON l.id = i.lead_id LEFT JOIN enrollments e ON e.id = i.enrollment_id \
             {filter} ORDER BY i.received_at DESC, i.id DESC LIMIT $1"
        );
        let rows = sqlx::query(built(sql))
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let evidence: String = r.try_get("evidence")?;
                Ok(InboundRow {
                    id: r.try_get("id")?,
                    mailbox: r.try_get("mailbox")?,
                    kind: r.try_get("kind")?,
                    rule: r.try_get("rule")?,
                    email: r.try_get("email")?,
                    sequence_id: r.try_get("sequence_id")?,
                    evidence: serde_json::from_str(&evidence).unwrap_or_default(),
                    received_at: r.try_get("received_at")?,
                    handled_at: r.try_get("handled_at")?,
                    outcome: r.try_get("outcome")?,
                })
            })
            .collect()
    }

    /// The rep dealt with a reply: it leaves "needs attention", with an outcome for reports.
    /// False when there is no such unhandled reply.
    pub async fn handle_reply(
        &self,
        id: i64,
        outcome: Option<&str>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            "UPDATE inbound SET handled_at = $1, outcome = $2 WHERE id = $3 AND handled_at IS NULL \
             RETURNING lead_id, enrollment_id, touch_id, mailbox",
        )
        .bind(now)
        .bind(outcome)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(false);
        };
        // The outcome as an event: reports count positive outcomes from the event log.
        let mailbox: String = row.try_get("mailbox")?;
        let mut ev = NewEvent::about(
            EventKind::ReplyHandled,
            row.try_get::<Option<i64>, _>("lead_id")?.map(LeadId),
        );
        ev.enrollment = row
            .try_get::<Option<i64>, _>("enrollment_id")?
            .map(EnrollmentId);
        ev.touch = row.try_get("touch_id")?;
        ev.mailbox = Some(&mailbox);
        ev.data = serde_json::json!({ "reply": id, "outcome": outcome });
        events::insert(&mut tx, &ev, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Uncertain touches of a mailbox claimed before `claimed_before`: (touch id, Message-ID).
    pub async fn uncertain_touches(
        &self,
        mailbox: &str,
        claimed_before: i64,
    ) -> Result<Vec<(i64, String, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, message_id, claimed_at FROM touches WHERE state = 'uncertain' AND mailbox = $1 \
             AND message_id IS NOT NULL AND claimed_at <= $2 ORDER BY id LIMIT 500",
        )
        .bind(mailbox)
        .bind(claimed_before)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("id")?,
                    r.try_get("message_id")?,
                    r.try_get("claimed_at")?,
                ))
            })
            .collect()
    }
}

async fn set_folder(
    conn: &mut AnyConnection,
    mailbox: &str,
    folder: &str,
    s: FolderState,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO inbox_folders (mailbox, folder, uidvalidity, last_uid, synced_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (mailbox, folder) DO UPDATE SET uidvalidity = excluded.uidvalidity, \
         last_uid = CASE WHEN inbox_folders.uidvalidity = excluded.uidvalidity AND inbox_folders.last_uid > excluded.last_uid \
                    THEN inbox_folders.last_uid ELSE excluded.last_uid END, synced_at = excluded.synced_at",
    )
    .bind(mailbox)
    .bind(folder)
    .bind(s.uidvalidity)
    .bind(s.last_uid)
    .bind(s.synced_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Keeps the message (once: a second look at the same message inserts nothing); returns
/// whether it was new.
async fn insert_inbound(
    tx: &mut AnyConnection,
    fact: &InboundFact<'_>,
    target: &Target,
    rule: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO inbound (mailbox, message_key, lead_id, enrollment_id, touch_id, kind, rule, evidence, received_at, created_at, reason) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (mailbox, message_key) DO NOTHING",
    )
    .bind(fact.mailbox)
    .bind(fact.message_key)
    .bind(target.lead)
    .bind(target.enrollment)
    .bind(target.touch)
    .bind(fact.kind.as_str())
    .bind(rule)
    .bind(fact.evidence.to_string())
    .bind(fact.received_at)
    .bind(now)
    .bind(fact.reason.map(Reason::as_str))
    .execute(&mut *tx)
    .await?
    .rows_affected();
    Ok(inserted > 0)
}

/// A message the rep need not read is handled as it is recorded.
async fn mark_handled(
    tx: &mut AnyConnection,
    fact: &InboundFact<'_>,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE inbound SET handled_at = $1 WHERE mailbox = $2 AND message_key = $3")
        .bind(now)
        .bind(fact.mailbox)
        .bind(fact.message_key)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Records the event of an inbound message and applies what the policy decided about it.
async fn act(
    tx: &mut AnyConnection,
    backend: super::Backend,
    fact: &InboundFact<'_>,
    target: &Target,
    rules: StopRules,
    now: i64,
) -> Result<String, StoreError> {
    let soft_bounces = if fact.kind == InboundKind::BounceSoft {
        effects::soft_bounces(tx, target.lead).await?
    } else {
        0
    };
    let signal = Signal::Inbound {
        kind: fact.kind,
        reason: fact.reason,
        until: fact.until,
        intent: fact.intent,
        left: fact.left,
    };
    let seen = Seen {
        lead: true,
        soft_bounces,
    };
    let decision = policy::decide(signal, rules, seen, now);
    let subject = Subject {
        lead: Some(target.lead),
        enrollment: target.enrollment,
        address: None,
        note: fact.rule,
    };
    let applied = effects::apply(tx, decision.effect, subject, now).await?;
    if let Some(strike) = decision.strike {
        let detail = fact.evidence["status"].as_str().unwrap_or(fact.rule);
        let reason = fact.reason.map(Reason::as_str);
        effects::strike(tx, fact.mailbox, strike, reason, detail, now).await?;
    }
    let Some(kind) = decision.event else {
        return Ok(applied.to_string());
    };
    let lead = LeadId(target.lead);
    let mut ev = NewEvent::about(kind, Some(lead));
    ev.enrollment = target.enrollment.map(EnrollmentId);
    ev.touch = target.touch;
    ev.sequence = target.sequence.as_deref();
    ev.mailbox = Some(fact.mailbox);
    let mut data = fact.evidence.clone();
    if let Some(o) = data.as_object_mut() {
        o.insert("rule".into(), fact.rule.into());
        o.insert("kind".into(), fact.kind.as_str().into());
    }
    ev.data = data;
    if let Some(task) = decision.rep_task {
        super::referrals::open_rep_tasks(tx, backend, task, fact, target, now).await?;
    }
    if decision.notify_rep {
        // A person answered: the rep hears of it, queued with the reply itself.
        let event = events::insert_returning_id(tx, &ev, now).await?;
        notifications::queue_reply(tx, event, target.lead, fact.mailbox, fact.message_key, now)
            .await?;
    } else {
        events::insert(tx, &ev, now).await?;
    }
    Ok(applied.to_string())
}

//! One scheduler step: lease what is due, decide each step (window, pacing, render), claim in
//! one transaction, hand the emails to their mailboxes' transports, record each outcome.
//! Tests call [`Daemon::tick`] directly with the instant they want.

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, Utc};
use tokio::task::JoinSet;

use super::Daemon;
use crate::catalog::{Catalog, Sequence, StepKind};
use crate::config::Mailbox;
use crate::context::lead_zone;
use crate::enrollment::EnrollmentState;
use crate::plan::{current_step, jitter_seed, next_after, spread};
use crate::render::RenderInput;
use crate::schedule::pacing::{Pace, Pacer, day_start};
use crate::send::choose_mailbox;
use crate::send::compose::{Draft, compose, seeded_message_id};
use crate::send::message::new_message_id;
use crate::send::transport::{Delivery, HandOver};
use crate::store::{
    Claim, ClaimKind, Claimed, EnrollmentId, Leased, Next, PastTouch, SentRecord, StoreError,
    StoredLead,
};

/// Due enrollments leased per tick.
pub const BATCH: i64 = 200;

/// Emails claimed per SMTP connection at a time: one being sent, the rest queued for it.
///
/// Claims and their outcomes are written in batches, one transaction for the sends that just
/// finished and the next claims, so the store's cost per email falls as the batches grow; a
/// queue per connection is what lets a batch hold more than one email. The price is in a crash
/// (SIGKILL, power loss): every claimed touch not yet recorded becomes `uncertain` at the next
/// start, so a crash in a burst leaves at most this many times the mailbox's connections to
/// resolve (by the Sent folder, or `drumbeat resolve`). 8 is where `benches/send.sh` stops
/// gaining (2: 40–50 % of smtp-source's rate, 4: 70 %, 8: 84–96 %).
pub const QUEUE_PER_CONNECTION: usize = 8;

/// Touches of one mailbox marked handed over in this round of sends.
type Marked = std::sync::Arc<tokio::sync::Mutex<std::collections::HashSet<i64>>>;

/// The [`HandOver`] of a touch claimed while its mailbox's server was not known to work:
/// before its body goes out, every such touch of the mailbox is marked handed over in one
/// statement (so a round costs one write, not one per message), and the body goes only if
/// this touch was among them (it is still this daemon's claim).
struct HandGate {
    store: crate::store::Store,
    instance: String,
    mailbox: String,
    touch: i64,
    clock: super::Clock,
    marked: Marked,
}

impl HandOver for HandGate {
    fn before_body(
        &self,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send + '_>> {
        Box::pin(async move {
            let mut marked = self.marked.lock().await;
            if marked.contains(&self.touch) {
                return true;
            }
            let now = self.clock.now().timestamp();
            match self
                .store
                .mark_handed(&self.instance, &self.mailbox, now)
                .await
            {
                Ok(ids) => {
                    marked.extend(ids);
                    marked.contains(&self.touch)
                }
                Err(e) => {
                    tracing::warn!(touch = self.touch, "cannot mark the hand-over: {e}");
                    false
                }
            }
        })
    }
}

/// What one tick did, for logs, `run --once` and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct TickReport {
    /// Due enrollments leased.
    pub due: u64,
    /// Emails the server took.
    pub sent: u64,
    /// Emails to retry later (4xx, no connection).
    pub retried: u64,
    /// Emails refused for good, or not rendered.
    pub failed: u64,
    /// Leads bounced by a 5.1.x answer.
    pub bounced: u64,
    /// Hand-overs whose outcome is unknown.
    pub uncertain: u64,
    /// Tasks created for reps.
    pub tasks: u64,
    /// Steps moved to a later time (window closed, cap reached, gap, domain limit).
    pub deferred: u64,
    /// Enrollments stopped at claim time (suppressed) or finished (no step left).
    pub stopped: u64,
    /// Enrollments that changed under us (stopped, paused, taken by another daemon).
    pub lost: u64,
}

/// What the daemon decided for one leased enrollment.
enum Decision {
    Defer(Option<String>, i64),
    Finish,
    Pause(String),
    Email(Box<PreparedEmail>),
    Task {
        step: String,
        kind: String,
        note: String,
        owner: Option<String>,
    },
    RenderFailed {
        step: String,
        error: String,
    },
}

struct PreparedEmail {
    step: String,
    index: usize,
    mailbox: String,
    message_id: String,
    variant: String,
    subject: String,
    bytes: Vec<u8>,
    domain: Option<String>,
    new_thread: bool,
}

/// A due email step, with what the tick read for it.
#[derive(Clone, Copy)]
struct DueEmail<'a> {
    seq: &'a Sequence,
    index: usize,
    lead: &'a StoredLead,
    mailbox: &'a Mailbox,
    leased: &'a Leased,
    past: &'a [PastTouch],
}

impl Daemon {
    /// Runs one scheduler step at `now`.
    pub async fn tick(&self, now: DateTime<Utc>) -> Result<TickReport, StoreError> {
        let t = now.timestamp();
        let mut report = TickReport::default();
        let store = self.store();
        let leased = store.lease_due(self.instance(), t, BATCH).await?;
        if leased.is_empty() {
            return Ok(report);
        }
        report.due = leased.len() as u64;
        let catalog = self.catalog();
        let ids: Vec<_> = leased.iter().map(|l| l.lead).collect();
        let leads = store.leads_by_ids(&ids).await?;
        let enrollments: Vec<EnrollmentId> = leased.iter().map(|l| l.enrollment).collect();
        let past = store.past_touches(&enrollments).await?;
        // The first send only matters to a mailbox that warms up.
        let warming: Vec<&str> = self
            .config()
            .mailboxes
            .iter()
            .filter(|m| m.pacing.warmup.is_some())
            .map(|m| m.name.as_str())
            .collect();
        let recent = store
            .recent_sends(&warming, day_start(self.config().timezone, now))
            .await?;
        let domains: Vec<&str> = leads
            .values()
            .filter_map(|l| l.record.email.account_domain())
            .collect();
        let domain_sends = store.sends_to_domains(&domains, t - 3600).await?;
        let mut pacer = Pacer::new(
            self.config().timezone,
            recent.today,
            recent.last,
            recent.first,
            domain_sends,
            self.config().sending.domain_hourly_limit,
        );

        let mut decided = Vec::with_capacity(leased.len());
        for l in &leased {
            let no_past = Vec::new();
            let past = past.get(&l.enrollment).unwrap_or(&no_past);
            let d = match leads.get(&l.lead) {
                None => Decision::Pause("the lead no longer exists".into()),
                Some(lead) => self.decide(&catalog, l, lead, past, &mut pacer, now),
            };
            decided.push((l, d));
        }

        // Give back what waits; settle what ended.
        let mut defer = Vec::new();
        for (l, d) in &decided {
            match d {
                Decision::Defer(step, due) => {
                    report.deferred += 1;
                    defer.push((l.enrollment, step.clone(), *due));
                }
                Decision::Finish => {
                    report.stopped += 1;
                    store
                        .settle_leased(
                            self.instance(),
                            l.enrollment,
                            EnrollmentState::Finished,
                            "no step left to run",
                            t,
                        )
                        .await?;
                }
                Decision::Pause(reason) => {
                    report.failed += 1;
                    tracing::warn!(enrollment = l.enrollment.0, sequence = %l.sequence_id, "paused: {reason}");
                    store
                        .settle_leased(
                            self.instance(),
                            l.enrollment,
                            EnrollmentState::Paused,
                            reason,
                            t,
                        )
                        .await?;
                }
                Decision::RenderFailed { step, error } => {
                    report.failed += 1;
                    tracing::warn!(enrollment = l.enrollment.0, sequence = %l.sequence_id, step = %step, "render failed, enrollment paused: {error}");
                    store
                        .fail_render(self.instance(), l, step, error, t)
                        .await?;
                }
                _ => {}
            }
        }
        store.defer(self.instance(), &defer, t).await?;

        // Tasks are claimed in one transaction; emails a few at a time (see `send_claimed`).
        let mut claims = Vec::new();
        let mut prepared: Vec<Option<&PreparedEmail>> = Vec::new();
        for (l, d) in &decided {
            let Some(lead) = leads.get(&l.lead) else {
                continue;
            };
            let (step, kind) = match d {
                Decision::Email(e) => (
                    e.step.as_str(),
                    ClaimKind::Email {
                        mailbox: e.mailbox.clone(),
                        message_id: e.message_id.clone(),
                        subject: e.subject.clone(),
                        variant: e.variant.clone(),
                        recipient_domain: e.domain.clone().unwrap_or_default(),
                        // Decided at the claim itself (see `send_claimed`).
                        handed: false,
                    },
                ),
                Decision::Task {
                    step,
                    kind,
                    note,
                    owner,
                } => (
                    step.as_str(),
                    ClaimKind::Task {
                        kind: kind.clone(),
                        note: note.clone(),
                        owner: owner.clone(),
                    },
                ),
                _ => continue,
            };
            claims.push(Claim {
                enrollment: l.enrollment,
                lead: l.lead,
                email: &lead.record.email,
                sequence_id: &l.sequence_id,
                step_id: step,
                due_at: l.due_at,
                kind,
            });
            prepared.push(match d {
                Decision::Email(e) => Some(e.as_ref()),
                _ => None,
            });
        }
        let (tasks, emails): (Vec<_>, Vec<_>) = claims
            .into_iter()
            .zip(prepared)
            .partition(|(_, e)| e.is_none());
        if !tasks.is_empty() {
            let tasks: Vec<Claim<'_>> = tasks.into_iter().map(|(c, _)| c).collect();
            for outcome in store.claim(self.instance(), &tasks, t).await? {
                match outcome {
                    Claimed::Go { .. } => report.tasks += 1,
                    Claimed::Suppressed => report.stopped += 1,
                    Claimed::Lost | Claimed::AlreadyDone => report.lost += 1,
                }
            }
        }
        let emails: Vec<(Claim<'_>, &PreparedEmail)> = emails
            .into_iter()
            .filter_map(|(c, e)| Some((c, e?)))
            .collect();
        self.send_claimed(
            &catalog,
            &leased,
            &leads,
            &past,
            emails,
            &mut pacer,
            now,
            &mut report,
        )
        .await?;
        Ok(report)
    }

    /// Claims the prepared emails and hands them over. A claim commits before any byte goes
    /// to SMTP, and an email is claimed only when its mailbox has room for it: the touches
    /// left `sending` at any moment (those a crash turns into `uncertain`) are at most
    /// [`QUEUE_PER_CONNECTION`] per connection.
    #[allow(clippy::too_many_arguments)]
    async fn send_claimed(
        &self,
        catalog: &Catalog,
        leased: &[Leased],
        leads: &HashMap<crate::store::LeadId, StoredLead>,
        past: &HashMap<EnrollmentId, Vec<PastTouch>>,
        emails: Vec<(Claim<'_>, &PreparedEmail)>,
        pacer: &mut Pacer,
        now: DateTime<Utc>,
        report: &mut TickReport,
    ) -> Result<(), StoreError> {
        let t = now.timestamp();
        let by_enrollment: HashMap<EnrollmentId, &Leased> =
            leased.iter().map(|l| (l.enrollment, l)).collect();
        let room = |mailbox: &str| {
            self.config()
                .mailbox(mailbox)
                .map_or(1, |m| QUEUE_PER_CONNECTION * m.pacing.connections.max(1))
        };
        let mut waiting: VecDeque<(Claim<'_>, &PreparedEmail)> = emails.into();
        let mut busy: HashMap<String, usize> = HashMap::new();
        let mut sends = JoinSet::new();
        // Per mailbox, the touches already marked handed over by a gate (see `HandGate`).
        let mut marked: HashMap<String, Marked> = HashMap::new();
        // Sends that finished, to record together with the next claims (one transaction).
        let mut sent: Vec<SentRecord> = Vec::new();
        loop {
            // Claim as many waiting emails as their mailboxes have room for.
            let mut batch = Vec::new();
            let mut later = VecDeque::new();
            while let Some((c, e)) = waiting.pop_front() {
                let n = busy.entry(e.mailbox.clone()).or_default();
                if *n < room(&e.mailbox) {
                    *n += 1;
                    batch.push((c, e));
                } else {
                    later.push_back((c, e));
                }
            }
            waiting = later;
            if !batch.is_empty() || !sent.is_empty() {
                let mut claims: Vec<Claim<'_>> = batch.iter().map(|(c, _)| c.clone()).collect();
                // A message claimed while its mailbox's server works may reach it from now on;
                // otherwise it is known unsent until a server is ready for its body.
                for c in &mut claims {
                    if let ClaimKind::Email {
                        mailbox, handed, ..
                    } = &mut c.kind
                    {
                        *handed = self.transport(mailbox).is_some_and(|t| t.ready());
                    }
                }
                let handed: Vec<bool> = claims
                    .iter()
                    .map(|c| matches!(c.kind, ClaimKind::Email { handed: true, .. }))
                    .collect();
                let outcomes = self
                    .store()
                    .record_sent_then_claim(&sent, self.instance(), &claims, t)
                    .await?;
                sent.clear();
                for (((claim, e), outcome), handed) in batch.into_iter().zip(outcomes).zip(handed) {
                    let transport = self.transport(&e.mailbox);
                    match (outcome, transport) {
                        (Claimed::Go { touch, attempt }, Some(transport)) => {
                            let from = self
                                .config()
                                .mailbox(&e.mailbox)
                                .map(|m| m.from.to_string())
                                .unwrap_or_default();
                            let to = claim.email.to_string();
                            let message_id = e.message_id.clone();
                            let bytes = e.bytes.clone();
                            let (index, new_thread) = (e.index, e.new_thread);
                            let enrollment = claim.enrollment;
                            let mailbox = e.mailbox.clone();
                            let gate = (!handed).then(|| HandGate {
                                store: self.store().clone(),
                                instance: self.instance().to_string(),
                                mailbox: mailbox.clone(),
                                touch,
                                clock: self.clock(),
                                marked: marked.entry(mailbox.clone()).or_default().clone(),
                            });
                            sends.spawn(async move {
                                let d = transport
                                    .deliver(
                                        &from,
                                        &to,
                                        &message_id,
                                        &bytes,
                                        gate.as_ref().map(|g| g as &dyn HandOver),
                                    )
                                    .await;
                                (touch, attempt, index, new_thread, enrollment, mailbox, d)
                            });
                            continue;
                        }
                        // Every configured mailbox has a transport.
                        (Claimed::Go { .. }, None) => {}
                        (Claimed::Suppressed, _) => report.stopped += 1,
                        (Claimed::Lost | Claimed::AlreadyDone, _) => {
                            report.lost += 1;
                            pacer.give_back(&e.mailbox);
                        }
                    }
                    if let Some(n) = busy.get_mut(&e.mailbox) {
                        *n -= 1;
                    }
                }
            }
            // Wait for the first outcome, and take any others already there.
            let Some(first) = sends.join_next().await else {
                if waiting.is_empty() {
                    return Ok(());
                }
                // Nothing is in flight (a send task that panicked was not counted back).
                busy.clear();
                continue;
            };
            let mut done = vec![first];
            while let Some(more) = sends.try_join_next() {
                done.push(more);
            }
            for joined in done {
                let Ok((touch, attempt, index, new_thread, enrollment, mailbox, delivery)) = joined
                else {
                    continue;
                };
                let l = by_enrollment[&enrollment];
                // Under a fixed clock (tests, `--now`), the send happens at `now`.
                let done_at = self.now().max(now);
                self.record(
                    catalog, l, leads, past, touch, attempt, index, new_thread, delivery, done_at,
                    report, &mut sent,
                )
                .await?;
                // Its room is free: the touch is recorded `sent` in the same transaction that
                // claims the next one, so a crash never leaves more than `room` touches
                // `sending` per mailbox.
                if let Some(n) = busy.get_mut(&mailbox) {
                    *n -= 1;
                }
            }
        }
    }

    fn decide(
        &self,
        catalog: &Catalog,
        l: &Leased,
        lead: &StoredLead,
        past: &[PastTouch],
        pacer: &mut Pacer,
        now: DateTime<Utc>,
    ) -> Decision {
        let Some(seq) = catalog.sequence(&l.sequence_id) else {
            return Decision::Pause(format!(
                "sequence {:?} is no longer in the catalog (its file was removed or renamed)",
                l.sequence_id
            ));
        };
        let Some(index) = current_step(seq, l.step_id.as_deref(), past) else {
            return Decision::Finish;
        };
        let step = &seq.steps[index];
        let tz = lead_zone(seq, lead, self.config().timezone);
        // Inside the window, or wait for its next opening (spread by jitter).
        if !seq.window.is_open(tz, now) {
            let seed = jitter_seed(lead.record.email.as_str(), &seq.id, &step.id);
            return match spread(&seq.window, tz, now, seed, self.config().sending.jitter) {
                Some(open) => Decision::Defer(Some(step.id.clone()), open.timestamp()),
                None => Decision::Pause("the send window never opens".into()),
            };
        }
        let owner = lead.record.owner.as_deref();
        let Some(mailbox) = choose_mailbox(
            self.config(),
            seq,
            lead.record.email.as_str(),
            owner,
            l.mailbox.as_deref(),
        ) else {
            return Decision::Pause(
                "no mailbox can send this sequence (check [[mailbox]] in config.toml and the sequence's mailboxes)".into(),
            );
        };
        match &step.kind {
            StepKind::Task(task) => {
                let input = RenderInput {
                    lead: &lead.record,
                    sender: mailbox,
                    unsubscribe_url: crate::render::SAMPLE_UNSUBSCRIBE_URL,
                };
                match catalog.renderer.render_note(&input, seq, index) {
                    Ok(note) => Decision::Task {
                        step: step.id.clone(),
                        kind: task.kind.as_str().to_string(),
                        note,
                        owner: Some(owner.map_or_else(|| mailbox.name.clone(), str::to_string)),
                    },
                    Err(e) => Decision::RenderFailed {
                        step: step.id.clone(),
                        error: e.to_string(),
                    },
                }
            }
            StepKind::Email(_) => {
                let domain = lead.record.email.account_domain().map(str::to_string);
                if let Pace::NotBefore(at) = pacer.ask(mailbox, domain.as_deref(), now) {
                    // Into the window (a cap's next day starts at midnight, before it opens).
                    let seed = jitter_seed(lead.record.email.as_str(), &seq.id, &step.id);
                    let at = DateTime::from_timestamp(at, 0)
                        .and_then(|t| {
                            spread(&seq.window, tz, t, seed, self.config().sending.jitter)
                        })
                        .map_or(at, |t| t.timestamp());
                    return Decision::Defer(Some(step.id.clone()), at);
                }
                let due = DueEmail {
                    seq,
                    index,
                    lead,
                    mailbox,
                    leased: l,
                    past,
                };
                match self.prepare(catalog, &due, now) {
                    Ok(p) => Decision::Email(Box::new(p)),
                    Err(error) => {
                        pacer.give_back(&mailbox.name);
                        Decision::RenderFailed {
                            step: step.id.clone(),
                            error,
                        }
                    }
                }
            }
        }
    }

    /// The email of a due step, composed (see [`compose`]) and signed.
    fn prepare(
        &self,
        catalog: &Catalog,
        due: &DueEmail<'_>,
        now: DateTime<Utc>,
    ) -> Result<PreparedEmail, String> {
        let DueEmail {
            seq,
            index,
            lead,
            mailbox,
            leased: l,
            past,
        } = *due;
        let step = &seq.steps[index];
        // A retry keeps the Message-ID it was first given (and so its links).
        let message_id = past
            .iter()
            .find(|t| t.step_id == step.id && t.kind == "email")
            .and_then(|t| t.message_id.clone())
            .unwrap_or_else(|| {
                if self.clock_is_fixed() {
                    seeded_message_id(mailbox, l.enrollment.0, &seq.id, &step.id)
                } else {
                    new_message_id(mailbox)
                }
            });
        let composed = compose(
            catalog,
            self.config(),
            self.tokens(),
            &Draft {
                sequence: seq,
                index,
                lead: &lead.record,
                mailbox,
                past,
                stored_subject: l.thread_subject.as_deref(),
                message_id: &message_id,
                date: now,
            },
        )?;
        let mut message = composed.message;
        if let Some(signer) = self.signer(&mailbox.name) {
            message.sign(signer);
        }
        Ok(PreparedEmail {
            step: step.id.clone(),
            index,
            mailbox: mailbox.name.clone(),
            message_id,
            variant: composed.rendered.variant,
            subject: composed.rendered.subject,
            bytes: message.formatted(),
            domain: lead.record.email.account_domain().map(str::to_string),
            new_thread: composed.new_thread,
        })
    }

    #[allow(clippy::too_many_arguments)]
    async fn record(
        &self,
        catalog: &Catalog,
        l: &Leased,
        leads: &HashMap<crate::store::LeadId, StoredLead>,
        past: &HashMap<EnrollmentId, Vec<PastTouch>>,
        touch: i64,
        attempt: i64,
        index: usize,
        new_thread: bool,
        delivery: Delivery,
        at: DateTime<Utc>,
        report: &mut TickReport,
        sent: &mut Vec<SentRecord>,
    ) -> Result<(), StoreError> {
        let t = at.timestamp();
        let store = self.store();
        match delivery {
            Delivery::Accepted { response } => {
                report.sent += 1;
                let next = match (catalog.sequence(&l.sequence_id), leads.get(&l.lead)) {
                    (Some(seq), Some(lead)) => {
                        let tz = lead_zone(seq, lead, self.config().timezone);
                        let mut done = past.get(&l.enrollment).cloned().unwrap_or_default();
                        done.push(PastTouch {
                            id: touch,
                            step_id: seq.steps[index].id.clone(),
                            kind: "email".into(),
                            state: "sent".into(),
                            message_id: None,
                            subject: None,
                            sent_at: Some(t),
                            attempt,
                            mailbox: None,
                        });
                        next_after(
                            seq,
                            index,
                            &done,
                            at,
                            tz,
                            lead.record.email.as_str(),
                            self.config().sending.jitter,
                        )
                    }
                    _ => Next::Finished,
                };
                tracing::info!(touch, enrollment = l.enrollment.0, sequence = %l.sequence_id, "sent");
                // Recorded with the others that finished together (`record_sent_many`).
                sent.push(SentRecord {
                    touch,
                    response,
                    new_thread,
                    next,
                    at: t,
                });
                Ok(())
            }
            Delivery::Retry { reason } => {
                let schedule = &self.config().sending.retry_schedule;
                match usize::try_from(attempt - 1)
                    .ok()
                    .and_then(|i| schedule.get(i))
                {
                    Some(wait) => {
                        report.retried += 1;
                        tracing::warn!(
                            touch,
                            attempt,
                            "temporary failure, retrying in {wait}s: {reason}"
                        );
                        store.record_retry(touch, &reason, t + wait, t).await
                    }
                    None => {
                        report.failed += 1;
                        tracing::warn!(
                            touch,
                            attempt,
                            "giving up after {attempt} attempts: {reason}"
                        );
                        let msg = format!("gave up after {attempt} attempts: {reason}");
                        store
                            .record_failed(touch, &msg, EnrollmentState::Failed, None, t)
                            .await
                    }
                }
            }
            Delivery::Rejected {
                reason,
                no_such_user,
                ..
            } => {
                report.failed += 1;
                if no_such_user {
                    report.bounced += 1;
                    let email = leads.get(&l.lead).map(|lead| lead.record.email.to_string());
                    tracing::info!(touch, "hard bounce at send time: {reason}");
                    store
                        .record_failed(
                            touch,
                            &reason,
                            EnrollmentState::Bounced,
                            email.as_deref(),
                            t,
                        )
                        .await
                } else {
                    tracing::warn!(touch, "rejected: {reason}");
                    store
                        .record_failed(touch, &reason, EnrollmentState::Failed, None, t)
                        .await
                }
            }
            Delivery::Uncertain { reason } => {
                report.uncertain += 1;
                tracing::warn!(
                    touch,
                    "outcome unknown, needs `drumbeat resolve {touch}`: {reason}"
                );
                store.record_uncertain(touch, &reason).await
            }
        }
    }
}

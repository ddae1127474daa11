//! One scheduler step: lease what is due, decide each step (window, pacing, compose), claim
//! in one transaction, hand the emails to their mailboxes' transports, record each outcome.
//! Tests drive it through `Daemon::run_once` (and `tests/e2e/tick.rs` through [`Daemon::tick`]
//! at the instant they choose).

mod decide;
mod deliver;
mod domains;
mod health;
mod holds;
mod hours;
mod lanes;
mod review;

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::Daemon;
use crate::catalog::Catalog;
use crate::enrollment::EnrollmentState;
use crate::policy::InboxRead;
use crate::schedule::pacing::{Pacer, day_start};
use crate::sequence::condition::Engagement;
use crate::store::{
    Claim, ClaimKind, Claimed, EnrollmentId, HeldStep, Hold, LeadId, Leased, PastTouch, StoreError,
    StoredLead,
};
use decide::{Decision, DeferWhy, PreparedEmail};

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

/// How long a follow-up held for its mailbox's inbox waits before it is decided again (the
/// watcher reads about once a minute).
pub const INBOX_RETRY: i64 = 60;

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
    /// Of those, steps due while their send window (or the rep's working hours) was closed.
    pub outside_window: u64,
    /// Of those, steps due while a mailbox's cap or gap, or a domain's limit, had no room.
    pub over_limit: u64,
    /// Of those, steps a planned pause (a rep's vacation, a paused sequence) covers.
    pub paused_by_hold: u64,
    /// Enrollments stopped at claim time (suppressed) or finished (no step left).
    pub stopped: u64,
    /// Enrollments that changed under us (stopped, paused, taken by another daemon).
    pub lost: u64,
    /// Follow-ups that wait for their mailbox's inbox to be read (see `policy::inbox_gate`):
    /// not failed, not skipped, no attempt used.
    pub held: u64,
    /// Leads skipped before their first email, their domain cannot receive mail: failed
    /// with the reason, for a person to fix the address (`status` lists them).
    pub skipped: u64,
    /// Steps passed over because their condition (`when:`, `unless:`) does not hold.
    pub passed_over: u64,
    /// Drafts made for the rep to approve (email steps with `review:`).
    pub drafts: u64,
    /// Emails left to the daemon that holds their mailbox (several daemons on one store).
    pub elsewhere: u64,
}

impl TickReport {
    /// Counts a step given back for later, by why.
    fn deferred_for(&mut self, why: DeferWhy) {
        self.deferred += 1;
        match why {
            DeferWhy::Window => self.outside_window += 1,
            DeferWhy::Limit => self.over_limit += 1,
        }
    }
}

/// What one tick read from the store: the leased enrollments, their leads and touches, and
/// the catalog and instant it decides them with.
pub(super) struct Round {
    now: DateTime<Utc>,
    catalog: Arc<Catalog>,
    leased: Vec<Leased>,
    by_enrollment: HashMap<EnrollmentId, usize>,
    leads: HashMap<LeadId, StoredLead>,
    past: HashMap<EnrollmentId, Vec<PastTouch>>,
    /// Opens and clicks by step, of the enrollments whose sequence has conditions on them.
    engagement: HashMap<EnrollmentId, Engagement>,
    /// What is known of each watched mailbox's reads (see `policy::inbox_gate`).
    inbox: HashMap<String, InboxRead>,
    /// The domains of leads due their first email that cannot receive mail, with why.
    dead_domains: HashMap<String, String>,
    /// The waiting drafts of the leased enrollments (read only when a sequence reviews).
    drafts: HashMap<EnrollmentId, crate::store::DraftRow>,
    /// The planned pauses not over (see `holds`).
    holds: Vec<Hold>,
    /// The mailboxes this daemon holds, with their lease epochs: it decides and claims
    /// emails from these only.
    held: crate::store::Held,
}

impl Round {
    /// The tick's instant, in unix seconds.
    fn t(&self) -> i64 {
        self.now.timestamp()
    }

    /// The leased enrollment `e` (every claim of the round is one of them).
    fn leased(&self, e: EnrollmentId) -> &Leased {
        &self.leased[self.by_enrollment[&e]]
    }

    /// The touches enrollment `e` has so far.
    fn past_of(&self, e: EnrollmentId) -> &[PastTouch] {
        self.past.get(&e).map_or(&[], Vec::as_slice)
    }

    /// The opens and clicks of enrollment `e`'s emails (none read: none).
    fn engagement_of(&self, e: EnrollmentId) -> Engagement {
        self.engagement.get(&e).cloned().unwrap_or_default()
    }
}

impl Daemon {
    /// Runs one scheduler step at `now`.
    pub async fn tick(&self, now: DateTime<Utc>) -> Result<TickReport, StoreError> {
        let mut report = TickReport::default();
        self.step_at("judging the mailboxes' health");
        self.judge_health(now).await?;
        let Some(mut round) = self.read_round(now).await? else {
            return Ok(report);
        };
        self.step_at("checking the leads' domains");
        round.dead_domains = self.dead_domains(&round).await;
        report.due = round.leased.len() as u64;
        self.step_at("reading the pacing");
        let mut pacer = self.pacer(&round).await?;
        self.hold_paused(&mut pacer).await?;
        self.step_at("deciding");
        let decided: Vec<(&Leased, Decision)> = round
            .leased
            .iter()
            .map(|l| {
                let d = match round.leads.get(&l.lead) {
                    None => Decision::Pause("the lead no longer exists".into()),
                    Some(lead) => self.decide(&round, l, lead, &mut pacer),
                };
                (l, d)
            })
            .collect();
        self.step_at("settling what waits");
        self.leave_elsewhere(&decided, round.t(), &mut report)
            .await?;
        self.settle(&decided, round.t(), &mut report).await?;
        self.hold_steps(&round, &decided, &mut report).await?;
        // Tasks are claimed in one transaction; emails a few at a time (see `send_claimed`).
        let (tasks, emails) = claims(&round, &decided);
        self.step_at("claiming tasks");
        self.claim_tasks(&tasks, round.t(), &mut report).await?;
        self.step_at("sending");
        self.send_claimed(&round, emails, &mut pacer, &mut report)
            .await?;
        Ok(report)
    }

    /// Leases what is due at `now` and reads what deciding it needs; `None` when nothing is due.
    async fn read_round(&self, now: DateTime<Utc>) -> Result<Option<Round>, StoreError> {
        let store = self.store();
        self.step_at("sharing the mailboxes");
        self.share(now.timestamp(), false).await?;
        self.step_at("leasing what is due");
        let held = self.held();
        let leased = {
            let names: Vec<&str> = held.keys().map(String::as_str).collect();
            let configured: Vec<&str> = self
                .config()
                .mailboxes
                .iter()
                .map(|m| m.name.as_str())
                .collect();
            store
                .lease_due_in(
                    self.instance(),
                    now.timestamp(),
                    BATCH,
                    &self.scope(&names, &configured),
                )
                .await?
        };
        if leased.is_empty() {
            return Ok(None);
        }
        self.step_at("reading the leased enrollments");
        let ids: Vec<_> = leased.iter().map(|l| l.lead).collect();
        let leads = store.leads_by_ids(&ids).await?;
        let enrollments: Vec<EnrollmentId> = leased.iter().map(|l| l.enrollment).collect();
        let past = store.past_touches(&enrollments).await?;
        let catalog = self.catalog();
        // Opens and clicks are read only where a step's condition tests them.
        let engaged: Vec<EnrollmentId> = leased
            .iter()
            .filter(|l| {
                catalog
                    .sequence(&l.sequence_id)
                    .is_some_and(|s| s.tests_engagement())
            })
            .map(|l| l.enrollment)
            .collect();
        let engagement = store.engagement(&engaged).await?;
        let inbox = store.inbox_reads().await?;
        let drafts = if catalog.has_review() {
            store.waiting_drafts(&enrollments).await?
        } else {
            HashMap::new()
        };
        let holds = store.holds(now.timestamp()).await?;
        let by_enrollment = leased
            .iter()
            .enumerate()
            .map(|(i, l)| (l.enrollment, i))
            .collect();
        Ok(Some(Round {
            now,
            catalog,
            leased,
            by_enrollment,
            leads,
            past,
            engagement,
            inbox,
            dead_domains: HashMap::new(),
            drafts,
            holds,
            held,
        }))
    }

    /// The round's pacer: today's sends of the mailboxes that warm up, and the last hour's
    /// sends to the leads' domains.
    async fn pacer(&self, round: &Round) -> Result<Pacer, StoreError> {
        let store = self.store();
        let config = self.config();
        // The first send only matters to a mailbox that warms up.
        let warming: Vec<&str> = config
            .mailboxes
            .iter()
            .filter(|m| m.pacing.warmup.is_some())
            .map(|m| m.name.as_str())
            .collect();
        let recent = store
            .recent_sends(&warming, day_start(config.timezone, round.now))
            .await?;
        // The last hour's sends to the leads' domains, unless no limit reads them.
        let domains: Vec<&str> = match config.sending.domain_hourly_limit {
            0 => Vec::new(),
            _ => round
                .leads
                .values()
                .filter_map(|l| l.record.email.account_domain())
                .collect(),
        };
        let domain_sends = store.sends_to_domains(&domains, round.t() - 3600).await?;
        Ok(Pacer::new(
            config.timezone,
            recent.today,
            recent.last,
            recent.first,
            domain_sends,
            config.sending.domain_hourly_limit,
        ))
    }

    /// Gives back what waits and settles what ended.
    async fn settle(
        &self,
        decided: &[(&Leased, Decision)],
        t: i64,
        report: &mut TickReport,
    ) -> Result<(), StoreError> {
        let store = self.store();
        let mut defer = Vec::new();
        let mut held = Vec::new();
        for (l, d) in decided {
            match d {
                Decision::Elsewhere { .. } => {}
                Decision::Defer(step, due, why) => {
                    report.deferred_for(*why);
                    defer.push((l.enrollment, step.clone(), *due));
                }
                Decision::WaitInbox { step, mailbox, why } => {
                    report.held += 1;
                    tracing::info!(enrollment = l.enrollment.0, sequence = %l.sequence_id, step = %step, mailbox = %mailbox, "waiting for the inbox: {why}");
                    held.push((l.enrollment, Some(step.clone()), t + INBOX_RETRY));
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
                Decision::Skip { step, why } => {
                    report.skipped += 1;
                    tracing::warn!(enrollment = l.enrollment.0, sequence = %l.sequence_id, step = %step, "lead skipped: {why}");
                    store
                        .settle_leased(
                            self.instance(),
                            l.enrollment,
                            EnrollmentState::Failed,
                            why,
                            t,
                        )
                        .await?;
                }
                Decision::PassOver { step, why, next } => {
                    report.passed_over += 1;
                    tracing::info!(enrollment = l.enrollment.0, sequence = %l.sequence_id, step = %step.0, "step passed over: {why}");
                    store
                        .skip_step(self.instance(), l, (&step.0, step.1), why, next, t)
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
                _ => self.settle_draft(l, d, t, report).await?,
            }
        }
        store.hold_for_inbox(self.instance(), &held, t).await?;
        store.defer(self.instance(), &defer, t).await
    }

    /// Leaves the emails from mailboxes another daemon holds to that daemon (see
    /// `Store::hand_over`).
    async fn leave_elsewhere(
        &self,
        decided: &[(&Leased, Decision)],
        t: i64,
        report: &mut TickReport,
    ) -> Result<(), StoreError> {
        let elsewhere: Vec<_> = decided
            .iter()
            .filter_map(|(l, d)| match d {
                Decision::Elsewhere { mailbox } => Some((l.enrollment, mailbox.as_str())),
                _ => None,
            })
            .collect();
        report.elsewhere += elsewhere.len() as u64;
        self.store().hand_over(self.instance(), &elsewhere, t).await
    }

    /// Gives back the steps a planned pause covers, due at its end, and tells their leads'
    /// timelines.
    async fn hold_steps(
        &self,
        round: &Round,
        decided: &[(&Leased, Decision)],
        report: &mut TickReport,
    ) -> Result<(), StoreError> {
        let held: Vec<HeldStep<'_>> = decided
            .iter()
            .filter_map(|(l, d)| match d {
                Decision::Held { step, hold, due } => Some(HeldStep {
                    enrollment: l.enrollment,
                    lead: l.lead,
                    sequence: &l.sequence_id,
                    step,
                    due: *due,
                    hold: round.holds.iter().find(|h| h.id == *hold)?,
                }),
                _ => None,
            })
            .collect();
        report.deferred += held.len() as u64;
        report.paused_by_hold += held.len() as u64;
        for h in &held {
            tracing::info!(enrollment = h.enrollment.0, sequence = %h.sequence, step = %h.step, hold = h.hold.id, "paused ({} {}): waits until {}", h.hold.scope.as_str(), h.hold.name, h.due);
        }
        self.store()
            .hold_steps(self.instance(), &held, round.t())
            .await
    }

    /// Claims the tasks of the round in one transaction.
    async fn claim_tasks(
        &self,
        tasks: &[Claim<'_>],
        t: i64,
        report: &mut TickReport,
    ) -> Result<(), StoreError> {
        if tasks.is_empty() {
            return Ok(());
        }
        let outcomes = self.store().claim(self.instance(), tasks, t).await?;
        for (outcome, c) in outcomes.into_iter().zip(tasks) {
            match outcome {
                Claimed::Go { .. } if matches!(c.kind, ClaimKind::Draft(_)) => report.drafts += 1,
                Claimed::Go { .. } => report.tasks += 1,
                Claimed::Suppressed => report.stopped += 1,
                Claimed::Lost | Claimed::AlreadyDone => report.lost += 1,
            }
        }
        Ok(())
    }
}

/// An email's claim with its prepared message.
type EmailClaim<'r> = (Claim<'r>, &'r PreparedEmail);

/// The claims the round makes: its tasks, and its emails with their prepared messages.
fn claims<'r>(
    round: &'r Round,
    decided: &'r [(&'r Leased, Decision)],
) -> (Vec<Claim<'r>>, Vec<EmailClaim<'r>>) {
    let mut tasks = Vec::new();
    let mut emails = Vec::new();
    for (l, d) in decided {
        let Some(lead) = round.leads.get(&l.lead) else {
            continue;
        };
        let claim = |step: &'r str, kind: ClaimKind| Claim {
            enrollment: l.enrollment,
            lead: l.lead,
            email: &lead.record.email,
            sequence_id: &l.sequence_id,
            step_id: step,
            due_at: l.due_at,
            kind,
        };
        match d {
            Decision::Email(e) => emails.push((
                claim(
                    &e.step,
                    ClaimKind::Email {
                        mailbox: e.mailbox.clone(),
                        message_id: e.message_id.clone(),
                        subject: e.subject.clone(),
                        variant: e.variant.clone(),
                        recipient_domain: e.domain.clone().unwrap_or_default(),
                        // Decided at the claim itself (see `send_claimed`).
                        handed: false,
                        // Not held: refused by the fence (decide leaves such emails alone).
                        epoch: round.held.get(&e.mailbox).copied().unwrap_or(-1),
                    },
                ),
                e.as_ref(),
            )),
            Decision::Draft(p) => {
                tasks.push(claim(&p.step, ClaimKind::Draft(Box::new(p.draft.clone()))))
            }
            Decision::Task {
                step,
                kind,
                note,
                owner,
            } => tasks.push(claim(
                step,
                ClaimKind::Task {
                    kind: kind.clone(),
                    note: note.clone(),
                    owner: owner.clone(),
                },
            )),
            _ => {}
        }
    }
    (tasks, emails)
}

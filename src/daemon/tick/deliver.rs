//! Handing claimed emails to their mailboxes' transports, a few per connection at a time, and
//! recording what each server said. A claim commits before any byte goes to SMTP, and an
//! email is claimed only when its mailbox has room for it: the touches left `sending` at any
//! moment (those a crash turns into `uncertain`) are at most [`QUEUE_PER_CONNECTION`] per
//! connection.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::task::JoinSet;

use super::super::Daemon;
use super::decide::PreparedEmail;
use super::lanes::lanes_by_mailbox;
use super::{EmailClaim, QUEUE_PER_CONNECTION, Round, TickReport};
use crate::bounce::Reason;
use crate::context::lead_window;
use crate::domain::TouchKind;
use crate::enrollment::{EnrollmentState, TouchState};
use crate::plan::next_after;
use crate::policy::{self, AtSend, Strike};
use crate::schedule::pacing::Pacer;
use crate::send::transport::{Delivery, HandOver, MailTransport};
use crate::store::{
    Claim, ClaimKind, Claimed, EnrollmentId, Next, PastTouch, SentRecord, StoreError,
};

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
    clock: crate::domain::Clock,
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

/// The copy of a message for the Sent folder, when its mailbox keeps one. The folder takes
/// text: a message that is not UTF-8 (drumbeat writes none) gets no copy, and says so.
fn sent_copy(saves_sent: bool, bytes: &[u8], touch: i64) -> Option<String> {
    if !saves_sent {
        return None;
    }
    match String::from_utf8(bytes.to_vec()) {
        Ok(text) => Some(text),
        Err(_) => {
            tracing::warn!(touch, "not UTF-8: no copy goes into the Sent folder");
            None
        }
    }
}

/// One finished hand-over, back from its send task.
struct Handed {
    touch: i64,
    attempt: i64,
    index: usize,
    new_thread: bool,
    enrollment: EnrollmentId,
    mailbox: String,
    delivery: Delivery,
    /// The message as sent, when it goes into the mailbox's Sent folder too.
    copy: Option<String>,
}

/// The emails of one tick on their way: those waiting for room, how many each mailbox has in
/// flight, the send tasks, the gates' marks, and the finished sends waiting to be recorded
/// together with the next claims (one transaction).
struct InFlight<'r> {
    waiting: VecDeque<EmailClaim<'r>>,
    busy: HashMap<String, usize>,
    sends: JoinSet<Handed>,
    marked: HashMap<String, Marked>,
    sent: Vec<SentRecord>,
}

impl<'r> InFlight<'r> {
    /// The waiting emails that fit in their mailboxes' room now.
    fn take_batch(&mut self, room: impl Fn(&str) -> usize) -> Vec<EmailClaim<'r>> {
        let mut batch = Vec::new();
        let mut later = VecDeque::new();
        while let Some((c, e)) = self.waiting.pop_front() {
            let n = self.busy.entry(e.mailbox.clone()).or_default();
            if *n < room(&e.mailbox) {
                *n += 1;
                batch.push((c, e));
            } else {
                later.push_back((c, e));
            }
        }
        self.waiting = later;
        batch
    }

    /// A place of `mailbox` is free again.
    fn free(&mut self, mailbox: &str) {
        if let Some(n) = self.busy.get_mut(mailbox) {
            *n -= 1;
        }
    }
}

impl Daemon {
    /// Claims the prepared emails and hands them over, recording each outcome: in as many
    /// lanes as the store writes in parallel ([`Store::writers`]), each lane the emails of
    /// some mailboxes, its claims and records one transaction at a time. On PostgreSQL two
    /// lanes keep two of its backends busy where one waited for the other's statements; the
    /// lanes' transactions touch other enrollments and touches (other mailboxes), and the
    /// report's facts they share are locked last and in lead order.
    ///
    /// [`Store::writers`]: crate::store::Store::writers
    pub(super) async fn send_claimed<'r>(
        &self,
        round: &Round,
        emails: Vec<EmailClaim<'r>>,
        pacer: &mut Pacer,
        report: &mut TickReport,
    ) -> Result<(), StoreError> {
        let lanes = lanes_by_mailbox(emails, |(_, e)| e.mailbox.as_str(), self.store().writers());
        if lanes.len() > 1 {
            let sizes: Vec<usize> = lanes.iter().map(Vec::len).collect();
            tracing::debug!(?sizes, "claiming and recording in {} lanes", lanes.len());
        }
        let outcomes = futures_util::future::join_all(lanes.into_iter().map(|lane| async {
            let mut report = TickReport::default();
            let mut given_back = Vec::new();
            let done = self
                .send_lane(round, lane, &mut given_back, &mut report)
                .await;
            (done, report, given_back)
        }))
        .await;
        let mut result = Ok(());
        for (done, lane_report, given_back) in outcomes {
            crate::daemon::add(report, &lane_report);
            for mailbox in given_back {
                pacer.give_back(&mailbox);
            }
            result = result.and(done);
        }
        result
    }

    /// One lane of [`Daemon::send_claimed`]. The mailboxes of claims lost are added to
    /// `given_back` (their pacer's grants were not used).
    async fn send_lane<'r>(
        &self,
        round: &Round,
        emails: Vec<EmailClaim<'r>>,
        given_back: &mut Vec<String>,
        report: &mut TickReport,
    ) -> Result<(), StoreError> {
        let mut f = InFlight {
            waiting: emails.into(),
            busy: HashMap::new(),
            sends: JoinSet::new(),
            marked: HashMap::new(),
            sent: Vec::new(),
        };
        loop {
            let batch = f.take_batch(|m| self.room(m));
            if !batch.is_empty() || !f.sent.is_empty() {
                self.step_at("claiming emails");
                self.claim_and_hand_over(round, batch, &mut f, given_back, report)
                    .await?;
            }
            self.step_at("sending");
            // Wait for the first outcome, and take any others already there.
            let Some(first) = f.sends.join_next().await else {
                if f.waiting.is_empty() {
                    return Ok(());
                }
                // Nothing is in flight (a send task that panicked was not counted back).
                f.busy.clear();
                continue;
            };
            let mut done = vec![first];
            while let Some(more) = f.sends.try_join_next() {
                done.push(more);
            }
            for handed in done.into_iter().flatten() {
                let mailbox = handed.mailbox.clone();
                // Under a fixed clock (tests, `--now`), the send happens at `now`.
                let done_at = self.now().max(round.now);
                self.step_at("recording a send");
                self.record(round, handed, done_at, report, &mut f.sent)
                    .await?;
                // Its room is free: the touch is recorded `sent` in the same transaction that
                // claims the next one, so a crash never leaves more than `room` touches
                // `sending` per mailbox.
                f.free(&mailbox);
            }
        }
    }

    /// How many emails of `mailbox` may be claimed and not yet recorded.
    fn room(&self, mailbox: &str) -> usize {
        self.config()
            .mailbox(mailbox)
            .map_or(1, |m| QUEUE_PER_CONNECTION * m.pacing.connections.max(1))
    }

    /// Records the finished sends and claims `batch` in one transaction, then starts a send
    /// task for each email that is ours to send.
    async fn claim_and_hand_over<'r>(
        &self,
        round: &Round,
        batch: Vec<EmailClaim<'r>>,
        f: &mut InFlight<'r>,
        given_back: &mut Vec<String>,
        report: &mut TickReport,
    ) -> Result<(), StoreError> {
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
            .record_sent_then_claim(&f.sent, self.instance(), &claims, round.t())
            .await?;
        f.sent.clear();
        for (((claim, e), outcome), handed) in batch.into_iter().zip(outcomes).zip(handed) {
            match (outcome, self.transport(&e.mailbox)) {
                (Claimed::Go { touch, attempt }, Some(transport)) => {
                    let gate = (!handed).then(|| HandGate {
                        store: self.store().clone(),
                        instance: self.instance().to_string(),
                        mailbox: e.mailbox.clone(),
                        touch,
                        clock: self.clock(),
                        marked: f.marked.entry(e.mailbox.clone()).or_default().clone(),
                    });
                    self.hand_over(&mut f.sends, &claim, e, (touch, attempt), gate, transport);
                    continue;
                }
                // Every configured mailbox has a transport.
                (Claimed::Go { .. }, None) => {}
                (Claimed::Suppressed, _) => report.stopped += 1,
                (Claimed::Lost | Claimed::AlreadyDone, _) => {
                    report.lost += 1;
                    given_back.push(e.mailbox.clone());
                }
            }
            f.free(&e.mailbox);
        }
        Ok(())
    }

    /// Starts the send task of one claimed email.
    fn hand_over(
        &self,
        sends: &mut JoinSet<Handed>,
        claim: &Claim<'_>,
        e: &PreparedEmail,
        (touch, attempt): (i64, i64),
        gate: Option<HandGate>,
        transport: Arc<MailTransport>,
    ) {
        let mailbox = self.config().mailbox(&e.mailbox);
        let from = mailbox.map(|m| m.from.to_string()).unwrap_or_default();
        let bcc = mailbox.and_then(|m| m.bcc.as_ref()).map(|b| b.to_string());
        let copy = sent_copy(mailbox.is_some_and(|m| m.saves_sent()), &e.bytes, touch);
        let to = claim.email.to_string();
        let message_id = e.message_id.clone();
        let bytes = e.bytes.clone();
        let (index, new_thread) = (e.index, e.new_thread);
        let enrollment = claim.enrollment;
        let mailbox = e.mailbox.clone();
        sends.spawn(async move {
            let delivery = transport
                .deliver(
                    (&from, &to, bcc.as_deref()),
                    &message_id,
                    &bytes,
                    gate.as_ref().map(|g| g as &dyn HandOver),
                )
                .await;
            Handed {
                touch,
                attempt,
                index,
                new_thread,
                enrollment,
                mailbox,
                delivery,
                copy,
            }
        });
    }

    /// Records what the server said about one email.
    async fn record(
        &self,
        round: &Round,
        h: Handed,
        at: DateTime<Utc>,
        report: &mut TickReport,
        sent: &mut Vec<SentRecord>,
    ) -> Result<(), StoreError> {
        let t = at.timestamp();
        let store = self.store();
        let touch = h.touch;
        match &h.delivery {
            Delivery::Accepted { response } => {
                report.sent += 1;
                let l = round.leased(h.enrollment);
                tracing::info!(touch, enrollment = l.enrollment.0, sequence = %l.sequence_id, "sent");
                // Recorded with the others that finished together (`record_sent_many`).
                sent.push(SentRecord {
                    touch,
                    response: response.clone(),
                    new_thread: h.new_thread,
                    next: self.next_after_send(
                        round,
                        h.enrollment,
                        h.index,
                        (touch, h.attempt),
                        at,
                    ),
                    at: t,
                    copy: h.copy,
                });
                Ok(())
            }
            Delivery::Retry { reason } => self.record_retry(&h, reason, t, report).await,
            Delivery::Rejected { reason, bounce, .. } => {
                self.record_rejected(round, &h, reason, *bounce, t, report)
                    .await
            }
            Delivery::Uncertain { reason } => {
                report.uncertain += 1;
                tracing::warn!(
                    touch,
                    "outcome unknown, needs `drumbeat resolve {touch}`: {reason}"
                );
                store.record_uncertain(touch, reason).await
            }
        }
    }

    /// A temporary failure: tried again after the retry schedule's next wait, or given up.
    async fn record_retry(
        &self,
        h: &Handed,
        reason: &str,
        t: i64,
        report: &mut TickReport,
    ) -> Result<(), StoreError> {
        self.pause_if_signed_out(&h.mailbox, t).await?;
        let (touch, attempt) = (h.touch, h.attempt);
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
                self.store().record_retry(touch, reason, t + wait, t).await
            }
            None => {
                report.failed += 1;
                tracing::warn!(
                    touch,
                    attempt,
                    "giving up after {attempt} attempts: {reason}"
                );
                let msg = format!("gave up after {attempt} attempts: {reason}");
                self.store()
                    .record_failed(touch, &msg, EnrollmentState::Failed, None, t)
                    .await
            }
        }
    }

    /// A refusal: what it does to the lead is the policy's call (`policy::at_send`), by the
    /// side of its reason; a refusal of the sender also counts against the mailbox. A refusal
    /// without a reason (our own setup) fails the step.
    async fn record_rejected(
        &self,
        round: &Round,
        h: &Handed,
        reason: &str,
        bounce: Option<Reason>,
        t: i64,
        report: &mut TickReport,
    ) -> Result<(), StoreError> {
        let touch = h.touch;
        let store = self.store();
        let Some(why) = bounce else {
            report.failed += 1;
            tracing::warn!(touch, "rejected: {reason}");
            return store
                .record_failed(touch, reason, EnrollmentState::Failed, None, t)
                .await;
        };
        let shown = format!("{reason} [{why}]");
        match policy::at_send(why, h.attempt - 1) {
            AtSend::Bounced => {
                report.failed += 1;
                report.bounced += 1;
                let l = round.leased(h.enrollment);
                let email = round
                    .leads
                    .get(&l.lead)
                    .map(|lead| lead.record.email.to_string());
                tracing::info!(touch, "hard bounce at send time: {shown}");
                store
                    .record_strike(
                        &h.mailbox,
                        Strike::HardBounce,
                        Some(why.as_str()),
                        reason,
                        t,
                    )
                    .await?;
                store
                    .record_failed(touch, &shown, EnrollmentState::Bounced, email.as_deref(), t)
                    .await
            }
            AtSend::GaveUp => {
                report.failed += 1;
                report.bounced += 1;
                tracing::info!(touch, "soft bounce after soft bounce, stopping: {shown}");
                store
                    .record_failed(touch, &shown, EnrollmentState::Bounced, None, t)
                    .await
            }
            AtSend::RetryLead { after } => {
                report.retried += 1;
                tracing::info!(
                    touch,
                    "the lead's mailbox refused it for now, retrying in {after}s: {shown}"
                );
                store.record_retry(touch, &shown, t + after, t).await
            }
            AtSend::RetrySender { after } => {
                report.retried += 1;
                tracing::warn!(
                    touch,
                    mailbox = %h.mailbox,
                    "refused as a sender (counts against the mailbox), retrying in {after}s: {shown}"
                );
                store
                    .record_strike(&h.mailbox, Strike::Block, Some(why.as_str()), reason, t)
                    .await?;
                store.record_retry(touch, &shown, t + after, t).await
            }
        }
    }

    /// Where the enrollment goes once the email of step `index` was sent at `at`.
    fn next_after_send(
        &self,
        round: &Round,
        enrollment: EnrollmentId,
        index: usize,
        (touch, attempt): (i64, i64),
        at: DateTime<Utc>,
    ) -> Next {
        let l = round.leased(enrollment);
        let (Some(seq), Some(lead)) = (
            round.catalog.sequence(&l.sequence_id),
            round.leads.get(&l.lead),
        ) else {
            return Next::Finished;
        };
        let (window, tz) = lead_window(seq, lead, self.config().timezone);
        let mut done = round.past.get(&l.enrollment).cloned().unwrap_or_default();
        done.push(PastTouch {
            id: touch,
            step_id: seq.steps[index].id.clone(),
            kind: TouchKind::Email,
            state: TouchState::Sent,
            message_id: None,
            subject: None,
            sent_at: Some(at.timestamp()),
            attempt,
            mailbox: None,
        });
        next_after(
            seq,
            (&window, tz),
            index,
            &done,
            at,
            lead.record.email.as_str(),
            self.config().sending.jitter,
        )
    }
}

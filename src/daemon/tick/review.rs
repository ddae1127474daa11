//! Email steps with `review:`: when due, the step becomes a draft the rep approves (composed by
//! the one composer, unsigned: the rep's own client may send it); a waiting draft keeps its
//! lead at the step until the rep acts or its deadline passes; an approved draft goes out
//! through the normal path with the text the rep approved.

use chrono::{DateTime, Utc};

use super::super::Daemon;
use super::Round;
use super::TickReport;
use super::decide::{Decision, DueEmail};
use crate::catalog::Catalog;
use crate::context::lead_window;
use crate::domain::{Next, PastTouch, TouchKind};
use crate::enrollment::TouchState;
use crate::plan::{Done, next_from, start_from};
use crate::send::compose::{Draft, EditedText, compose, seeded_message_id};
use crate::send::message::new_message_id;
use crate::sequence::Review;
use crate::store::{DraftRow, Leased, NewDraft, StoreError};

/// A review step's draft, composed and ready to store.
pub(super) struct PreparedDraft {
    pub(super) step: String,
    pub(super) draft: NewDraft,
}

/// The text of an approved draft of this step, to send in place of the template's.
pub(super) fn approved_text(round: &Round, l: &Leased, step: &str) -> Option<EditedText> {
    round
        .drafts
        .get(&l.enrollment)
        .filter(|d| d.state == "approved" && d.step_id == step)
        .map(|d| EditedText {
            subject: d.subject.clone(),
            text: d.body.clone(),
            html: d.html.clone(),
        })
}

impl Daemon {
    /// What a due email step with a draft (or `review:`) becomes, or `None` for the normal
    /// path (no review, or an approved draft to send).
    pub(super) fn review(
        &self,
        round: &Round,
        due: &DueEmail<'_>,
        now: DateTime<Utc>,
    ) -> Option<Decision> {
        let step = &due.seq.steps[due.index];
        let waiting = round
            .drafts
            .get(&due.leased.enrollment)
            .filter(|d| d.step_id == step.id);
        match waiting {
            Some(d) if d.state == "approved" => None,
            Some(d) => Some(self.draft_waits(d, due, now)),
            None => {
                let review = step.email().and_then(|e| e.review)?;
                Some(self.make_draft(&round.catalog, due, review, now))
            }
        }
    }

    /// A draft the rep has not acted on: past its deadline, a task or a skip; else it waits.
    fn draft_waits(&self, d: &DraftRow, due: &DueEmail<'_>, now: DateTime<Utc>) -> Decision {
        let step = due.seq.steps[due.index].id.clone();
        let passed = d.deadline_at.is_some_and(|at| at <= now.timestamp());
        if !passed || d.task_id.is_some() {
            let due_at = d.deadline_at.filter(|_| d.task_id.is_none());
            return Decision::DraftWait { step, due: due_at };
        }
        match d.then.as_deref() {
            Some("skip") => {
                let mut past = due.past.to_vec();
                past.push(PastTouch {
                    id: d.touch_id,
                    step_id: step,
                    kind: TouchKind::Email,
                    state: TouchState::Skipped,
                    message_id: None,
                    subject: None,
                    sent_at: None,
                    attempt: 0,
                    mailbox: None,
                });
                let (window, tz) = lead_window(due.seq, due.lead, self.config().timezone);
                let next = next_from(
                    due.seq,
                    start_from(due.seq, due.index, Done::Skipped),
                    &past,
                    (&window, now, tz),
                    due.lead.record.email.as_str(),
                    self.config().sending.jitter,
                );
                Decision::DraftSkip { draft: d.id, next }
            }
            _ => Decision::DraftTask {
                draft: Box::new(d.clone()),
                note: format!(
                    "The draft #{} to {} ({:?}) is past its deadline: send it from your mail client or with `drumbeat draft send {}`, or `drumbeat draft skip {}`.",
                    d.id, d.email, d.subject, d.id, d.id
                ),
            },
        }
    }

    /// A review step comes due: its message, composed as a send would be (not signed), becomes
    /// a draft.
    fn make_draft(
        &self,
        catalog: &Catalog,
        due: &DueEmail<'_>,
        review: Review,
        now: DateTime<Utc>,
    ) -> Decision {
        let (seq, mailbox) = (due.seq, due.mailbox);
        let step = &seq.steps[due.index];
        let message_id = if self.clock_is_fixed() {
            seeded_message_id(mailbox, due.leased.enrollment.0, &seq.id, &step.id)
        } else {
            new_message_id(mailbox)
        };
        let composed = compose(
            catalog,
            self.config(),
            self.tokens(),
            &Draft {
                sequence: seq,
                index: due.index,
                lead: &due.lead.record,
                mailbox,
                past: due.past,
                stored_subject: due.leased.thread_subject.as_deref(),
                message_id: &message_id,
                date: now,
                variant: None,
            },
        );
        let composed = match composed {
            Ok(c) => c,
            Err(error) => {
                return Decision::RenderFailed {
                    step: step.id.clone(),
                    error,
                };
            }
        };
        let (window, tz) = lead_window(seq, due.lead, self.config().timezone);
        let deadline_at = review
            .deadline
            .map(|w| window.apply_wait(tz, now, w).timestamp());
        let draft = NewDraft {
            mailbox: mailbox.name.clone(),
            in_reply_to: composed.in_reply_to.clone(),
            subject: composed.plain.subject.clone(),
            body: composed.plain.text.clone(),
            html: composed.plain.html.clone(),
            message: String::from_utf8_lossy(&composed.message.formatted()).into_owned(),
            variant: composed.rendered.variant.clone(),
            recipient_domain: due
                .lead
                .record
                .email
                .account_domain()
                .unwrap_or_default()
                .to_string(),
            deadline_at,
            then: deadline_at.map(|_| review.then.as_str().to_string()),
            imap: mailbox.imap.is_some(),
            message_id,
        };
        Decision::Draft(Box::new(PreparedDraft {
            step: step.id.clone(),
            draft,
        }))
    }

    /// Settles a draft decision that claims nothing (a wait, a deadline); any other decision
    /// is left alone.
    pub(super) async fn settle_draft(
        &self,
        l: &Leased,
        d: &Decision,
        t: i64,
        report: &mut TickReport,
    ) -> Result<(), StoreError> {
        let store = self.store();
        match d {
            Decision::DraftWait { step, due } => {
                tracing::debug!(enrollment = l.enrollment.0, step = %step, "waiting for its draft");
                store
                    .wait_for_draft(self.instance(), l.enrollment, *due, t)
                    .await?;
            }
            Decision::DraftSkip { draft, next } => {
                report.stopped += u64::from(matches!(next, Next::Finished));
                tracing::info!(
                    enrollment = l.enrollment.0,
                    draft,
                    "draft past its deadline: step skipped"
                );
                store.skip_draft(*draft, "deadline", next, t).await?;
            }
            Decision::DraftTask { draft, note } => {
                report.tasks += 1;
                tracing::info!(
                    enrollment = l.enrollment.0,
                    draft = draft.id,
                    "draft past its deadline: a task for the rep"
                );
                store
                    .draft_deadline_task(self.instance(), draft, note, t)
                    .await?;
            }
            _ => {}
        }
        Ok(())
    }
}

//! Deciding one leased enrollment: its step, the window and pacing, the mailbox, and for an
//! email the finished message (through the one composer, `send::compose`).

use chrono::{DateTime, Utc};

use super::super::Daemon;
use super::Round;
use super::review::{PreparedDraft, approved_text};
use crate::catalog::{Catalog, Sequence, StepKind};
use crate::config::Mailbox;
use crate::context::lead_window;
use crate::domain::Next;
use crate::domain::TouchKind;
use crate::plan::{Done, current_step, jitter_seed, next_from, spread, start_from};
use crate::policy::{Gate, InboxRead, InboxWait, inbox_gate};
use crate::render::RenderInput;
use crate::schedule::pacing::{Pace, Pacer};
use crate::send::compose::{Draft, EditedText, compose_with, seeded_message_id};
use crate::send::message::new_message_id;
use crate::send::{Deal, choose_mailbox};
use crate::sequence::Applies;
use crate::sequence::condition::Facts;
use crate::store::{Leased, PastTouch, StoredLead};

/// Why a due step was moved to a later time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum DeferWhy {
    /// The send window (the lead's, or the rep's working hours for a task) is closed.
    Window,
    /// A mailbox's daily cap or gap, or a domain's hourly limit, has no room now.
    Limit,
}

/// What the daemon decided for one leased enrollment.
pub(super) enum Decision {
    /// A step that cannot go now: due again at the time given.
    Defer(Option<String>, i64, DeferWhy),
    /// A follow-up that waits for its mailbox's inbox to be read (never written blind).
    WaitInbox {
        step: String,
        mailbox: String,
        why: InboxWait,
    },
    Finish,
    /// A lead whose domain cannot receive mail, before its first email: failed with why.
    Skip {
        step: String,
        why: String,
    },
    Pause(String),
    /// A step a planned pause covers (a rep's vacation, a paused sequence): due again at `due`.
    Held {
        step: String,
        hold: i64,
        due: i64,
    },
    /// A step whose condition does not hold: recorded as skipped, on to `next`.
    PassOver {
        step: (String, TouchKind),
        why: String,
        next: Next,
    },
    Email(Box<PreparedEmail>),
    /// An email from a mailbox another daemon holds: left to it.
    Elsewhere {
        mailbox: String,
    },
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
    /// A review step: the draft to store (see `review`).
    Draft(Box<PreparedDraft>),
    /// A draft the rep has not acted on: the lead waits (until the deadline, when one is due).
    DraftWait {
        step: String,
        due: Option<i64>,
    },
    /// A draft past its deadline with `then: skip`.
    DraftSkip {
        draft: i64,
        next: crate::domain::Next,
    },
    /// A draft past its deadline with `then: task`.
    DraftTask {
        draft: Box<crate::store::DraftRow>,
        note: String,
    },
}

pub(super) struct PreparedEmail {
    pub(super) step: String,
    pub(super) index: usize,
    pub(super) mailbox: String,
    pub(super) message_id: String,
    pub(super) variant: String,
    pub(super) subject: String,
    pub(super) bytes: Vec<u8>,
    pub(super) domain: Option<String>,
    pub(super) new_thread: bool,
}

/// A due email step, with what the tick read for it.
#[derive(Clone, Copy)]
pub(super) struct DueEmail<'a> {
    pub(super) seq: &'a Sequence,
    pub(super) index: usize,
    pub(super) lead: &'a StoredLead,
    pub(super) mailbox: &'a Mailbox,
    pub(super) leased: &'a Leased,
    pub(super) past: &'a [PastTouch],
}

impl Daemon {
    pub(super) fn decide(
        &self,
        round: &Round,
        l: &Leased,
        lead: &StoredLead,
        pacer: &mut Pacer,
    ) -> Decision {
        let (catalog, now) = (round.catalog.as_ref(), round.now);
        let past = round.past_of(l.enrollment);
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
        let (window, lead_tz) = lead_window(seq, lead, self.config().timezone);
        if let Some(d) = self.pass_over(round, l, lead, (seq, index), (&window, lead_tz)) {
            return d;
        }
        let owner = lead.record.owner.as_deref();
        let Some(mailbox) = choose_mailbox(
            self.config(),
            seq,
            Deal::Enrollment(l.enrollment.0),
            owner,
            l.mailbox.as_deref(),
        ) else {
            return Decision::Pause(
                "no mailbox can send this sequence (check [[mailbox]] in config.toml and the sequence's mailboxes)".into(),
            );
        };
        let tz = match super::hours::gate(round, self.config(), (seq, step), lead, mailbox) {
            Ok(tz) => tz,
            Err(wait) => return wait,
        };
        match &step.kind {
            StepKind::Task(task) => {
                let owner = Some(owner.map_or_else(|| mailbox.name.clone(), str::to_string));
                task_decision(
                    catalog,
                    seq,
                    index,
                    lead,
                    mailbox,
                    task.kind.as_str(),
                    owner,
                )
            }
            StepKind::Email(_) => {
                let due = DueEmail {
                    seq,
                    index,
                    lead,
                    mailbox,
                    leased: l,
                    past,
                };
                if let Some(d) = self.email_gate(round, &due, now) {
                    return d;
                }
                self.email_decision(round, &due, tz, pacer)
            }
        }
    }

    /// What keeps an email step from being composed now: its mailbox held by another daemon
    /// (left to it), a lead's domain that cannot receive mail (skipped), an inbox not read
    /// since the previous touch (waits).
    fn email_gate(
        &self,
        round: &Round,
        due: &DueEmail<'_>,
        now: DateTime<Utc>,
    ) -> Option<Decision> {
        let (mailbox, step) = (due.mailbox, &due.seq.steps[due.index]);
        if !round.held.contains_key(&mailbox.name) {
            return Some(Decision::Elsewhere {
                mailbox: mailbox.name.clone(),
            });
        }
        if let Some(why) = super::domains::skip_why(round, due.lead, mailbox, due.past) {
            return Some(Decision::Skip {
                step: step.id.clone(),
                why,
            });
        }
        if let Gate::Wait(why) = self.inbox_gate(round, due.past, now) {
            return Some(Decision::WaitInbox {
                step: step.id.clone(),
                mailbox: mailbox.name.clone(),
                why,
            });
        }
        None
    }

    /// A step whose condition does not hold for the lead now is passed over, on to the next
    /// step (its wait counted from now). A step already begun (a retry, an open task) is not
    /// asked again.
    fn pass_over(
        &self,
        round: &Round,
        l: &Leased,
        lead: &StoredLead,
        (seq, index): (&Sequence, usize),
        (window, tz): (&crate::schedule::SendWindow, chrono_tz::Tz),
    ) -> Option<Decision> {
        let step = &seq.steps[index];
        step.flow.guard.as_ref()?;
        let past = round.past_of(l.enrollment);
        if past.iter().any(|t| t.step_id == step.id) {
            return None;
        }
        let engagement = round.engagement_of(l.enrollment);
        let facts = Facts {
            lead: &lead.record,
            engagement: Some(&engagement),
        };
        let Applies::Skip(why) = step.flow.applies(facts) else {
            return None;
        };
        let kind = match step.kind {
            StepKind::Email(_) => TouchKind::Email,
            StepKind::Task(_) => TouchKind::Task,
        };
        let next = next_from(
            seq,
            start_from(seq, index, Done::Skipped),
            past,
            (window, round.now, tz),
            lead.record.email.as_str(),
            self.config().sending.jitter,
        );
        Some(Decision::PassOver {
            step: (step.id.clone(), kind),
            why,
            next,
        })
    }

    /// Whether an email may go to a lead now, as far as the inbox is concerned: after the
    /// lead's previous email from a watched mailbox, only once that mailbox was read since,
    /// and recently (`[sending] inbox_fresh`).
    fn inbox_gate(&self, round: &Round, past: &[PastTouch], now: DateTime<Utc>) -> Gate {
        let config = self.config();
        let previous = past
            .iter()
            .filter(|t| t.kind == TouchKind::Email)
            .filter_map(|t| Some((t.sent_at?, t.mailbox.as_deref())))
            .max_by_key(|(at, _)| *at);
        let Some((sent_at, from)) = previous else {
            return inbox_gate(None, &InboxRead::default(), now.timestamp(), 0);
        };
        let watched = from.and_then(|name| {
            config
                .mailboxes
                .iter()
                .find(|m| m.name == name && m.imap.is_some())
        });
        let read = watched
            .and_then(|m| round.inbox.get(&m.name))
            .cloned()
            .unwrap_or_default();
        inbox_gate(
            Some((sent_at, watched.is_some())),
            &read,
            now.timestamp(),
            config.sending.inbox_fresh,
        )
    }

    /// An email step: deferred while its mailbox or the lead's domain has no room, else
    /// composed.
    /// A reviewed step becomes a draft for the rep instead (see `review`); an approved
    /// draft's text is sent in place of the template's.
    fn email_decision(
        &self,
        round: &Round,
        due: &DueEmail<'_>,
        tz: chrono_tz::Tz,
        pacer: &mut Pacer,
    ) -> Decision {
        let (catalog, now) = (round.catalog.as_ref(), round.now);
        if let Some(d) = self.review(round, due, now) {
            return d;
        }
        let (seq, lead, mailbox) = (due.seq, due.lead, due.mailbox);
        let step = &seq.steps[due.index];
        let domain = lead.record.email.account_domain().map(str::to_string);
        if let Pace::NotBefore(at) = pacer.ask(mailbox, domain.as_deref(), now) {
            // Into the window (a cap's next day starts at midnight, before it opens).
            let seed = jitter_seed(lead.record.email.as_str(), &seq.id, &step.id);
            let at = DateTime::from_timestamp(at, 0)
                .and_then(|t| {
                    let (window, _) = lead_window(seq, lead, self.config().timezone);
                    spread(&window, tz, t, seed, self.config().sending.jitter)
                })
                .map_or(at, |t| t.timestamp());
            return Decision::Defer(Some(step.id.clone()), at, DeferWhy::Limit);
        }
        let edited = approved_text(round, due.leased, &step.id);
        match self.prepare(catalog, due, edited.as_ref(), now) {
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

    /// The email of a due step, composed (see [`compose`]) and signed.
    pub(super) fn prepare(
        &self,
        catalog: &Catalog,
        due: &DueEmail<'_>,
        edited: Option<&EditedText>,
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
            .find(|t| t.step_id == step.id && t.kind == TouchKind::Email)
            .and_then(|t| t.message_id.clone())
            .unwrap_or_else(|| {
                if self.clock_is_fixed() {
                    seeded_message_id(mailbox, l.enrollment.0, &seq.id, &step.id)
                } else {
                    new_message_id(mailbox)
                }
            });
        let composed = compose_with(
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
                variant: None,
            },
            edited,
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
}

/// A task step: its note rendered for the lead, or the render's error.
fn task_decision(
    catalog: &Catalog,
    seq: &Sequence,
    index: usize,
    lead: &StoredLead,
    mailbox: &Mailbox,
    kind: &str,
    owner: Option<String>,
) -> Decision {
    let step = &seq.steps[index];
    let input = RenderInput {
        lead: &lead.record,
        sender: mailbox,
        unsubscribe_url: crate::render::SAMPLE_UNSUBSCRIBE_URL,
    };
    match catalog.renderer.render_note(&input, seq, index) {
        Ok(note) => Decision::Task {
            step: step.id.clone(),
            kind: kind.to_string(),
            note,
            owner,
        },
        Err(e) => Decision::RenderFailed {
            step: step.id.clone(),
            error: e.to_string(),
        },
    }
}

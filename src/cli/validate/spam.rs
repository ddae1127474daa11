//! `validate --spam`: every email step (each A/B variant) composed by the one composer for a
//! lead, as the daemon would send it as a fresh enrollment's touches, and scored by
//! SpamAssassin (`spamassassin -L -t`), with the rules each message hits.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::super::Failure;
use crate::catalog::Catalog;
use crate::config::{Config, Mailbox};
use crate::domain::PastTouch;
use crate::lead::LeadRecord;
use crate::send::compose::{Draft, compose, seeded_message_id};
use crate::send::tokens::TokenKey;
use crate::send::{Deal, choose_mailbox};
use crate::sequence::Sequence;
use crate::spam::{RuleHit, SpamAssassin, SpamReport, TIMEOUT};

/// The installed `spamassassin`; its absence is a failure that says what to install.
pub(super) fn find() -> Result<SpamAssassin, Failure> {
    SpamAssassin::find().ok_or_else(|| {
        Failure::failed(
            "spamassassin not found; install Debian's spamassassin package \
             (apt-get install --no-install-recommends spamassassin), or leave out --spam",
        )
    })
}

/// One scored email in `validate --spam`.
#[derive(Serialize)]
pub(super) struct ScoredEmail {
    sequence: String,
    step: String,
    /// The A/B variant, when the step has more than one.
    #[serde(skip_serializing_if = "Option::is_none")]
    variant: Option<String>,
    /// SpamAssassin's score; `None` when the message could not be composed or scored.
    score: Option<f64>,
    /// The rules hit, most points first.
    rules: Vec<RuleHit>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// The `spam` part of `validate --json`.
#[derive(Serialize)]
pub(super) struct SpamSection {
    /// The program that scored.
    program: String,
    /// Its version, as its report names it.
    version: Option<String>,
    /// The lead the emails were composed for.
    lead: String,
    threshold: f64,
    emails: Vec<ScoredEmail>,
    /// Emails scoring at or above the threshold.
    over: usize,
    /// Emails that could not be composed or scored.
    failed: usize,
}

impl SpamSection {
    /// True when every email was scored below the threshold.
    pub(super) fn ok(&self) -> bool {
        self.over == 0 && self.failed == 0
    }

    /// The end of `validate`'s summary line.
    pub(super) fn summary(&self) -> String {
        let highest = self
            .emails
            .iter()
            .filter_map(|e| e.score)
            .max_by(f64::total_cmp);
        let mut s = format!("spam: {} email(s) scored", self.emails.len() - self.failed);
        if let Some(h) = highest {
            s.push_str(&format!(", highest {h:.1}"));
        }
        s.push_str(&format!(
            ", {} at or above {:.1}",
            self.over, self.threshold
        ));
        if self.failed > 0 {
            s.push_str(&format!(", {} not scored", self.failed));
        }
        s
    }

    /// Each email's score and the rules it hit.
    pub(super) fn print(&self) {
        say!(
            "SpamAssassin {} ({}) on each email step for {}:",
            self.version.as_deref().unwrap_or("(version unknown)"),
            self.program,
            self.lead
        );
        for e in &self.emails {
            let name = match &e.variant {
                Some(v) => format!("{}/{} (variant {v})", e.sequence, e.step),
                None => format!("{}/{}", e.sequence, e.step),
            };
            match (e.score, &e.error) {
                (Some(score), _) => {
                    let verdict = if score >= self.threshold {
                        ": at or above the threshold"
                    } else {
                        ""
                    };
                    say!(
                        "{name}: score {score:.1} (threshold {:.1}){verdict}",
                        self.threshold
                    );
                }
                (None, error) => say!(
                    "{name}: not scored: {}",
                    error.as_deref().unwrap_or("unknown error")
                ),
            }
            for r in &e.rules {
                say!("  {:>5.1} {:<24} {}", r.points, r.name, r.description);
            }
        }
    }
}

/// One composed message, before scoring.
struct Composed {
    sequence: String,
    step: String,
    variant: Option<String>,
    message: Result<Vec<u8>, String>,
}

/// Composes every email step of every sequence for `lead` and scores each with `sa`.
pub(super) fn check(
    sa: &SpamAssassin,
    config: &Config,
    catalog: &Catalog,
    lead: &LeadRecord,
    threshold: f64,
    date: DateTime<Utc>,
) -> SpamSection {
    // The links the daemon writes, signed with a throwaway key: a filter sees their shape,
    // never checks their signature, and validate need not open the store for the real key.
    let key = TokenKey::new(b"validate --spam: links as the daemon writes them");
    let composer = Composer {
        config,
        catalog,
        lead,
        key: &key,
        date,
    };
    let messages: Vec<Composed> = catalog
        .sequences()
        .flat_map(|seq| composer.sequence(seq))
        .collect();
    let scores = score_all(sa, &messages);
    let mut version = None;
    let emails: Vec<ScoredEmail> = messages
        .into_iter()
        .zip(scores)
        .map(|(m, scored)| {
            let (score, mut rules, error) = match scored {
                Ok(report) => {
                    version = version.take().or(report.version);
                    (Some(report.score), report.rules, None)
                }
                Err(e) => (None, Vec::new(), Some(e)),
            };
            rules.sort_by(|a, b| b.points.total_cmp(&a.points).then(a.name.cmp(&b.name)));
            ScoredEmail {
                sequence: m.sequence,
                step: m.step,
                variant: m.variant,
                score,
                rules,
                error,
            }
        })
        .collect();
    SpamSection {
        program: sa.program().display().to_string(),
        version,
        lead: lead.email.to_string(),
        threshold,
        over: emails
            .iter()
            .filter(|e| e.score.is_some_and(|s| s >= threshold))
            .count(),
        failed: emails.iter().filter(|e| e.score.is_none()).count(),
        emails,
    }
}

/// Scores every message, a few at a time (each run of SpamAssassin is a second of one core,
/// most of it loading its rules); the results in the messages' order.
fn score_all(sa: &SpamAssassin, messages: &[Composed]) -> Vec<Result<SpamReport, String>> {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    let score = |m: &Composed| {
        m.message
            .as_ref()
            .map_err(Clone::clone)
            .and_then(|bytes| sa.score(bytes, TIMEOUT).map_err(|e| e.to_string()))
    };
    let mut scored: Vec<(usize, Result<SpamReport, String>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                s.spawn(move || {
                    messages
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| i % workers == w)
                        .map(|(i, m)| (i, score(m)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("scoring a message does not panic"))
            .collect()
    });
    scored.sort_by_key(|(i, _)| *i);
    scored.into_iter().map(|(_, r)| r).collect()
}

/// What every message is composed from.
struct Composer<'a> {
    config: &'a Config,
    catalog: &'a Catalog,
    lead: &'a LeadRecord,
    key: &'a TokenKey,
    date: DateTime<Utc>,
}

impl Composer<'_> {
    /// Every email step of `seq` (each variant), as the first enrollment of the lead would
    /// get them: each step threads on the ones before it, as sent in the lead's own variant.
    fn sequence(&self, seq: &Sequence) -> Vec<Composed> {
        let lead = self.lead;
        let mailbox = choose_mailbox(
            self.config,
            seq,
            Deal::Address(lead.email.as_str()),
            lead.owner.as_deref(),
            None,
        );
        let mut out = Vec::new();
        let mut past: Vec<PastTouch> = Vec::new();
        for (index, step) in seq.steps.iter().enumerate() {
            let Some(email) = step.email() else {
                continue;
            };
            let Some(mailbox) = mailbox else {
                out.push(Composed {
                    sequence: seq.id.clone(),
                    step: step.id.clone(),
                    variant: None,
                    message: Err("no mailbox can send this sequence (check [[mailbox]] in \
                                  config.toml and the sequence's mailboxes)"
                        .into()),
                });
                continue;
            };
            let message_id = seeded_message_id(mailbox, 0, &seq.id, &step.id);
            // The steps after this one thread on the variant the lead gets; every variant is
            // scored, in the order the sequence lists them.
            let (own, sent) = self.one(seq, index, mailbox, &past, &message_id, None);
            if email.variants.len() > 1 {
                for v in 0..email.variants.len() {
                    out.push(self.one(seq, index, mailbox, &past, &message_id, Some(v)).0);
                }
            } else {
                out.push(Composed {
                    variant: None,
                    ..own
                });
            }
            past.extend(sent);
        }
        out
    }

    /// One step in one variant (the lead's own when `None`), and the touch it becomes once
    /// sent.
    fn one(
        &self,
        seq: &Sequence,
        index: usize,
        mailbox: &Mailbox,
        past: &[PastTouch],
        message_id: &str,
        variant: Option<usize>,
    ) -> (Composed, Option<PastTouch>) {
        let step = &seq.steps[index];
        let draft = Draft {
            sequence: seq,
            index,
            lead: self.lead,
            mailbox,
            past,
            stored_subject: None,
            message_id,
            date: self.date,
            variant,
        };
        let composed = compose(self.catalog, self.config, Some(self.key), &draft);
        let sent = composed
            .as_ref()
            .ok()
            .map(|c| c.as_sent(&step.id, message_id, mailbox, self.date));
        let chosen = composed.as_ref().ok().map(|c| c.rendered.variant.clone());
        (
            Composed {
                sequence: seq.id.clone(),
                step: step.id.clone(),
                variant: chosen,
                message: composed.map(|c| c.message.formatted()),
            },
            sent,
        )
    }
}

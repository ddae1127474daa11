//! `drumbeat preview SEQ --lead EMAIL`: each step's email for one lead exactly as the daemon
//! will send it (same mailbox choice, same render, same message builder), and when.

use std::path::Path;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use super::leads::unknown_sequence as unknown_sequence_failure;
use super::output::{local_and_utc, print_json};
use super::{Failure, Outcome, load_catalog, load_config, now, open_store, parse_email};
use crate::catalog::{Catalog, StepKind};
use crate::config::{Config, Mailbox, parse_tz};
use crate::domain::PastTouch;
use crate::lead::LeadRecord;
use crate::render::RenderInput;
use crate::send::compose::{Draft, compose, seeded_message_id};
use crate::send::links::Links;
use crate::send::tokens::TokenKey;
use crate::send::{Deal, choose_mailbox};
use crate::sequence::{Sequence, Step};
use crate::store::{EnrollmentRow, TouchRow};

/// Flags of `preview`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The sequence id.
    sequence: String,
    /// The lead's email address (an imported lead).
    #[arg(long, value_name = "EMAIL")]
    lead: String,
    /// Only this step.
    #[arg(long, value_name = "ID")]
    step: Option<String>,
    /// Print each email as the exact RFC 5322 message (headers and MIME body, CRLF line ends)
    /// on stdout, and the step headings on stderr.
    #[arg(long, conflicts_with = "json")]
    raw: bool,
    /// Print as JSON.
    #[arg(long)]
    json: bool,
}

/// One step in `preview --json`.
#[derive(Serialize, Default)]
struct StepPreview {
    id: String,
    kind: &'static str,
    wait: String,
    /// `planned`, or the touch's state when the step already ran.
    state: String,
    due_at: Option<String>,
    due_local: Option<String>,
    from: Option<String>,
    to: Option<String>,
    subject: Option<String>,
    message_id: Option<String>,
    in_reply_to: Option<String>,
    references: Option<String>,
    variant: Option<String>,
    template: Option<String>,
    no_ask: bool,
    text: Option<String>,
    html: Option<String>,
    task: Option<&'static str>,
    note: Option<String>,
    /// The step's condition as written (`when: …` / `unless: …`).
    condition: Option<String>,
    /// What it evaluated to for this lead: `holds`, `does not hold`, or `decided at send
    /// time` (opens and clicks are not known before).
    condition_result: Option<String>,
    /// Where the lead goes after the step, when not simply on (`goto X`, `end`, by outcome).
    branch: Option<String>,
    error: Option<String>,
    #[serde(skip)]
    raw: Option<String>,
}

#[derive(Serialize)]
struct Preview {
    sequence: String,
    lead: String,
    mailbox: Option<String>,
    timezone: String,
    enrolled: bool,
    steps: Vec<StepPreview>,
}

pub async fn run(config_path: &Path, args: Args) -> Outcome {
    let email = parse_email(&args.lead)?;
    let config = load_config(config_path)?;
    let catalog = load_catalog(&config)?;
    let seq = sequence_with_step(&catalog, &args.sequence, args.step.as_deref())?;
    let store = open_store(&config).await?;
    // The links the daemon would put in: the same key, this preview's Message-IDs.
    let tokens = crate::send::tokens::key_from(&config, &store, now().timestamp())
        .await
        .map_err(Failure::failed)?;
    let Some(lead) = store.lead_by_email(&email).await? else {
        return Err(Failure::failed(format!(
            "no lead {email}; import it first (drumbeat leads import FILE.csv)"
        )));
    };
    let enrollment = store
        .enrollments_for_lead(lead.id)
        .await?
        .into_iter()
        .find(|e| e.sequence_id == seq.id);
    let touches = store.touches_for_lead(lead.id).await?;
    let deal = enrollment.as_ref().map(|e| Deal::Enrollment(e.id.0));
    let mailbox = choose_mailbox(
        &config,
        seq,
        deal.unwrap_or(Deal::Address(email.as_str())),
        lead.record.owner.as_deref(),
        enrollment.as_ref().and_then(|e| e.mailbox.as_deref()),
    );
    let tz = seq.window.zone_for(
        lead.record
            .timezone
            .as_deref()
            .and_then(|t| parse_tz(t).ok()),
        config.timezone,
    );
    // What the composer threads on: the enrollment's touches, then each step this preview
    // plans, as if it had been sent at its due time.
    let past: Vec<PastTouch> = match &enrollment {
        Some(e) => store
            .past_touches(&[e.id])
            .await?
            .remove(&e.id)
            .unwrap_or_default(),
        None => Vec::new(),
    };
    let planner = Planner {
        config: &config,
        catalog: &catalog,
        seq,
        lead: &lead.record,
        mailbox,
        tokens: &tokens,
        tz,
        enrollment: enrollment.as_ref(),
    };
    let mut steps = planner.steps(&touches, past);
    let failed = steps.iter().any(|s| s.error.is_some());
    if let Some(only) = &args.step {
        steps.retain(|s| &s.id == only);
    }
    let preview = Preview {
        sequence: seq.id.clone(),
        lead: email.to_string(),
        mailbox: mailbox.map(|m| m.name.clone()),
        timezone: tz.name().to_string(),
        enrolled: enrollment.is_some(),
        steps,
    };
    if args.json {
        print_json(&preview)?;
    } else {
        print_human(&preview, args.raw);
    }
    if failed {
        Err(Failure::silent())
    } else {
        Ok(())
    }
}

/// The sequence `id`, which has the step `step` when one is asked for.
fn sequence_with_step<'c>(
    catalog: &'c Catalog,
    id: &str,
    step: Option<&str>,
) -> Result<&'c Sequence, Failure> {
    let seq = catalog
        .sequence(id)
        .ok_or_else(|| unknown_sequence_failure(id, catalog))?;
    if let Some(step) = step
        && seq.step(step).is_none()
    {
        let ids: Vec<&str> = seq.steps.iter().map(|s| s.id.as_str()).collect();
        return Err(Failure::usage(format!(
            "sequence {} has no step {step:?} (steps: {})",
            seq.id,
            ids.join(", ")
        )));
    }
    Ok(seq)
}

/// Everything one lead's plan through one sequence is made from.
struct Planner<'a> {
    config: &'a Config,
    catalog: &'a Catalog,
    seq: &'a Sequence,
    lead: &'a LeadRecord,
    /// The mailbox the daemon would send from; `None` when none can.
    mailbox: Option<&'a Mailbox>,
    tokens: &'a TokenKey,
    tz: Tz,
    /// The lead's enrollment in the sequence, if any.
    enrollment: Option<&'a EnrollmentRow>,
}

impl Planner<'_> {
    /// Every step of the sequence: what already ran as it ran, the rest as planned. A step that
    /// cannot go out carries its `error`.
    fn steps(&self, touches: &[TouchRow], mut past: Vec<PastTouch>) -> Vec<StepPreview> {
        let seq = self.seq;
        // Where the plan starts: at the enrollment's next step, or at step 1 now.
        let now = now();
        let (start, mut at) = match self.enrollment {
            Some(e) => match (&e.next_step_id, e.next_due_at) {
                (Some(step), Some(due)) => (
                    seq.step_index(step).unwrap_or(seq.steps.len()),
                    DateTime::<Utc>::from_timestamp(due, 0).unwrap_or(now),
                ),
                _ => (seq.steps.len(), now),
            },
            None => (0, now),
        };
        let mut steps = Vec::new();
        // Where the planned path goes on from (a goto jumps), and whether a branch ended it.
        let (mut path_from, mut ended) = (start, false);
        for (i, step) in seq.steps.iter().enumerate() {
            let mut p = self.outline(step);
            let done = touches
                .iter()
                .find(|t| t.sequence_id == seq.id && t.step_id == step.id);
            if let Some(t) = done {
                p.state = t.state.clone();
                p.subject = t.subject.clone();
                p.message_id = t.message_id.clone();
            } else if i < start {
                p.state = "skipped".into();
            } else if ended || i < path_from {
                p.state = "not on this lead's path".into();
            } else {
                let due = if i == start && self.enrollment.is_some() {
                    Some(at)
                } else {
                    self.due_after(at, step)
                };
                if let Some(d) = due {
                    at = d;
                    p.due_at = Some(d.to_rfc3339());
                    p.due_local = Some(local_and_utc(d, self.tz));
                } else {
                    p.error = Some("the send window never opens".into());
                }
                if !self.judge(&mut p, step) {
                    steps.push(p);
                    continue;
                }
                match self.mailbox {
                    Some(sender) => self.fill(&mut p, i, sender, at, &mut past),
                    None => p.error = Some("no mailbox can send this sequence (check [[mailbox]] in config.toml and the sequence's mailboxes)".into()),
                }
                match crate::plan::start_after(seq, i, None) {
                    Some(j) => path_from = j,
                    None => ended = true,
                }
            }
            steps.push(p);
        }
        steps
    }

    /// A step's preview before it is planned: id, kind, wait, condition and branches.
    fn outline(&self, step: &Step) -> StepPreview {
        let f = &step.flow;
        let mut branch: Vec<String> = Vec::new();
        if f.then != crate::sequence::Then::Next {
            branch.push(f.then.to_string());
        }
        for (outcome, then) in &f.on_outcome {
            branch.push(format!("on {outcome}: {then}"));
        }
        StepPreview {
            id: step.id.clone(),
            kind: if matches!(step.kind, StepKind::Email(_)) {
                "email"
            } else {
                "task"
            },
            wait: step.wait.to_string(),
            state: "planned".into(),
            condition: f.guard.as_ref().map(|g| g.shown()),
            branch: (!branch.is_empty()).then(|| branch.join("; ")),
            ..Default::default()
        }
    }

    /// The step's condition for this lead: false when it does not hold (the step is skipped
    /// and the path goes on from the next one).
    fn judge(&self, p: &mut StepPreview, step: &Step) -> bool {
        if step.flow.guard.is_none() {
            return true;
        }
        let facts = crate::sequence::condition::Facts {
            lead: self.lead,
            engagement: None,
        };
        let (result, runs) = match step.flow.applies(facts) {
            crate::sequence::Applies::Yes => ("holds", true),
            crate::sequence::Applies::AtSendTime => ("decided at send time", true),
            crate::sequence::Applies::Skip(_) => ("does not hold: the step is skipped", false),
        };
        p.condition_result = Some(result.into());
        if !runs {
            p.state = "skipped".into();
        }
        runs
    }

    /// When `step` is due after the one before it, due at `at`: in the lead's window, and a
    /// task then in the rep's working hours too (as the daemon decides it).
    fn due_after(&self, at: DateTime<Utc>, step: &Step) -> Option<DateTime<Utc>> {
        let country = crate::schedule::Country::of_lead(
            self.lead.custom.get("country").map(String::as_str),
            self.tz,
        );
        let seed = crate::plan::jitter_seed(self.lead.email.as_str(), &self.seq.id, &step.id);
        let jitter = self.config.sending.jitter;
        let due = crate::plan::due_after(
            &self.seq.window.for_lead(country),
            self.tz,
            at,
            step.wait,
            seed,
            jitter,
        )?;
        match (&step.kind, self.mailbox) {
            (StepKind::Task(_), Some(m)) => {
                let (hours, zone) = crate::context::rep_window(m);
                crate::plan::spread(&hours, zone, due, seed, jitter)
            }
            _ => Some(due),
        }
    }

    /// The step's email, as composed for sending at `at`, or its task's note.
    fn fill(
        &self,
        p: &mut StepPreview,
        index: usize,
        sender: &Mailbox,
        at: DateTime<Utc>,
        past: &mut Vec<PastTouch>,
    ) {
        let step = &self.seq.steps[index];
        let message_id = seeded_message_id(
            sender,
            self.enrollment.map_or(0, |e| e.id.0),
            &self.seq.id,
            &step.id,
        );
        match &step.kind {
            StepKind::Email(e) => {
                p.no_ask = e.no_ask;
                self.email(p, index, sender, at, message_id, past);
            }
            StepKind::Task(t) => {
                p.task = Some(t.kind.as_str());
                let unsubscribe_url =
                    Links::new(self.tokens, &self.config.http.base_url, &message_id).unsubscribe();
                let input = RenderInput {
                    lead: self.lead,
                    sender,
                    unsubscribe_url: &unsubscribe_url,
                };
                match self.catalog.renderer.render_note(&input, self.seq, index) {
                    Ok(n) => p.note = Some(n),
                    Err(err) => p.error = Some(err.to_string()),
                }
            }
        }
    }

    /// The email step through the one composer; once composed, it joins `past` as sent at
    /// `at`, so the steps after it thread on it.
    fn email(
        &self,
        p: &mut StepPreview,
        index: usize,
        sender: &Mailbox,
        at: DateTime<Utc>,
        message_id: String,
        past: &mut Vec<PastTouch>,
    ) {
        let step = &self.seq.steps[index];
        let draft = Draft {
            sequence: self.seq,
            index,
            lead: self.lead,
            mailbox: sender,
            past,
            stored_subject: None,
            message_id: &message_id,
            date: at,
            variant: None,
        };
        let c = match compose(self.catalog, self.config, Some(self.tokens), &draft) {
            Ok(c) => c,
            Err(err) => {
                p.error = Some(err);
                return;
            }
        };
        let headers = c.message.headers();
        let header = |name: &str| headers.get_raw(name).map(str::to_string);
        p.in_reply_to = header("In-Reply-To");
        p.references = header("References");
        p.raw = Some(String::from_utf8_lossy(&c.message.formatted()).into_owned());
        p.from = Some(match &sender.display_name {
            Some(n) => format!("{n} <{}>", sender.from),
            None => sender.from.to_string(),
        });
        p.to = Some(self.lead.email.to_string());
        past.push(c.as_sent(&step.id, &message_id, sender, at));
        p.message_id = Some(message_id);
        p.subject = Some(c.rendered.subject);
        p.variant = Some(c.rendered.variant);
        p.template = Some(c.rendered.template);
        p.text = Some(c.rendered.text);
        p.html = c.rendered.html;
    }
}

/// The lines above a step's content: its heading, state, time, error, condition and branch.
fn step_head(s: &StepPreview) -> Vec<String> {
    let mut lines = vec![format!(
        "\n=== step {} ({}, wait {}) ===",
        s.id, s.kind, s.wait
    )];
    if s.state != "planned" {
        lines.push(format!("state:       {}", s.state));
    }
    if let Some(d) = &s.due_local {
        lines.push(format!("goes out:    {d}"));
    }
    if let Some(e) = &s.error {
        lines.push(format!("ERROR:       {e}"));
    }
    if let Some(c) = &s.condition {
        lines.push(format!(
            "condition:   {c} ({})",
            s.condition_result
                .as_deref()
                .unwrap_or("not asked: the step is not planned")
        ));
    }
    if let Some(b) = &s.branch {
        lines.push(format!("then:        {b}"));
    }
    lines
}

fn print_human(p: &Preview, raw: bool) {
    // With --raw, stdout carries the messages and nothing else, so `--step ID --raw > x.eml`
    // writes a real message file; the lines around them go to stderr.
    let say = |line: String| {
        if raw {
            eprintln!("{}", super::output::printable(&line));
        } else {
            say!("{line}");
        }
    };
    say(format!(
        "{} for {} (time zone {}, mailbox {}{})",
        p.sequence,
        p.lead,
        p.timezone,
        p.mailbox.as_deref().unwrap_or("none"),
        if p.enrolled { "" } else { ", if enrolled now" }
    ));
    for s in &p.steps {
        for line in step_head(s) {
            say(line);
        }
        if s.state == "skipped" || s.state == "not on this lead's path" {
            continue;
        }
        if let Some(t) = s.task {
            say(format!("task:        {t}"));
            if let Some(n) = &s.note {
                say(format!("note:\n{n}"));
            }
            continue;
        }
        if raw {
            if let Some(r) = &s.raw {
                print!("{r}");
            }
            continue;
        }
        for (k, v) in [
            ("From", &s.from),
            ("To", &s.to),
            ("Subject", &s.subject),
            ("Message-ID", &s.message_id),
            ("In-Reply-To", &s.in_reply_to),
            ("References", &s.references),
        ] {
            if let Some(v) = v {
                say!("{:<12} {v}", format!("{k}:"));
            }
        }
        if let (Some(v), Some(t)) = (&s.variant, &s.template) {
            say!(
                "{:<12} {t} (variant {v}){}",
                "Template:",
                if s.no_ask { ", no-ask" } else { "" }
            );
        }
        if let Some(t) = &s.text {
            say!("\n{t}");
        }
        if let Some(h) = &s.html {
            say!("--- HTML ---\n{h}");
        }
    }
}

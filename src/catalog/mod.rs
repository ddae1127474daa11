//! The catalog: every sequence and template of the rep's repo, loaded, checked against each
//! other and compiled. `drumbeat validate` prints what [`Catalog::load`] finds; the daemon
//! refuses to start on errors and keeps its old catalog when a reload (SIGHUP) has errors.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::config::{Config, Mailbox, Transport};
use crate::diag::{Diagnostic, did_you_mean};
use crate::lead::{Email, LeadRecord};
use crate::render::{
    RenderErrorKind, RenderInput, Renderer, SET_LEAD_FIELDS, STANDARD_LEAD_FIELDS,
};

pub use crate::sequence::{self, no_ask, template};
pub use crate::sequence::{
    EmailStep, OnAutoReply, OnReply, Sequence, Step, StepKind, StopRules, TaskKind, TaskStep,
    Variant,
};
pub use crate::sequence::{Subject, TemplateSource};

/// Loaded sequences and compiled templates.
pub struct Catalog {
    /// Sequences by id.
    pub sequences: BTreeMap<String, Sequence>,
    /// Template sources by name.
    pub templates: BTreeMap<String, TemplateSource>,
    /// The compiled templates.
    pub renderer: Renderer,
}

/// The templates each sequence file names, with positions, by file.
type TemplateRefs = Vec<(String, Vec<sequence::TemplateRef>)>;

/// Reads and parses every sequence file: the usable sequences by id (an id used twice is a
/// problem), and the templates each file names.
fn load_sequences(
    config: &Config,
    problems: &mut Vec<Diagnostic>,
) -> (BTreeMap<String, Sequence>, TemplateRefs) {
    let mut sequences: BTreeMap<String, Sequence> = BTreeMap::new();
    let mut all_refs = Vec::new();
    for path in sequence_files(&config.sequences_dir, problems) {
        let file = show_path(&path);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                problems.push(Diagnostic::error(
                    &file,
                    None,
                    None,
                    format!("cannot read: {e}"),
                ));
                continue;
            }
        };
        let (seq, refs, diags) = sequence::parse(&text, &file, config);
        problems.extend(diags);
        all_refs.push((file.clone(), refs));
        let Some(seq) = seq else { continue };
        if let Some(other) = sequences.get(&seq.id) {
            problems.push(Diagnostic::error(
                &file,
                Some(1),
                None,
                format!("sequence id {:?} is already used by {}", seq.id, other.file),
            ));
        } else {
            sequences.insert(seq.id.clone(), seq);
        }
    }
    (sequences, all_refs)
}

/// Every template a sequence names must exist (a template whose file exists but failed to
/// parse was reported already).
fn check_template_refs(
    config: &Config,
    all_refs: &TemplateRefs,
    templates: &BTreeMap<String, TemplateSource>,
    problems: &mut Vec<Diagnostic>,
) {
    for (file, refs) in all_refs {
        for r in refs {
            let name = sequence::normalize_template_name(&r.name);
            let exists = config.templates_dir.join(format!("{name}.txt")).is_file();
            if templates.contains_key(&name) || exists {
                continue;
            }
            let mut d = Diagnostic::error(
                file,
                Some(r.line),
                Some(r.column),
                format!(
                    "unknown template {:?} (no {}/{name}.txt)",
                    r.name,
                    show_path(&config.templates_dir)
                ),
            );
            if let Some(s) = did_you_mean(&name, templates.keys().map(String::as_str)) {
                d = d.with_hint(format!("did you mean {s:?}?"));
            }
            problems.push(d);
        }
    }
}

/// Each email step's templates: a subject where the step starts a thread (and a warning for
/// one that is ignored), and no ask in a no-ask follow-up.
fn check_step_templates(
    sequences: &BTreeMap<String, Sequence>,
    templates: &BTreeMap<String, TemplateSource>,
    problems: &mut Vec<Diagnostic>,
) {
    for seq in sequences.values() {
        for step in &seq.steps {
            let Some(email) = step.email() else { continue };
            for v in &email.variants {
                let Some(t) = templates.get(&v.template) else {
                    continue;
                };
                match (&t.subject, email.thread) {
                    (None, false) => problems.push(
                        Diagnostic::error(&t.file, Some(1), Some(1), format!("template {:?} has no subject, and step {:?} of {} starts a new thread", t.name, step.id, seq.file))
                            .with_hint("add front matter:\n  ---\n  subject: Your subject\n  ---"),
                    ),
                    (Some(subject), true) => problems.push(Diagnostic::warning(
                        &t.file,
                        Some(subject.line),
                        None,
                        format!("subject is ignored: step {:?} of {} replies in the thread (\"Re: …\")", step.id, seq.file),
                    )),
                    _ => {}
                }
                if email.no_ask {
                    for ask in no_ask::find_asks(&t.body) {
                        problems.push(Diagnostic::warning(
                            &t.file,
                            Some(t.body_line + ask.line - 1),
                            None,
                            format!("step {:?} of {} is no_ask, but this line {}", step.id, seq.file, ask.reason),
                        ).with_hint("a no-ask follow-up gives value (an insight, a resource) and asks for nothing"));
                    }
                }
            }
        }
    }
}

/// A path as the user would type it: relative to the working directory when under it.
pub fn show_path(path: &Path) -> String {
    let cwd = std::env::current_dir().unwrap_or_default();
    let p = path.strip_prefix(&cwd).unwrap_or(path);
    let s = p.display().to_string();
    s.strip_prefix("./").map(str::to_string).unwrap_or(s)
}

impl Catalog {
    /// Loads every sequence and template the config points at. Always returns a catalog (with
    /// what was usable) and every problem found; callers refuse to send when any is an error.
    pub fn load(config: &Config) -> (Catalog, Vec<Diagnostic>) {
        let show = |p: &Path| show_path(p);
        let (templates, mut problems) = template::load_dir(&config.templates_dir, &show);
        let (sequences, all_refs) = load_sequences(config, &mut problems);
        if sequences.is_empty() && !problems.iter().any(Diagnostic::is_error) {
            problems.push(Diagnostic::warning(
                show_path(&config.sequences_dir),
                None,
                None,
                "no sequences found (*.yaml)",
            ));
        }

        let seq_list: Vec<&Sequence> = sequences.values().collect();
        let (renderer, compile_problems) = Renderer::compile(&templates, &seq_list);
        problems.extend(compile_problems);
        let templates: BTreeMap<String, TemplateSource> =
            templates.into_iter().map(|t| (t.name.clone(), t)).collect();
        check_template_refs(config, &all_refs, &templates, &mut problems);
        check_step_templates(&sequences, &templates, &mut problems);

        let catalog = Catalog {
            sequences,
            templates,
            renderer,
        };
        if !problems.iter().any(Diagnostic::is_error) {
            problems.extend(catalog.check_with_sample_lead(config));
        }
        problems.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
        problems.dedup();
        (catalog, problems)
    }

    /// The sequence with this id.
    pub fn sequence(&self, id: &str) -> Option<&Sequence> {
        self.sequences.get(id)
    }

    /// Whether any sequence has an email step with `review:` (drafts the rep approves).
    pub fn has_review(&self) -> bool {
        self.sequences
            .values()
            .flat_map(|s| &s.steps)
            .any(|s| s.email().is_some_and(|e| e.review.is_some()))
    }

    /// Every sequence.
    pub fn sequences(&self) -> impl Iterator<Item = &Sequence> {
        self.sequences.values()
    }

    /// Renders every step of every sequence for a made-up lead that has every standard field,
    /// to catch misspelled variables (`lead.frist_name`, `sender.nmae`) before any real lead
    /// meets them. Custom columns (`lead.pain_point`) cannot be known without leads; they are
    /// checked by `validate --leads`. A `lead.*` name one typo away from a standard field is
    /// taken for that typo, not for a custom column.
    fn check_with_sample_lead(&self, config: &Config) -> Vec<Diagnostic> {
        let mut problems = Vec::new();
        let sender = config
            .mailboxes
            .first()
            .cloned()
            .unwrap_or_else(sample_mailbox);
        let mut lead = sample_lead();
        for seq in self.sequences.values() {
            for (i, step) in seq.steps.iter().enumerate() {
                // Custom columns get a placeholder, one at a time, until the step renders.
                for _ in 0..64 {
                    let input = RenderInput {
                        lead: &lead,
                        sender: &sender,
                        unsubscribe_url: crate::render::SAMPLE_UNSUBSCRIBE_URL,
                    };
                    // Every variant of an email step, whichever the sample lead would get.
                    let result = match &step.kind {
                        StepKind::Email(e) => (0..e.variants.len()).try_for_each(|v| {
                            self.renderer.render_variant(&input, seq, i, v).map(|_| ())
                        }),
                        StepKind::Task(_) => self.renderer.render_note(&input, seq, i).map(|_| ()),
                    };
                    match result {
                        Ok(()) => break,
                        Err(e) => {
                            if let RenderErrorKind::Missing { variable } = &e.kind
                                && let Some(field) = variable.strip_prefix("lead.")
                                && !field.contains('.')
                                && !STANDARD_LEAD_FIELDS.contains(&field)
                                && misspelled_lead_field(field).is_none()
                                && !lead.custom.contains_key(field)
                            {
                                lead.custom.insert(field.to_string(), format!("<{field}>"));
                                continue;
                            }
                            let mut d = e.to_diagnostic();
                            if let RenderErrorKind::Missing { variable } = &e.kind {
                                d.message =
                                    format!("{variable} is not a variable templates can use");
                                d = d.with_hint(variable_hint(variable));
                            }
                            problems.push(d);
                            break;
                        }
                    }
                }
            }
        }
        problems
    }
}

/// The standard lead field `field` is most likely a typo of (`frist_name` → `first_name`):
/// at least 80% alike, the measure lead time zones use. Custom column names are rarely that
/// close to a standard one (`company_size` is not).
fn misspelled_lead_field(field: &str) -> Option<&'static str> {
    STANDARD_LEAD_FIELDS
        .iter()
        .chain(SET_LEAD_FIELDS)
        .filter(|f| **f != field)
        .map(|f| (strsim::normalized_damerau_levenshtein(field, f), *f))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, f)| f)
}

fn variable_hint(variable: &str) -> String {
    if let Some(field) = variable
        .strip_prefix("lead.")
        .and_then(misspelled_lead_field)
    {
        return format!("did you mean lead.{field}?");
    }
    let root = variable.split('.').next().unwrap_or_default();
    match root {
        "lead" => format!(
            "lead fields: {}, {} (set by drumbeat on some leads), or any CSV column",
            STANDARD_LEAD_FIELDS.join(", "),
            SET_LEAD_FIELDS.join(", ")
        ),
        "sender" => "sender fields: name, first_name, email, signature, mailbox".into(),
        "account" => "account fields: domain, name".into(),
        "sequence" => "sequence fields: id, name".into(),
        "step" => "step fields: id, number".into(),
        _ => "variables: lead.*, account.*, sender.*, sequence.*, step.*".into(),
    }
}

fn sequence_files(dir: &Path, problems: &mut Vec<Diagnostic>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = match std::fs::read_dir(&d) {
            Ok(e) => e,
            Err(e) => {
                problems.push(Diagnostic::error(
                    show_path(&d),
                    None,
                    None,
                    format!("cannot read the sequences folder: {e}"),
                ));
                continue;
            }
        };
        for entry in entries.flatten() {
            let p = entry.path();
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if name.starts_with('.') {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else if name.ends_with(".yaml") || name.ends_with(".yml") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// A lead with every standard field, for checking templates.
pub fn sample_lead() -> LeadRecord {
    LeadRecord {
        email: Email::parse("jane.doe@example.com").expect("a valid sample address"),
        first_name: Some("Jane".into()),
        last_name: Some("Doe".into()),
        company: Some("Example Corp".into()),
        title: Some("Head of Operations".into()),
        timezone: Some("Europe/Berlin".into()),
        phone: Some("+49 30 1234567".into()),
        owner: Some("ana".into()),
        custom: BTreeMap::new(),
    }
}

fn sample_mailbox() -> Mailbox {
    Mailbox {
        name: "sample".into(),
        from: Email::parse("rep@example.com").expect("a valid sample address"),
        display_name: Some("Sample Rep".into()),
        signature: Some("Sample Rep".into()),
        daily_cap: 1,
        transport: Transport::Outbox {
            dir: PathBuf::from("data/outbox"),
        },
        imap: None,
        pacing: crate::config::Pacing::default(),
        dkim: None,
        provider: None,
        notify: None,
        timezone: chrono_tz::UTC,
        working_hours: Default::default(),
        bcc: None,
        oauth: None,
    }
}

/// Template names used by sequences, for listing.
pub fn used_templates(catalog: &Catalog) -> BTreeSet<String> {
    catalog
        .sequences
        .values()
        .flat_map(|s| s.steps.iter())
        .filter_map(Step::email)
        .flat_map(|e| e.variants.iter().map(|v| v.template.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lead_field_typos_are_told_from_custom_columns() {
        assert_eq!(misspelled_lead_field("frist_name"), Some("first_name"));
        assert_eq!(misspelled_lead_field("compnay"), Some("company"));
        assert_eq!(misspelled_lead_field("company_size"), None);
        assert_eq!(misspelled_lead_field("pain_point"), None);
        assert_eq!(misspelled_lead_field("interest"), None);
        // A field drumbeat sets (on referred leads) is known too, and not a typo of itself.
        assert_eq!(misspelled_lead_field("refered_by"), Some("referred_by"));
        assert_eq!(misspelled_lead_field("referred_by"), None);
    }
}

//! Render benchmark: every email step of the shipped sequences (`sequences/`, `templates/`,
//! `config.toml` at the repo root) for a set of generated leads, on one thread.
//!
//! Target (from the issue): ≥ 100,000 emails per second on one core.
//!
//! A threaded step ("Re: …") gets the subject of its thread's first email, as the daemon passes
//! the subject it stored when the thread went out. Run with `cargo bench --bench render`;
//! DRUMBEAT_BENCH_EMAILS (default 300,000) sets the emails per run, DRUMBEAT_BENCH_RUNS
//! (default 5) the runs, and the best and median rate are printed at the end.

mod common;

use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

use drumbeat::catalog::{Catalog, Sequence, StepKind};
use drumbeat::config::Config;
use drumbeat::lead::{Email, LeadRecord};
use drumbeat::render::RenderInput;

use common::{best_and_median, env_usize, thousands};

/// Distinct leads rendered in turn.
const LEADS: usize = 1_000;

fn main() {
    let emails_per_run = env_usize("DRUMBEAT_BENCH_EMAILS", 300_000);
    let runs = env_usize("DRUMBEAT_BENCH_RUNS", 5).max(1);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = Config::load(&root.join("config.toml")).expect("config.toml loads");
    let (catalog, problems) = Catalog::load(&config);
    assert!(
        !problems.iter().any(|p| p.is_error()),
        "the shipped catalog has errors: {problems:?}"
    );
    let sender = config.mailboxes.first().expect("config.toml has a mailbox");
    let leads: Vec<LeadRecord> = (0..LEADS).map(lead).collect();
    let sequences: Vec<&Sequence> = catalog.sequences.values().collect();
    let steps: usize = sequences
        .iter()
        .map(|s| s.steps.iter().filter(|s| s.email().is_some()).count())
        .sum();
    println!(
        "render: {} sequences, {steps} email steps, {LEADS} leads, {emails_per_run} emails per run, one thread",
        sequences.len()
    );

    let mut rates = Vec::with_capacity(runs);
    for run in 1..=runs {
        let started = Instant::now();
        let mut emails = 0usize;
        let mut bytes = 0usize;
        'run: for lead in leads.iter().cycle() {
            let input = RenderInput {
                lead,
                sender,
                unsubscribe_url: drumbeat::render::SAMPLE_UNSUBSCRIBE_URL,
            };
            for seq in &sequences {
                let mut thread_subject: Option<String> = None;
                for (i, step) in seq.steps.iter().enumerate() {
                    let StepKind::Email(email) = &step.kind else {
                        continue;
                    };
                    let given = if email.thread {
                        thread_subject.as_deref()
                    } else {
                        None
                    };
                    let out = catalog
                        .renderer
                        .render_email(&input, seq, i, given)
                        .expect("every shipped email renders for a generated lead");
                    bytes += out.text.len() + out.subject.len();
                    if !email.thread {
                        thread_subject = Some(out.subject.clone());
                    }
                    black_box(out);
                    emails += 1;
                    if emails >= emails_per_run {
                        break 'run;
                    }
                }
            }
        }
        let secs = started.elapsed().as_secs_f64();
        let rate = emails as f64 / secs;
        println!(
            "render run {run}/{runs}: {emails} emails in {secs:.2} s ({} emails/s, {:.0} MiB of text/s)",
            thousands(rate as u64),
            bytes as f64 / secs / (1024.0 * 1024.0)
        );
        rates.push(rate);
    }
    let (best, median) = best_and_median(&rates, true);
    println!(
        "render: best {} emails/s, median {} emails/s over {runs} run(s) (target ≥ 100,000)",
        thousands(best as u64),
        thousands(median as u64)
    );
}

/// Lead `i`: every lead has a company (the intro needs it); some lack a first name or a title
/// (the templates' fallbacks), and each has a few custom columns.
fn lead(i: usize) -> LeadRecord {
    const FIRST: &[&str] = &["Jane", "Ben", "Chloé", "Emeka", "Hiro", "Priya", "Sven"];
    const TITLES: &[&str] = &["Head of Sales", "VP Sales", "Founder", "RevOps Lead"];
    let mut custom = BTreeMap::new();
    custom.insert("industry".to_string(), "SaaS".to_string());
    custom.insert("interest".to_string(), "pricing for 20 seats".to_string());
    if i.is_multiple_of(2) {
        custom.insert("pain_point".to_string(), "slow follow-up".to_string());
    }
    LeadRecord {
        email: Email::parse(&format!("lead{i}@company{i}.com")).expect("a valid address"),
        first_name: (!i.is_multiple_of(10)).then(|| FIRST[i % FIRST.len()].to_string()),
        last_name: Some("Doe".into()),
        company: Some(format!("Company {i}")),
        title: (!i.is_multiple_of(3)).then(|| TITLES[i % TITLES.len()].to_string()),
        timezone: Some("Europe/Berlin".into()),
        phone: (i.is_multiple_of(4)).then(|| "+49 30 1234567".to_string()),
        owner: Some("ana".into()),
        custom,
    }
}

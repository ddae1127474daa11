//! The scheduler in-process: [`Scheduler`] loads the shipped project (config, catalog, store)
//! the way `drumbeat run` does and drives one `Daemon::tick` at an instant the test chooses,
//! so a test states a time and reads the [`TickReport`] and the outbox, with no sleeps and no
//! process in between.

use chrono::{DateTime, Utc};
use drumbeat::catalog::Catalog;
use drumbeat::config::Config;
use drumbeat::daemon::{Clock, Daemon, TickReport};
use drumbeat::domain::InboundKind;
use drumbeat::policy::StopRules;
use drumbeat::store::{InboundFact, Store};

use crate::support::Project;

/// The shipped project with the sample leads enrolled at `enrolled_at`, and a daemon over it.
pub(crate) struct Scheduler {
    /// The project's files.
    pub project: Project,
    /// The daemon (its clock is fixed; each tick says its own instant).
    pub daemon: Daemon,
    rt: tokio::runtime::Runtime,
}

impl Scheduler {
    /// The shipped project, the sample leads imported into `sequence` at `enrolled_at`.
    pub fn shipped(sequence: &str, enrolled_at: &str) -> Scheduler {
        let project = Project::shipped();
        project.set_clock(enrolled_at);
        project.import_sample(&["--sequence", sequence]);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        let config = Config::load(&project.file("config.toml")).expect("the shipped config loads");
        let (catalog, problems) = Catalog::load(&config);
        assert!(
            problems.iter().all(|p| !p.is_error()),
            "the shipped catalog has errors: {problems:?}"
        );
        let store = rt
            .block_on(Store::open(&config.store_url))
            .expect("the store opens");
        let clock = Clock::Fixed(instant(enrolled_at));
        let daemon =
            Daemon::new(config, catalog, store, "tick-test".into(), clock).expect("a daemon");
        Scheduler {
            project,
            daemon,
            rt,
        }
    }

    /// One scheduler step at `at` (RFC 3339).
    pub fn tick(&self, at: &str) -> TickReport {
        self.rt
            .block_on(self.daemon.tick(instant(at)))
            .expect("the tick runs")
    }

    /// Ticks at `from`, then at each next due instant up to `until` (bounded), as the
    /// long-running loop does; returns every tick's report.
    pub fn run_until(&self, from: &str, until: &str) -> Vec<TickReport> {
        let until = instant(until).timestamp();
        let mut at = instant(from).timestamp();
        let mut reports = Vec::new();
        for _ in 0..100 {
            let t = DateTime::from_timestamp(at, 0).expect("an instant");
            reports.push(
                self.rt
                    .block_on(self.daemon.tick(t))
                    .expect("the tick runs"),
            );
            match self
                .block_on(self.store().next_due_at(at))
                .expect("the next due time")
            {
                Some(next) if next <= until => at = next.max(at + 1),
                _ => return reports,
            }
        }
        panic!("more than 100 ticks before {until}: {reports:?}");
    }

    /// The store.
    pub fn store(&self) -> &Store {
        self.daemon.store()
    }

    /// Runs a store call to its end.
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// How many messages the outbox holds.
    pub fn outbox(&self) -> usize {
        std::fs::read_dir(self.project.file("data/outbox")).map_or(0, |d| d.count())
    }
}

fn instant(at: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(at)
        .expect("an RFC 3339 instant")
        .with_timezone(&Utc)
}

/// Enrolled on a Friday evening, New York time.
const FRIDAY_EVENING: &str = "2027-03-05T23:30:00Z";
/// The Sunday after: every lead's window (Mon–Fri, in the lead's zone) is closed.
const SUNDAY: &str = "2027-03-07T12:00:00Z";
/// The Monday after, from its first hour (Singapore's window opens at 01:00 UTC)…
const MONDAY: &str = "2027-03-08T00:00:00Z";
/// …to its last (Chicago's closes at 22:30 UTC): every first email is due within it, none of
/// the follow-ups (three business days later).
const MONDAY_NIGHT: &str = "2027-03-08T23:59:00Z";

#[test]
fn a_tick_on_a_weekend_finds_nothing_due_and_sends_nothing() {
    let s = Scheduler::shipped("cold-outbound", FRIDAY_EVENING);
    let r = s.tick(SUNDAY);
    assert_eq!(r.sent, 0, "{r:?}");
    assert_eq!(s.outbox(), 0);
    // Leased only when due: the import set each lead's first step at its window's opening.
    assert_eq!(r.due, 0, "{r:?}");
}

#[test]
fn a_tick_after_the_windows_opened_sends_every_first_email_once() {
    let s = Scheduler::shipped("cold-outbound", FRIDAY_EVENING);
    let reports = s.run_until(MONDAY, MONDAY_NIGHT);
    // Each lead goes in its own window, one tick after another.
    assert!(reports.len() > 1, "{reports:?}");
    let sent: u64 = reports.iter().map(|r| r.sent).sum();
    assert_eq!(sent, 5, "{reports:?}");
    assert_eq!(s.outbox(), 5);
    // The same instant again: nothing is due any more, nothing goes twice.
    let again = s.tick(MONDAY_NIGHT);
    assert_eq!(again, TickReport::default());
    assert_eq!(s.outbox(), 5);
}

#[test]
fn a_reply_recorded_before_the_tick_stops_the_lead_before_its_claim() {
    let s = Scheduler::shipped("cold-outbound", FRIDAY_EVENING);
    let refs: Vec<String> = Vec::new();
    let fact = InboundFact {
        mailbox: "ana",
        folder: "INBOX",
        message_key: "<early-reply@northwind.example>",
        refs: &refs,
        address: Some("maria.garcia@northwind.example"),
        kind: InboundKind::Reply,
        reason: None,
        rule: "test",
        evidence: serde_json::json!({}),
        until: None,
        received_at: instant(SUNDAY).timestamp(),
        intent: None,
        left: false,
        referred: &[],
    };
    let rules = |_: &str| StopRules::DEFAULT;
    let outcome = s
        .block_on(
            s.store()
                .record_inbound(&fact, None, &rules, instant(SUNDAY).timestamp()),
        )
        .expect("recorded");
    assert!(format!("{outcome:?}").contains("stopped 1"), "{outcome:?}");
    let reports = s.run_until(MONDAY, MONDAY_NIGHT);
    let sent: u64 = reports.iter().map(|r| r.sent).sum();
    assert_eq!(sent, 4, "{reports:?}");
    assert_eq!(s.outbox(), 4);
    let outbox = std::fs::read_dir(s.project.file("data/outbox")).expect("the outbox");
    for e in outbox {
        let text = std::fs::read_to_string(e.expect("an entry").path()).expect("a message");
        assert!(
            !text.contains("maria.garcia@"),
            "Maria replied, yet: {text}"
        );
    }
}

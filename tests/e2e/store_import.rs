//! Lead import through the library (`drumbeat::import::import_file`) into a real store:
//! a property test that importing a file twice changes nothing, and the import's dry run.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use drumbeat::catalog::Catalog;
use drumbeat::config::Config;
use drumbeat::import::{ImportOptions, ImportSummary, import_file};
use drumbeat::lead::Email;
use drumbeat::store::Store;
use proptest::prelude::*;

use crate::support::{NOW, StoreCase, email, for_each_store, repo, sqlite_url};

/// A config for a project in `dir` that uses the shipped sequences and templates.
fn config(dir: &Path) -> Config {
    let text = format!(
        "store = \"sqlite://data/drumbeat.db\"\n\
         sequences = {:?}\n\
         templates = {:?}\n\
         timezone = \"America/New_York\"\n\
         [[mailbox]]\n\
         name = \"ana\"\n\
         from = \"ana@example.com\"\n\
         outbox = \"data/outbox\"\n",
        repo().join("sequences").display().to_string(),
        repo().join("templates").display().to_string(),
    );
    Config::parse(&text, "config.toml", &dir.join("config.toml"), dir)
        .unwrap_or_else(|d| panic!("test config: {d:?}"))
}

fn catalog(config: &Config) -> Catalog {
    let (catalog, problems) = Catalog::load(config);
    assert!(
        catalog.sequence("cold-outbound").is_some(),
        "shipped catalog: {problems:?}"
    );
    catalog
}

fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).expect("a valid instant")
}

async fn import(
    store: &Store,
    config: &Config,
    path: &Path,
    sequence: Option<&drumbeat::catalog::Sequence>,
    dry_run: bool,
    now: i64,
) -> ImportSummary {
    let opts = ImportOptions {
        sequence,
        owner: None,
        dry_run,
        encoding: None,
        admission: drumbeat::store::Admission::OPEN,
    };
    import_file(store, config, path, &opts, at(now), &|_| {})
        .await
        .expect("import runs")
}

/// One generated row.
#[derive(Debug, Clone)]
struct Row {
    email: String,
    first: String,
    last: String,
    company: String,
    title: String,
    zone: String,
    interest: String,
}

/// Lead fields as the store should hold them (empty cells are `None`).
#[derive(Debug, Clone, PartialEq)]
struct Model {
    first: Option<String>,
    last: Option<String>,
    company: Option<String>,
    title: Option<String>,
    zone: Option<String>,
    custom: BTreeMap<String, String>,
}

fn some(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

impl Row {
    /// The lead this row gives, or None when the row must be skipped.
    fn model(&self) -> Option<(Email, Model)> {
        let email = Email::parse(&self.email).ok()?;
        if self.zone == "Mars/Olympus" {
            return None;
        }
        let custom = some(&self.interest)
            .map(|v| ("interest".to_string(), v))
            .into_iter()
            .collect();
        Some((
            email,
            Model {
                first: some(&self.first),
                last: some(&self.last),
                company: some(&self.company),
                title: some(&self.title),
                zone: some(&self.zone),
                custom,
            },
        ))
    }
}

/// `new` over `old`: given cells replace, empty ones keep the stored value.
fn merge(old: &Model, new: &Model) -> Model {
    let pick = |n: &Option<String>, o: &Option<String>| n.clone().or_else(|| o.clone());
    let mut custom = old.custom.clone();
    custom.extend(new.custom.clone());
    Model {
        first: pick(&new.first, &old.first),
        last: pick(&new.last, &old.last),
        company: pick(&new.company, &old.company),
        title: pick(&new.title, &old.title),
        zone: pick(&new.zone, &old.zone),
        custom,
    }
}

/// Text without whitespace at its ends (a sheet trims cells), with the characters that make
/// CSV hard: quotes, commas, semicolons, newlines, non-ASCII.
fn cell() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => Just(String::new()),
        5 => "[A-Za-zé'][A-Za-zé ,;\"'\n-]{0,12}[A-Za-z.\"']",
        1 => "[A-Z][a-z]{0,6}",
    ]
}

/// Addresses from a small pool, so that rows name the same person in other spellings, and
/// addresses that are not.
fn address() -> impl Strategy<Value = String> {
    let good = (
        prop::sample::select(vec!["ann", "bob", "li.wei", "sam_o", "zoe+x", "o'brien"]),
        prop::sample::select(vec!["acme.com", "globex.example", "gmail.com"]),
        prop::sample::select(vec!["plain", "UPPER", "named", "mailto", "spaced"]),
    )
        .prop_map(|(local, domain, style)| {
            let a = format!("{local}@{domain}");
            match style {
                "UPPER" => a.to_uppercase(),
                "named" => format!("Some One <{a}>"),
                "mailto" => format!("mailto:{a}"),
                "spaced" => format!("  {a} "),
                _ => a,
            }
        });
    let bad = prop::sample::select(vec![
        "not-an-email",
        "ann@localhost",
        "ann@@acme.com",
        "@acme.com",
        "ann@",
        "ann smith@acme.com",
        "ann@1.2.3.4",
        "ann,bob@acme.com",
        "\"ann\"@acme.com\"",
    ])
    .prop_map(str::to_string);
    prop_oneof![5 => good, 1 => bad]
}

fn row() -> impl Strategy<Value = Row> {
    (
        address(),
        cell(),
        cell(),
        cell(),
        cell(),
        prop::sample::select(vec!["", "", "Europe/Berlin", "Asia/Tokyo", "Mars/Olympus"]),
        cell(),
    )
        .prop_map(|(email, first, last, company, title, zone, interest)| Row {
            email,
            first,
            last,
            company,
            title,
            zone: zone.to_string(),
            interest,
        })
}

/// Rows, plus exact copies of some of them appended at the end.
fn sheet() -> impl Strategy<Value = Vec<Row>> {
    (
        prop::collection::vec(row(), 1..30),
        prop::collection::vec(any::<prop::sample::Index>(), 0..6),
    )
        .prop_map(|(mut rows, copies)| {
            for i in copies {
                let copy = rows[i.index(rows.len())].clone();
                rows.push(copy);
            }
            rows
        })
}

fn write_csv(path: &Path, rows: &[Row]) {
    let mut w = csv::Writer::from_path(path).expect("create csv");
    w.write_record([
        "Email",
        "First Name",
        "Last Name",
        "Company",
        "Title",
        "Time Zone",
        "Interest",
    ])
    .expect("write");
    for r in rows {
        w.write_record([
            &r.email,
            &r.first,
            &r.last,
            &r.company,
            &r.title,
            &r.zone,
            &r.interest,
        ])
        .expect("write");
    }
    w.flush().expect("flush");
}

/// What a first import into an empty store must report, and the leads it must leave.
struct Expected {
    skipped_rows: Vec<u64>,
    new: u64,
    updated: u64,
    unchanged: u64,
    leads: HashMap<Email, Model>,
}

fn expected(rows: &[Row]) -> Expected {
    let mut e = Expected {
        skipped_rows: Vec::new(),
        new: 0,
        updated: 0,
        unchanged: 0,
        leads: HashMap::new(),
    };
    for (i, r) in rows.iter().enumerate() {
        let Some((address, model)) = r.model() else {
            e.skipped_rows.push(i as u64 + 2);
            continue;
        };
        match e.leads.get(&address) {
            None => {
                e.new += 1;
                e.leads.insert(address, model);
            }
            Some(old) => {
                let merged = merge(old, &model);
                if merged == *old {
                    e.unchanged += 1;
                } else {
                    e.updated += 1;
                    e.leads.insert(address, merged);
                }
            }
        }
    }
    e
}

async fn import_twice(rows: Vec<Row>) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().expect("a temp dir");
    let config = config(dir.path());
    let catalog = catalog(&config);
    let seq = catalog.sequence("cold-outbound");
    let path: PathBuf = dir.path().join("leads.csv");
    write_csv(&path, &rows);
    let store = Store::open(&sqlite_url(dir.path())).await.expect("open");
    let want = expected(&rows);
    let good = rows.len() as u64 - want.skipped_rows.len() as u64;

    let first = import(&store, &config, &path, seq, false, NOW).await;
    let first_rows: Vec<u64> = first.errors.iter().map(|e| e.row).collect();
    prop_assert_eq!(first.rows, rows.len() as u64);
    prop_assert_eq!(
        &first_rows,
        &want.skipped_rows,
        "errors: {:?}",
        first.errors
    );
    prop_assert_eq!(first.skipped, want.skipped_rows.len() as u64);
    prop_assert_eq!(
        (first.new, first.updated, first.unchanged),
        (want.new, want.updated, want.unchanged)
    );
    prop_assert_eq!(first.enrolled, want.leads.len() as u64);
    prop_assert_eq!(first.enrolled + first.already_enrolled, good);
    prop_assert_eq!(
        store.count_leads().await.expect("count"),
        want.leads.len() as i64
    );
    let mut updated_at = HashMap::new();
    for (address, model) in &want.leads {
        let stored = store
            .lead_by_email(address)
            .await
            .expect("read")
            .expect("stored");
        let r = &stored.record;
        let got = Model {
            first: r.first_name.clone(),
            last: r.last_name.clone(),
            company: r.company.clone(),
            title: r.title.clone(),
            zone: r.timezone.clone(),
            custom: r.custom.clone(),
        };
        prop_assert_eq!(&got, model, "{}", address);
        updated_at.insert(address.clone(), stored.updated_at);
    }

    let second = import(&store, &config, &path, seq, false, NOW + 3600).await;
    let second_rows: Vec<u64> = second.errors.iter().map(|e| e.row).collect();
    prop_assert_eq!(
        (second.new, second.updated),
        (0, 0),
        "second run: {:?}",
        second
    );
    prop_assert_eq!(
        second.unchanged,
        first.new + first.updated + first.unchanged
    );
    prop_assert_eq!(second.unchanged, good);
    prop_assert_eq!(second.skipped, first.skipped);
    prop_assert_eq!(&second_rows, &first_rows);
    prop_assert_eq!((second.enrolled, second.already_enrolled), (0, good));
    prop_assert_eq!(
        store.count_leads().await.expect("count"),
        want.leads.len() as i64
    );
    for (address, at) in &updated_at {
        let stored = store
            .lead_by_email(address)
            .await
            .expect("read")
            .expect("stored");
        prop_assert_eq!(stored.updated_at, *at, "{} was written again", address);
    }
    store.close().await;
    Ok(())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn importing_a_file_twice_changes_nothing_the_second_time(rows in sheet()) {
        runtime().block_on(import_twice(rows))?;
    }

    #[test]
    fn importing_any_text_never_panics(text in "(Email,Name,Company\n)?[a-z@.,;\"\n\r\t =A-Z0-9é]{0,300}") {
        runtime().block_on(async {
            let dir = tempfile::tempdir().expect("a temp dir");
            let config = config(dir.path());
            let path = dir.path().join("any.csv");
            std::fs::write(&path, &text).expect("write");
            let store = Store::open(&sqlite_url(dir.path())).await.expect("open");
            let opts = ImportOptions { sequence: None, owner: None, dry_run: false, encoding: None, admission: drumbeat::store::Admission::OPEN };
            if let Ok(summary) = import_file(&store, &config, &path, &opts, at(NOW), &|_| {}).await {
                assert_eq!(summary.rows, summary.new + summary.updated + summary.unchanged + summary.skipped);
                assert_eq!(store.count_leads().await.expect("count"), summary.new as i64);
            }
            store.close().await;
        });
    }
}

const LEADS: &str = "Email,First Name,Company\n\
                     old@acme.com,Olga,Acme\n\
                     new@globex.example,Nia,Globex\n\
                     blocked@initech.example,Bo,Initech\n\
                     new@globex.example,Nia,Globex\n";

/// Stores and enrolls old@acme.com, and suppresses blocked@initech.example.
async fn prepare(s: &StoreCase, config: &Config, seq: &drumbeat::catalog::Sequence) -> PathBuf {
    let dir = config.dir.clone();
    let first = dir.join("first.csv");
    std::fs::write(&first, "Email,First Name\nold@acme.com,Old\n").expect("write");
    let summary = import(s, config, &first, Some(seq), false, NOW).await;
    assert_eq!((summary.new, summary.enrolled), (1, 1), "{}", s.engine);
    s.suppress("blocked@initech.example", "bounced", None, NOW)
        .await
        .expect("suppress");
    let path = dir.join("leads.csv");
    std::fs::write(&path, LEADS).expect("write");
    path
}

#[tokio::test]
async fn import_dry_run_with_a_sequence_reports_what_would_happen_and_changes_nothing() {
    for_each_store(
        "import_dry_run_with_a_sequence_reports_what_would_happen_and_changes_nothing",
        |s| async move {
            let dir = tempfile::tempdir().expect("a temp dir");
            let config = config(dir.path());
            let catalog = catalog(&config);
            let seq = catalog.sequence("cold-outbound").expect("shipped sequence");
            let path = prepare(&s, &config, seq).await;
            let events = s.int("SELECT COUNT(*) FROM events").await;

            let dry = import(&s, &config, &path, Some(seq), true, NOW + 60).await;
            assert!(dry.dry_run);
            assert_eq!(
                (dry.rows, dry.new, dry.updated, dry.unchanged, dry.skipped),
                (4, 2, 1, 1, 0),
                "{}: {dry:?}",
                s.engine
            );
            assert_eq!(
                (dry.enrolled, dry.already_enrolled, dry.suppressed),
                (1, 2, 1),
                "{}: {dry:?}",
                s.engine
            );

            assert_eq!(s.count_leads().await.expect("count"), 1, "{}", s.engine);
            assert_eq!(
                s.int("SELECT COUNT(*) FROM enrollments").await,
                1,
                "{}",
                s.engine
            );
            assert_eq!(
                s.int("SELECT COUNT(*) FROM events").await,
                events,
                "{}",
                s.engine
            );
            let old = s
                .lead_by_email(&email("old@acme.com"))
                .await
                .expect("read")
                .expect("stored");
            assert_eq!(old.record.first_name.as_deref(), Some("Old"));

            // The real import then does what the dry run said.
            let real = import(&s, &config, &path, Some(seq), false, NOW + 60).await;
            assert_eq!(
                (
                    real.new,
                    real.updated,
                    real.unchanged,
                    real.enrolled,
                    real.already_enrolled,
                    real.suppressed
                ),
                (
                    dry.new,
                    dry.updated,
                    dry.unchanged,
                    dry.enrolled,
                    dry.already_enrolled,
                    dry.suppressed
                ),
                "{}: {real:?}",
                s.engine
            );
            assert_eq!(s.count_leads().await.expect("count"), 3, "{}", s.engine);
            s.close().await;
        },
    )
    .await;
}

#[tokio::test]
async fn import_skips_a_forgotten_person_and_names_the_row() {
    for_each_store(
        "import_skips_a_forgotten_person_and_names_the_row",
        |s| async move {
            let dir = tempfile::tempdir().expect("a temp dir");
            let config = config(dir.path());
            s.forget(&email("gone@acme.com"), NOW)
                .await
                .expect("forget");
            let path = dir.path().join("leads.csv");
            std::fs::write(
                &path,
                "Email,First Name\nkeep@acme.com,Kay\nGONE@acme.com,Gone\n",
            )
            .expect("write");
            let summary = import(&s, &config, &path, None, false, NOW).await;
            assert_eq!(
                (summary.rows, summary.new, summary.skipped),
                (2, 1, 1),
                "{}: {summary:?}",
                s.engine
            );
            assert_eq!(summary.errors.len(), 1);
            assert_eq!(summary.errors[0].row, 3, "{}", s.engine);
            assert!(
                summary.errors[0].reason.contains("forgotten"),
                "{}",
                summary.errors[0].reason
            );
            assert!(
                s.lead_by_email(&email("gone@acme.com"))
                    .await
                    .expect("read")
                    .is_none(),
                "{}",
                s.engine
            );
            s.close().await;
        },
    )
    .await;
}

/// A file of more than two batches (20,000 leads each), with bad rows, a blank line and a
/// forgotten person spread over it: row numbers, counts, the order of the problems (a batch's
/// bad rows as read, then its forgotten people when it is written) and the progress reports
/// come out as when the rows were read and written one batch after the other.
#[tokio::test]
async fn import_across_batches_keeps_rows_counts_and_problem_order() {
    for_each_store(
        "import_across_batches_keeps_rows_counts_and_problem_order",
        |s| async move {
            const BATCH: usize = 20_000;
            let dir = tempfile::tempdir().expect("a temp dir");
            let config = config(dir.path());
            s.forget(&email("gone@acme.com"), NOW)
                .await
                .expect("forget");
            // Data rows: (spreadsheet row, what it holds).
            enum Cell {
                Good(usize),
                Bad,
                Forgotten,
                Blank,
            }
            let mut cells = Vec::new();
            for i in 0..(2 * BATCH + 700) {
                cells.push(match i {
                    3 | 19_999 | 20_001 | 40_500 => Cell::Bad,
                    10 | 20_005 => Cell::Forgotten,
                    7 => Cell::Blank,
                    _ => Cell::Good(i),
                });
            }
            let mut text = String::from("Email,First Name\n");
            for c in &cells {
                match c {
                    Cell::Good(i) => text.push_str(&format!("p{i}@acme{}.com,P\n", i % 97)),
                    Cell::Bad => text.push_str("not-an-address,X\n"),
                    Cell::Forgotten => text.push_str("gone@acme.com,G\n"),
                    Cell::Blank => text.push('\n'),
                }
            }
            let path = dir.path().join("big.csv");
            std::fs::write(&path, &text).expect("write");

            // What reading and writing one batch after the other reports.
            let (mut expected, mut forgotten, mut leads) = (Vec::new(), Vec::new(), 0);
            for (i, c) in cells.iter().enumerate() {
                let row = i as u64 + 2;
                match c {
                    Cell::Bad => expected.push((row, false)),
                    Cell::Blank => {}
                    Cell::Good(_) | Cell::Forgotten => {
                        leads += 1;
                        if matches!(c, Cell::Forgotten) {
                            forgotten.push((row, true));
                        }
                        if leads % BATCH == 0 {
                            expected.append(&mut forgotten);
                        }
                    }
                }
            }
            expected.append(&mut forgotten);

            let seen = std::sync::Mutex::new(Vec::new());
            let opts = ImportOptions {
                sequence: None,
                owner: None,
                dry_run: false,
                encoding: None,
                admission: drumbeat::store::Admission::OPEN,
            };
            let summary = import_file(&s, &config, &path, &opts, at(NOW), &|b| {
                seen.lock().expect("not poisoned").push(b)
            })
            .await
            .expect("import runs");
            let good = cells.iter().filter(|c| matches!(c, Cell::Good(_))).count() as u64;
            assert_eq!(
                (summary.rows, summary.new, summary.skipped, summary.invalid),
                (good + 6, good, 6, 4),
                "{}",
                s.engine
            );
            let got: Vec<(u64, bool)> = summary
                .errors
                .iter()
                .map(|e| (e.row, e.reason.contains("forgotten")))
                .collect();
            assert_eq!(got, expected, "{}", s.engine);
            let seen = seen.into_inner().expect("not poisoned");
            assert_eq!(seen.len(), 4, "three batches and the end: {seen:?}");
            assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
            assert_eq!(seen.last().copied(), Some(text.len() as u64));
            assert_eq!(s.count_leads().await.expect("count"), good as i64);
            s.close().await;
        },
    )
    .await;
}

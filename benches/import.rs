//! Import benchmark: a generated CSV of DRUMBEAT_BENCH_ROWS leads (default 1,000,000) into a
//! fresh SQLite store, through `drumbeat::import::import_file`, as `drumbeat leads import` does.
//!
//! Target (from the issue): 1,000,000 leads in ≤ 20 s with a peak RSS ≤ 200 MiB.
//!
//! Each import runs in a child process (this binary again, with DRUMBEAT_BENCH_CHILD set), so
//! the peak RSS reported is the import's own (`VmHWM` of the child), not the generator's or an
//! earlier run's. Per run there are three imports:
//!
//! - `import`: the file into an empty store (every lead new);
//! - `reimport`: the same file again into that store (every lead unchanged);
//! - `import+enroll`: the file into another empty store with `--sequence cold-outbound`.
//!
//! Run with `cargo bench --bench import`; DRUMBEAT_BENCH_RUNS (default 3) sets how many runs,
//! and the best and median of each figure are printed at the end.

mod common;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use drumbeat::catalog::Catalog;
use drumbeat::config::Config;
use drumbeat::import::{ImportOptions, import_file};
use drumbeat::store::Store;

use common::{best_and_median, env_usize, thousands};

/// Set in the child: the import to run.
const CHILD: &str = "DRUMBEAT_BENCH_CHILD";
const CHILD_DB: &str = "DRUMBEAT_BENCH_CHILD_DB";
const CHILD_CSV: &str = "DRUMBEAT_BENCH_CHILD_CSV";
const CHILD_SEQUENCE: &str = "DRUMBEAT_BENCH_CHILD_SEQUENCE";

fn main() {
    if std::env::var_os(CHILD).is_some() {
        child();
    } else {
        parent();
    }
}

/// What one child import reports.
#[derive(Debug, Clone, Copy)]
struct Figures {
    secs: f64,
    hwm_kib: u64,
}

fn parent() {
    let rows = env_usize("DRUMBEAT_BENCH_ROWS", 1_000_000);
    let runs = env_usize("DRUMBEAT_BENCH_RUNS", 3).max(1);
    // DRUMBEAT_BENCH_DIR keeps the CSV and the stores (to profile an import by hand);
    // otherwise they go in a temporary folder removed at the end.
    let temp;
    let dir: PathBuf = match std::env::var_os("DRUMBEAT_BENCH_DIR") {
        Some(d) => {
            std::fs::create_dir_all(&d).expect("DRUMBEAT_BENCH_DIR can be created");
            d.into()
        }
        None => {
            temp = tempfile::Builder::new()
                .prefix("drumbeat-bench-import")
                .tempdir()
                .expect("a temporary folder");
            temp.path().to_path_buf()
        }
    };
    let csv = dir.join("leads.csv");
    let started = Instant::now();
    let bytes = write_csv(&csv, rows).expect("the CSV is written");
    println!(
        "generated {rows} rows ({:.1} MiB) in {:.1} s: {}",
        bytes as f64 / (1024.0 * 1024.0),
        started.elapsed().as_secs_f64(),
        csv.display()
    );

    let scenarios = ["import", "reimport", "import+enroll"];
    let mut results: Vec<Vec<Figures>> = vec![Vec::new(); scenarios.len()];
    for run in 1..=runs {
        println!("run {run}/{runs}");
        let db = fresh_db(&dir.join(format!("run{run}.db")));
        results[0].push(run_child(&csv, &db, None, rows, scenarios[0]));
        results[1].push(run_child(&csv, &db, None, rows, scenarios[1]));
        let db = fresh_db(&dir.join(format!("run{run}-enroll.db")));
        results[2].push(run_child(
            &csv,
            &db,
            Some("cold-outbound"),
            rows,
            scenarios[2],
        ));
    }
    println!("summary over {runs} run(s), {rows} rows (target: import ≤ 20 s, peak RSS ≤ 200 MiB)");
    for (name, figures) in scenarios.iter().zip(&results) {
        let secs: Vec<f64> = figures.iter().map(|f| f.secs).collect();
        let mib: Vec<f64> = figures.iter().map(|f| f.hwm_kib as f64 / 1024.0).collect();
        let (best, median) = best_and_median(&secs, false);
        let (best_mib, median_mib) = best_and_median(&mib, false);
        println!(
            "{name}: best {best:.2} s ({} rows/s), median {median:.2} s; peak RSS best {best_mib:.0} MiB, median {median_mib:.0} MiB",
            thousands((rows as f64 / best) as u64),
        );
    }
}

/// `path` with no store there (nor its WAL files) from an earlier run.
fn fresh_db(path: &Path) -> PathBuf {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        match std::fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => panic!("cannot remove {}: {e}", Path::new(&p).display()),
        }
    }
    path.to_path_buf()
}

/// Runs one import in a child process and prints its line.
fn run_child(csv: &Path, db: &Path, sequence: Option<&str>, rows: usize, name: &str) -> Figures {
    let exe = std::env::current_exe().expect("the bench knows its own path");
    let mut cmd = Command::new(exe);
    cmd.env(CHILD, "1").env(CHILD_CSV, csv).env(CHILD_DB, db);
    match sequence {
        Some(s) => cmd.env(CHILD_SEQUENCE, s),
        None => cmd.env_remove(CHILD_SEQUENCE),
    };
    let out = cmd.output().expect("the child import runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child import failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .expect("the child prints a RESULT line");
    let field = |key: &str| -> &str {
        line.split(' ')
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
            .unwrap_or_else(|| panic!("no {key} in {line:?}"))
    };
    let f = Figures {
        secs: field("secs").parse().expect("secs is a number"),
        hwm_kib: field("hwm_kib").parse().expect("hwm_kib is a number"),
    };
    println!(
        "{name}: {rows} rows in {:.2} s ({} rows/s), peak RSS {:.0} MiB [{}]",
        f.secs,
        thousands((rows as f64 / f.secs) as u64),
        f.hwm_kib as f64 / 1024.0,
        field("summary"),
    );
    f
}

/// The child: one import, then its figures on a `RESULT` line.
fn child() {
    let csv = PathBuf::from(std::env::var_os(CHILD_CSV).expect("CSV path"));
    let db = PathBuf::from(std::env::var_os(CHILD_DB).expect("store path"));
    let sequence = std::env::var(CHILD_SEQUENCE).ok();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = bench_config(root, &db);
    let catalog = sequence.as_ref().map(|_| {
        let (catalog, problems) = Catalog::load(&config);
        assert!(
            !problems.iter().any(|p| p.is_error()),
            "the shipped catalog has errors: {problems:?}"
        );
        catalog
    });
    let seq = match (&sequence, &catalog) {
        (Some(id), Some(c)) => Some(c.sequence(id).expect("the shipped sequence exists")),
        _ => None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let (secs, summary) = runtime.block_on(async {
        let store = Store::open(&config.store_url)
            .await
            .expect("the store opens");
        let opts = ImportOptions {
            sequence: seq,
            owner: None,
            dry_run: false,
            encoding: None,
            admission: drumbeat::store::Admission::OPEN,
        };
        let started = Instant::now();
        let summary = import_file(&store, &config, &csv, &opts, chrono::Utc::now(), &|_| {})
            .await
            .expect("the import succeeds");
        let secs = started.elapsed().as_secs_f64();
        store.close().await;
        (secs, summary)
    });
    assert!(
        summary.errors.is_empty(),
        "rows were rejected: {:?}",
        &summary.errors[..summary.errors.len().min(5)]
    );
    println!(
        "RESULT secs={secs:.3} hwm_kib={} summary=new:{},updated:{},unchanged:{},enrolled:{},already_enrolled:{}",
        peak_rss_kib(),
        summary.new,
        summary.updated,
        summary.unchanged,
        summary.enrolled,
        summary.already_enrolled,
    );
}

/// The repo's config.toml with the store moved to `db`: sequences, templates and the `ana`
/// mailbox the shipped sequences use stay as shipped.
fn bench_config(root: &Path, db: &Path) -> Config {
    let path = root.join("config.toml");
    let text = std::fs::read_to_string(&path).expect("config.toml is readable");
    let text = text.replace(
        "store = \"sqlite://data/drumbeat.db\"",
        &format!("store = \"sqlite://{}\"", db.display()),
    );
    assert!(text.contains(&db.display().to_string()), "store line moved");
    Config::parse(&text, "config.toml", &path, root).expect("config.toml parses")
}

/// This process's peak resident set (`VmHWM`), in KiB.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("Linux /proc");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/self/status")
}

/// A small, stable generator (SplitMix64), so every run imports the same file.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }

    /// True with probability `percent`/100.
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

const FIRST: &[&str] = &[
    "Jane", "John", "Ana", "Ben", "Chloé", "Dmitri", "Emeka", "Fatima", "Greta", "Hiro", "Ines",
    "Jamal", "Kai", "Lena", "Mateo", "Noor", "Olu", "Priya", "Quinn", "Rosa", "Sven", "Tariq",
];
const LAST: &[&str] = &[
    "Doe",
    "Smith",
    "Lopez",
    "Okafor",
    "Müller",
    "Ivanova",
    "Nakamura",
    "García",
    "O'Brien",
    "van der Berg",
    "Nguyen",
    "Kowalski",
    "Haddad",
    "Silva",
    "Johansson",
    "Chen",
    "Patel",
];
const COMPANY_WORDS: &[&str] = &[
    "acme",
    "globex",
    "initech",
    "umbrella",
    "stark",
    "wayne",
    "hooli",
    "vandelay",
    "tyrell",
    "cyberdyne",
    "soylent",
    "wonka",
    "gringotts",
    "oscorp",
    "dunder",
    "pied",
    "aperture",
];
const TLDS: &[&str] = &["com", "io", "de", "co.uk", "fr", "net", "ai"];
const FREE_MAIL: &[&str] = &[
    "gmail.com",
    "yahoo.com",
    "outlook.com",
    "gmx.de",
    "hotmail.com",
];
const TITLES: &[&str] = &[
    "Head of Sales",
    "VP Sales",
    "SDR Manager",
    "Founder",
    "CEO",
    "Revenue Operations Lead",
    "Account Executive",
    "Marketing Director",
];
const ZONES: &[&str] = &[
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "Europe/Berlin",
    "Europe/London",
    "Europe/Paris",
    "Asia/Tokyo",
    "Australia/Sydney",
];
const INDUSTRIES: &[&str] = &["SaaS", "Fintech", "Logistics", "Healthcare", "Retail"];
const PAINS: &[&str] = &[
    "slow follow-up",
    "\"leads go cold\" after the demo",
    "no time to prospect, reps busy",
    "manual CRM updates",
];

/// Writes `rows` leads to `path`, one row at a time. About 85% of addresses are at a company
/// domain (about 2 leads per company, so most rows bring a new account), the rest at
/// free-mail providers. Some cells are empty, as in real exports. Returns the file size.
fn write_csv(path: &Path, rows: usize) -> std::io::Result<u64> {
    let mut w = BufWriter::with_capacity(1 << 16, File::create(path)?);
    writeln!(
        w,
        "Email,First Name,Last Name,Company,Title,Time Zone,Industry,Pain Point"
    )?;
    let mut rng = Rng(0x5eed);
    for i in 0..rows {
        let first = rng.pick(FIRST);
        let last = rng.pick(LAST);
        let local: String = format!("{first}.{last}")
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect::<String>()
            .to_ascii_lowercase();
        let company_no = i / 2;
        let word = COMPANY_WORDS[company_no % COMPANY_WORDS.len()];
        let company = format!("{}{company_no} Inc", capitalize(word));
        if rng.chance(85) {
            let tld = TLDS[company_no % TLDS.len()];
            write!(w, "{local}.{i}@{word}{company_no}.{tld},")?;
        } else {
            write!(w, "{local}{i}@{},", rng.pick(FREE_MAIL))?;
        }
        write!(w, "{first},")?;
        csv_cell(&mut w, last)?;
        write!(w, ",{company},")?;
        if rng.chance(80) {
            write!(w, "{}", rng.pick(TITLES))?;
        }
        w.write_all(b",")?;
        if rng.chance(70) {
            write!(w, "{}", rng.pick(ZONES))?;
        }
        write!(w, ",{},", rng.pick(INDUSTRIES))?;
        if rng.chance(50) {
            csv_cell(&mut w, rng.pick(PAINS))?;
        }
        w.write_all(b"\n")?;
    }
    w.flush()?;
    Ok(std::fs::metadata(path)?.len())
}

fn capitalize(word: &str) -> String {
    let mut c = word.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// A cell, quoted when it holds a delimiter or a quote.
fn csv_cell(w: &mut impl Write, text: &str) -> std::io::Result<()> {
    if text.contains([',', '"', '\n']) {
        write!(w, "\"{}\"", text.replace('"', "\"\""))
    } else {
        w.write_all(text.as_bytes())
    }
}

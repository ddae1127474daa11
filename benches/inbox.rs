//! Inbox watcher benchmark (not a test): against the Dovecot of scripts/testbed
//! (DRUMBEAT_TEST_IMAP, DRUMBEAT_TEST_IMAP_PASSWORD), it measures
//!
//! 1. **latency**: a daemon's watcher idles on INBOX; a reply is APPENDed; the time until its
//!    enrollment is `replied` in the store (DRUMBEAT_BENCH_REPLIES replies, one at a time);
//! 2. **backlog**: DRUMBEAT_BENCH_BACKLOG replies (default 10,000) delivered while nothing
//!    watches, then one look at the mailbox (`check_once`, as `run --once` does) processes
//!    them all: messages per second.
//!
//! `eval "$(scripts/testbed start)" && cargo bench --bench inbox`

#[allow(dead_code, reason = "shared with the other benches")]
mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{env_usize, thousands};
use drumbeat::catalog::Catalog;
use drumbeat::config::Config;
use drumbeat::daemon::{Clock, Daemon};
use drumbeat::lead::Email;
use drumbeat::store::Store;

fn main() {
    let Ok(addr) = std::env::var("DRUMBEAT_TEST_IMAP") else {
        eprintln!("inbox bench: set DRUMBEAT_TEST_IMAP (eval \"$(scripts/testbed start)\")");
        std::process::exit(2);
    };
    let (host, port) = addr.rsplit_once(':').expect("HOST:PORT");
    assert!(host == "127.0.0.1" || host == "::1", "loopback only");
    let port: u16 = port.parse().expect("port");
    let backlog = env_usize("DRUMBEAT_BENCH_BACKLOG", 10_000);
    let replies = env_usize("DRUMBEAT_BENCH_REPLIES", 20);
    let leads = backlog.max(replies);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");

    let dir = tempfile::tempdir().expect("tempdir");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let user = format!(
        "bench-{}-{}@example.test",
        std::process::id(),
        chrono::Utc::now().timestamp()
    );
    std::fs::write(
        dir.path().join("config.toml"),
        format!(
            r#"store = "sqlite://data/drumbeat.db"
sequences = "{seq}"
templates = "{tpl}"
timezone = "America/New_York"
[[mailbox]]
name = "ana"
from = "ana@example.com"
signature = "Ana"
outbox = "data/outbox"
[mailbox.imap]
host = "{host}"
port = {port}
security = "none"
username = "{user}"
password = {{ env = "DRUMBEAT_TEST_IMAP_PASSWORD" }}
"#,
            seq = root.join("sequences").display(),
            tpl = root.join("templates").display(),
        ),
    )
    .expect("config");
    let config = Config::load(&dir.path().join("config.toml")).expect("config loads");
    let (catalog, _) = Catalog::load(&config);
    let (catalog2, _) = Catalog::load(&config);
    let store = rt.block_on(Store::open(&config.store_url)).expect("store");

    // Leads enrolled (nothing sent yet: replies match them by the sender's address).
    let csv = dir.path().join("leads.csv");
    let mut text = String::from("Email,First Name,Company\n");
    for i in 0..leads {
        text.push_str(&format!("lead{i}@co{i}.example,Lead,Co {i}\n"));
    }
    std::fs::write(&csv, text).expect("csv");
    let seq = catalog.sequence("cold-outbound").expect("shipped sequence");
    let opts = drumbeat::import::ImportOptions {
        sequence: Some(seq),
        owner: None,
        dry_run: false,
        encoding: None,
        admission: drumbeat::store::Admission::OPEN,
    };
    rt.block_on(drumbeat::import::import_file(
        &store,
        &config,
        &csv,
        &opts,
        chrono::Utc::now(),
        &|_| {},
    ))
    .expect("import");
    let daemon = Arc::new(
        Daemon::new(
            config.clone(),
            catalog2,
            store.clone(),
            "bench".into(),
            Clock::System,
        )
        .expect("daemon"),
    );

    // 2. Backlog first (the watcher below would otherwise take the mail as it arrives).
    let mut imap = Imap::login(host, port, &user);
    let started = Instant::now();
    for i in 0..backlog {
        imap.append_pipelined("INBOX", &reply(i));
    }
    imap.drain();
    let delivered = started.elapsed();
    let mailbox = config.mailboxes[0].clone();
    let started = Instant::now();
    let report = rt
        .block_on(drumbeat::inbox::watch::check_once(&daemon, &mailbox))
        .expect("check");
    let took = started.elapsed();
    println!(
        "backlog: {} messages APPENDed in {:.1} s; processed {} (recorded {}, unmatched {}) in {:.2} s: {} messages/s",
        thousands(backlog as u64),
        delivered.as_secs_f64(),
        thousands(report.read),
        thousands(report.recorded),
        thousands(report.unmatched),
        took.as_secs_f64(),
        thousands((report.read as f64 / took.as_secs_f64()) as u64)
    );

    // 1. Latency with IDLE, on leads the backlog did not touch.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let watcher = rt.spawn(drumbeat::inbox::watch::run(
        daemon.context().clone(),
        mailbox.clone(),
        stop_rx,
    ));
    let mut lat = Vec::new();
    rt.block_on(async {
        // Wait until it idles.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let states = store.watcher_states().await.expect("states");
            if states.iter().any(|s| s.2 == "idle") {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "watcher never reached IDLE: {states:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    for k in 0..replies {
        let i = leads + k; // a new lead for each probe
        let email = format!("lead{i}@co{i}.example");
        std::fs::write(
            &csv,
            format!("Email,First Name,Company\n{email},Lead,Co {i}\n"),
        )
        .expect("csv");
        rt.block_on(drumbeat::import::import_file(
            &store,
            &config,
            &csv,
            &opts,
            chrono::Utc::now(),
            &|_| {},
        ))
        .expect("import");
        let e = Email::parse(&email).expect("email");
        let appended = Instant::now();
        imap.append("INBOX", &reply(i));
        rt.block_on(async {
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                let lead = store
                    .lead_by_email(&e)
                    .await
                    .expect("lead")
                    .expect("exists");
                let en = store
                    .enrollments_for_lead(lead.id)
                    .await
                    .expect("enrollments");
                if en.iter().any(|x| x.state.as_str() == "replied") {
                    break;
                }
                assert!(Instant::now() < deadline, "reply {k} not seen within 30 s");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        });
        lat.push(appended.elapsed().as_secs_f64() * 1000.0);
    }
    let _ = stop_tx.send(true);
    let _ = rt.block_on(watcher);
    lat.sort_by(f64::total_cmp);
    println!(
        "latency (APPEND to enrollment replied, IDLE): {} replies, median {:.0} ms, p90 {:.0} ms, max {:.0} ms (goal: < 2 s)",
        lat.len(),
        lat[lat.len() / 2],
        lat[(lat.len() * 9 / 10).min(lat.len() - 1)],
        lat[lat.len() - 1]
    );
}

fn reply(i: usize) -> Vec<u8> {
    format!(
        "From: Lead <lead{i}@co{i}.example>\r\nTo: ana@example.com\r\nSubject: Re: a thought\r\n\
         Date: {}\r\nMessage-ID: <bench-{i}-{}@co{i}.example>\r\nContent-Type: text/plain\r\n\r\n\
         Thanks, sounds interesting. Can we talk on Tuesday?\r\n\r\nOn Mon, Ana wrote:\r\n> hello\r\n",
        chrono::Utc::now().to_rfc2822(),
        std::process::id()
    )
    .into_bytes()
}

/// A minimal IMAP client: LOGIN and APPEND (pipelined with LITERAL+ for the backlog).
struct Imap {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    tag: u64,
    pending: u64,
}

impl Imap {
    fn login(host: &str, port: u16, user: &str) -> Imap {
        let s = TcpStream::connect((host, port)).expect("connect");
        let writer = s.try_clone().expect("clone");
        let mut imap = Imap {
            reader: BufReader::new(s),
            writer,
            tag: 0,
            pending: 0,
        };
        imap.line();
        let pw = std::env::var("DRUMBEAT_TEST_IMAP_PASSWORD").unwrap_or_default();
        imap.tag += 1;
        write!(imap.writer, "a{} LOGIN \"{user}\" \"{pw}\"\r\n", imap.tag).expect("write");
        imap.wait(imap.tag);
        imap
    }

    fn line(&mut self) -> String {
        let mut l = String::new();
        self.reader.read_line(&mut l).expect("read");
        l
    }

    fn wait(&mut self, tag: u64) {
        let prefix = format!("a{tag} ");
        loop {
            let l = self.line();
            assert!(!l.is_empty(), "connection closed");
            if l.starts_with(&prefix) {
                assert!(l[prefix.len()..].starts_with("OK"), "{l}");
                return;
            }
        }
    }

    fn append_pipelined(&mut self, folder: &str, raw: &[u8]) {
        self.tag += 1;
        write!(
            self.writer,
            "a{} APPEND \"{folder}\" {{{}+}}\r\n",
            self.tag,
            raw.len()
        )
        .expect("write");
        self.writer.write_all(raw).expect("write");
        self.writer.write_all(b"\r\n").expect("write");
        self.pending += 1;
        if self.pending >= 200 {
            self.drain();
        }
    }

    fn drain(&mut self) {
        while self.pending > 0 {
            let l = self.line();
            assert!(!l.is_empty(), "connection closed");
            if l.starts_with('a') {
                assert!(l.split_whitespace().nth(1) == Some("OK"), "{l}");
                self.pending -= 1;
            }
        }
    }

    fn append(&mut self, folder: &str, raw: &[u8]) {
        self.append_pipelined(folder, raw);
        self.drain();
    }
}

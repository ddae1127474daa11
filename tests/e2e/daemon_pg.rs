//! Scale-out (DESIGN.md "Scale"): two long-running daemons on one PostgreSQL database share
//! the due touches through leases and `FOR UPDATE SKIP LOCKED`; every touch is sent once.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::support::daemon::{
    TouchRow, assert_exactly_once, blast_project, by_state, silent_server, spawn_daemon,
    wait_for_store,
};
use crate::support::sink::{Received, Sink};
use crate::support::{Project, fresh_pg_database, pg_server};

const LEADS: usize = 1000;

/// Stops a daemon the way systemd does (SIGTERM) and waits for it (bounded).
fn terminate(child: &mut std::process::Child) {
    // SAFETY: kill has no memory preconditions; the pid is our own unreaped child.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().expect("wait for the daemon").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the daemon did not stop within 30 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// "sent" lines in a daemon's log: how many emails that instance handed over.
fn sent_by(log: &std::path::Path) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(" sent touch="))
        .count()
}

/// Every one of the `LEADS` touches `sent`, and the sink has each one's message once.
fn assert_all_sent_once(got: &[Received], rows: &[TouchRow]) {
    let states: BTreeMap<String, usize> = by_state(rows);
    assert_eq!(
        states.get("sent").copied(),
        Some(LEADS),
        "all sent within 120 s: {states:?}"
    );
    assert_eq!(got.len(), LEADS, "the sink has one message per touch");
    assert_exactly_once(got, rows);
}

/// A fresh database on the test server, a sink, and a project sending one email to each of
/// `LEADS` leads from `mailboxes` mailboxes (`rep`, `rep2`…) on that sink; `None` (the test
/// skips, saying so) without PostgreSQL or smtp-sink.
fn pg_blast(test: &str, mailboxes: usize) -> Option<(Sink, String, Project)> {
    let server = pg_server(test)?;
    let sink = Sink::start(test, &[])?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let url = runtime.block_on(fresh_pg_database(&server));
    let p = blast_project(&sink, Some(&url), LEADS, 2);
    let config = std::fs::read_to_string(p.file("config.toml")).expect("config");
    let more: String = (2..=mailboxes)
        .map(|n| {
            format!(
                "\n[[mailbox]]\nname = \"rep{n}\"\nfrom = \"rep{n}@example.com\"\n\
                 signature = \"Rob Rep\"\ndaily_cap = 1000000\nconnections = 2\n\
                 [mailbox.smtp]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"none\"\n",
                sink.port
            )
        })
        .collect();
    p.write("config.toml", format!("{config}{more}"));
    let names: Vec<String> = std::iter::once("rep".to_string())
        .chain((2..=mailboxes).map(|n| format!("rep{n}")))
        .collect();
    p.edit(
        "sequences/blast.yaml",
        "mailboxes: [rep]",
        &format!("mailboxes: [{}]", names.join(", ")),
    );
    Some((sink, url, p))
}

#[test]
fn two_daemons_on_one_postgres_send_a_thousand_touches_once_each() {
    let test = "two_daemons_on_one_postgres_send_a_thousand_touches_once_each";
    // Two mailboxes: the daemons share the work by mailbox, one each.
    let Some((sink, url, p)) = pg_blast(test, 2) else {
        return;
    };

    let started = Instant::now();
    let logs = [p.file("a.log"), p.file("b.log")];
    let mut daemons = [
        spawn_daemon(&p, "a", &logs[0]),
        spawn_daemon(&p, "b", &logs[1]),
    ];
    let rows = wait_for_store(&url, Duration::from_secs(120), |rows| {
        rows.len() == LEADS && rows.iter().all(|r| r.state == "sent")
    });
    let got = sink.wait_for(LEADS, Duration::from_secs(10));
    let took = started.elapsed();
    for d in &mut daemons {
        terminate(d);
    }
    assert_all_sent_once(&got, &rows);
    let (a, b) = (sent_by(&logs[0]), sent_by(&logs[1]));
    for log in &logs {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        for l in text
            .lines()
            .filter(|l| l.contains("mailbox") && !l.contains(" sent touch="))
        {
            eprintln!("{test}: {}: {l}", log.display());
        }
    }
    eprintln!(
        "{test}: {LEADS} sent in {:.1}s: instance a {a}, instance b {b}",
        took.as_secs_f64()
    );
    assert_eq!(
        a + b,
        LEADS,
        "each send logged once by the instance that made it"
    );
    assert!(a > 0 && b > 0, "both daemons sent: a {a}, b {b}");
    // Each held one mailbox at the end (a took both alone, then gave one to b).
    let taken = |log: &std::path::Path| {
        std::fs::read_to_string(log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("mailbox taken"))
            .count()
    };
    assert!(
        taken(&logs[0]) >= 1 && taken(&logs[1]) >= 1,
        "each daemon took a mailbox"
    );
}

/// One daemon holding four mailboxes claims and records in parallel lanes on PostgreSQL (two
/// with the default pool of 8 connections), each lane some of the mailboxes: every touch is
/// still sent once, and none is left `sending`.
#[test]
fn one_daemon_sending_in_lanes_sends_every_touch_once() {
    let test = "one_daemon_sending_in_lanes_sends_every_touch_once";
    let Some((sink, url, p)) = pg_blast(test, 4) else {
        return;
    };
    let log = p.file("a.log");
    let mut daemon = spawn_daemon(&p, "a", &log);
    let rows = wait_for_store(&url, Duration::from_secs(120), |rows| {
        rows.len() == LEADS && rows.iter().all(|r| r.state == "sent")
    });
    let got = sink.wait_for(LEADS, Duration::from_secs(10));
    terminate(&mut daemon);
    assert_all_sent_once(&got, &rows);
    assert_eq!(sent_by(&log), LEADS, "each send logged once");
}

/// Commits made in the database at `url` so far (PostgreSQL's own count).
fn commits(url: &str) -> i64 {
    use sqlx::{Connection, Row};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let mut conn = sqlx::AnyConnection::connect(url)
            .await
            .expect("connect to the test database");
        let n: i64 = sqlx::query(
            "SELECT xact_commit::BIGINT AS n FROM pg_stat_database WHERE datname = current_database()",
        )
        .fetch_one(&mut conn)
        .await
        .expect("pg_stat_database")
        .try_get("n")
        .expect("n");
        conn.close().await.expect("close");
        n
    })
}

#[test]
fn a_dead_daemons_work_moves_to_the_live_one_which_waits_quietly_meanwhile() {
    let test = "a_dead_daemons_work_moves_to_the_live_one_which_waits_quietly_meanwhile";
    let Some(server) = pg_server(test) else {
        return;
    };
    let Some(sink) = Sink::start(test, &[]) else {
        return;
    };
    const N: usize = 100;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let url = runtime.block_on(fresh_pg_database(&server));
    let p = blast_project(&sink, Some(&url), N, 2);
    // Instance b's mail server takes connections and never answers: b leases every due
    // enrollment, claims what its connections have room for, and hangs on them.
    let hole_port = silent_server();
    let config = std::fs::read_to_string(p.file("config.toml")).expect("config");
    p.write(
        "b.toml",
        config.replace(
            &format!("port = {}", sink.port),
            &format!("port = {hole_port}"),
        ),
    );
    let log_b = std::fs::File::create(p.file("b.log")).expect("b.log");
    let mut b = std::process::Command::new(env!("CARGO_BIN_EXE_drumbeat"))
        .current_dir(p.path())
        .env_remove("DRUMBEAT_CONFIG")
        .env_remove("DRUMBEAT_NOW")
        .env("RUST_LOG", "drumbeat=info")
        .env("NO_COLOR", "1")
        .args(["--config", "b.toml", "run", "--instance", "b"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(log_b)
        .spawn()
        .expect("start instance b");
    let room = drumbeat::daemon::QUEUE_PER_CONNECTION * 2;
    wait_for_store(&url, Duration::from_secs(30), |rows| {
        rows.iter().filter(|r| r.state == "sending").count() >= room
    });

    // Instance a, with a working server, finds everything leased by b, which is alive: it
    // leaves it alone and sleeps instead of spinning.
    let mut a = spawn_daemon(&p, "a", &p.file("a.log"));
    wait_for_store(&url, Duration::from_secs(5), |_| false);
    let before = commits(&url);
    let window = Instant::now();
    wait_for_store(&url, Duration::from_secs(5), |_| false);
    let during = commits(&url) - before;
    let per_second = during as f64 / window.elapsed().as_secs_f64();
    eprintln!(
        "{test}: {during} commits in the database while b held its leases ({per_second:.0}/s)"
    );
    assert!(
        per_second < 60.0,
        "{during} commits in {:?}: a daemon spins on work another holds",
        window.elapsed()
    );
    assert_eq!(sink.messages().len(), 0, "a took none of b's leased work");

    // b dies. Its leases run out; a takes its work over: the claims no server was ready for
    // go back to the queue and out, the rest of b's leases are free again.
    b.kill().expect("SIGKILL instance b");
    b.wait().expect("reap instance b");
    let killed = Instant::now();
    let rows = wait_for_store(&url, Duration::from_secs(90), |rows| {
        rows.len() == N && rows.iter().all(|r| r.state == "sent")
    });
    let took = killed.elapsed();
    let got = sink.wait_for(N, Duration::from_secs(10));
    terminate(&mut a);
    let states = by_state(&rows);
    eprintln!(
        "{test}: all {N} sent {:.1}s after b was killed: {states:?}",
        took.as_secs_f64()
    );
    assert_eq!(states.get("sent").copied(), Some(N), "{states:?}");
    assert_eq!(got.len(), N);
    assert_exactly_once(&got, &rows);
    assert!(
        took <= Duration::from_secs(drumbeat::store::LEASE_SECONDS as u64 + 20),
        "b's work moved only after {took:?}"
    );
}

/// Samples, every 10 ms, the clients connected to the database at `url` other than itself (an
/// autovacuum worker on the database is no client) until `n` touches are sent there (at most
/// `within`): (the most seen at once, touches sent).
fn peak_connections_until_sent(url: &str, n: i64, within: Duration) -> (i64, i64) {
    use sqlx::{Connection, Row};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let mut conn = sqlx::AnyConnection::connect(url)
            .await
            .expect("connect to the test database");
        let (mut peak, mut sent) = (0, 0);
        let deadline = Instant::now() + within;
        while sent < n && Instant::now() < deadline {
            let row = sqlx::query(
                "SELECT (SELECT COUNT(*) FROM pg_stat_activity \
                   WHERE datname = current_database() AND pid <> pg_backend_pid() \
                     AND backend_type = 'client backend')::BIGINT AS c, \
                 (SELECT COUNT(*) FROM touches WHERE state = 'sent')::BIGINT AS s",
            )
            .fetch_one(&mut conn)
            .await
            .expect("pg_stat_activity");
            peak = peak.max(row.try_get::<i64, _>("c").expect("c"));
            sent = row.try_get("s").expect("s");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        (peak, sent)
    })
}

#[test]
fn a_daemon_opens_no_more_connections_than_store_connections() {
    let test = "a_daemon_opens_no_more_connections_than_store_connections";
    let Some(server) = pg_server(test) else {
        return;
    };
    let Some(sink) = Sink::start(test, &[]) else {
        return;
    };
    const N: usize = 300;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let url = runtime.block_on(fresh_pg_database(&server));
    let p = blast_project(&sink, Some(&url), N, 2);
    p.edit("config.toml", "store = ", "store_connections = 2\nstore = ");
    let mut d = spawn_daemon(&p, "a", &p.file("a.log"));
    let (peak, sent) = peak_connections_until_sent(&url, N as i64, Duration::from_secs(120));
    terminate(&mut d);
    let rows = wait_for_store(&url, Duration::ZERO, |_| true);
    let got = sink.wait_for(N, Duration::from_secs(10));
    eprintln!("{test}: {sent} sent with at most {peak} connections to PostgreSQL at once");
    assert_eq!(by_state(&rows).get("sent").copied(), Some(N));
    assert_exactly_once(&got, &rows);
    assert!(
        (1..=2).contains(&peak),
        "store_connections = 2, and the daemon had {peak} connections at once"
    );
}

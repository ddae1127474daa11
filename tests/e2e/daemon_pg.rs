//! Scale-out (DESIGN.md "Scale"): two long-running daemons on one PostgreSQL database share
//! the due touches through leases and `FOR UPDATE SKIP LOCKED`; every touch is sent once.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::daemon_crash::{
    assert_exactly_once, blast_project, by_state, spawn_daemon, wait_for_store,
};
use crate::sink::Sink;
use crate::support::{fresh_pg_database, pg_server};

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

#[test]
fn two_daemons_on_one_postgres_send_a_thousand_touches_once_each() {
    let test = "two_daemons_on_one_postgres_send_a_thousand_touches_once_each";
    let Some(server) = pg_server(test) else {
        return;
    };
    let Some(sink) = Sink::start(test, &[]) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let url = runtime.block_on(fresh_pg_database(&server));
    let p = blast_project(&sink, Some(&url), LEADS, 2);

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
    let states: BTreeMap<String, usize> = by_state(&rows);
    assert_eq!(
        states.get("sent").copied(),
        Some(LEADS),
        "all sent within 120 s: {states:?}"
    );
    assert_eq!(got.len(), LEADS, "the sink has one message per touch");
    assert_exactly_once(&got, &rows);
    let (a, b) = (sent_by(&logs[0]), sent_by(&logs[1]));
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
}

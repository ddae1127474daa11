//! The long-running daemon (`drumbeat run`, real clock) killed with SIGKILL at random moments
//! while it sends to a real SMTP server (Postfix's smtp-sink), and restarted each time:
//! afterwards every touch is sent exactly once or is `uncertain`, and no Message-ID reached the
//! sink twice (DESIGN.md invariant 1). The helpers here also serve daemon_pg.rs.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use drumbeat::daemon::QUEUE_PER_CONNECTION;

use crate::support::Run;
use crate::support::daemon::{
    TouchRow, assert_exactly_once, blast_project, by_state, silent_server, spawn_daemon, touches,
    wait_for_store,
};
use crate::support::sink::Sink;

/// A small xorshift generator: no dependency, and the seed is printed to replay a run.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

const LEADS: usize = 500;
const KILLS: usize = 20;
const CONNECTIONS: u32 = 2;

#[test]
fn daemon_killed_at_random_moments_sends_each_touch_at_most_once() {
    let test = "daemon_killed_at_random_moments_sends_each_touch_at_most_once";
    let Some(sink) = Sink::start(test, &[]) else {
        return;
    };
    let started = Instant::now();
    let p = blast_project(&sink, None, LEADS, CONNECTIONS);
    let url = format!("sqlite://{}", p.file("data/drumbeat.db").display());
    let log = p.file("daemon.log");
    let seed = std::env::var("DRUMBEAT_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("clock after 1970")
                .as_nanos() as u64
                | 1
        });
    eprintln!("{test}: seed {seed} (DRUMBEAT_TEST_SEED={seed} replays the kill times)");
    let mut rng = XorShift(seed);

    // Each kill leaves some touches `sending`; a later start turns exactly those into
    // `uncertain`, and they are never sent again.
    let mut interrupted: HashSet<String> = HashSet::new();
    let mut uncertain_before: HashSet<String> = HashSet::new();
    let mut last_sending = 0;
    for kill in 0..KILLS {
        let after = Duration::from_millis(rng.next() % 300);
        let mut daemon = spawn_daemon(&p, "crash", &log);
        // The kill moment is the point of the test, not a wait for something.
        std::thread::sleep(after);
        daemon.kill().expect("SIGKILL the daemon");
        daemon.wait().expect("reap the daemon");
        let rows = touches(&url);
        let ids = |state: &str| -> HashSet<String> {
            rows.iter()
                .filter(|r| r.state == state)
                .filter_map(|r| r.message_id.clone())
                .collect()
        };
        let (sending, uncertain) = (ids("sending"), ids("uncertain"));
        // Of those, the ones a server may have had: only these may become uncertain.
        let handed: HashSet<String> = rows
            .iter()
            .filter(|r| r.state == "sending" && r.handed)
            .filter_map(|r| r.message_id.clone())
            .collect();
        assert!(
            sending.len() <= QUEUE_PER_CONNECTION * CONNECTIONS as usize,
            "kill {kill}: {} touches were sending with {CONNECTIONS} connections: more than \
             the daemon claims ahead",
            sending.len()
        );
        assert!(
            uncertain_before.is_subset(&uncertain),
            "kill {kill}: an uncertain touch changed state without a person"
        );
        assert!(
            uncertain
                .difference(&uncertain_before)
                .all(|id| interrupted.contains(id)),
            "kill {kill}: a touch became uncertain that no kill interrupted"
        );
        assert!(
            interrupted
                .iter()
                .all(|id| sending.contains(id) || uncertain.contains(id)),
            "kill {kill}: an interrupted send was sent again"
        );
        interrupted.extend(handed.iter().cloned());
        last_sending = sending.len();
        uncertain_before = uncertain;
        eprintln!(
            "{test}: kill {kill:2} after {:3} ms: {:?}, {} at the sink",
            after.as_millis(),
            by_state(&rows),
            sink.messages().len()
        );
    }

    // A last daemon (run --once: everything due now, then exit) finishes the work.
    let mut recovered_once = None;
    for _ in 0..10 {
        let out = p
            .cmd(&["run", "--once", "--json", "--instance", "crash"])
            .env_remove("DRUMBEAT_NOW")
            .output()
            .expect("run --once");
        let run = Run::from_output(out);
        run.code(0);
        let v = run.json();
        recovered_once.get_or_insert(
            v["recovered_uncertain"].as_u64().unwrap_or(0)
                + v["recovered_requeued"].as_u64().unwrap_or(0),
        );
        if v["due"] == 0 {
            break;
        }
    }
    let rows = touches(&url);
    let states = by_state(&rows);
    let uncertain = states.get("uncertain").copied().unwrap_or(0);
    let sent = states.get("sent").copied().unwrap_or(0);
    let uncertain_ids: HashSet<String> = rows
        .iter()
        .filter(|r| r.state == "uncertain")
        .filter_map(|r| r.message_id.clone())
        .collect();
    assert_eq!(
        uncertain_ids, interrupted,
        "exactly the interrupted sends are uncertain: {states:?}"
    );
    assert_eq!(
        recovered_once,
        Some(last_sending as u64),
        "run --once reports the sends the last kill interrupted as recovered (uncertain or requeued)"
    );
    eprintln!(
        "{test}: {sent} sent, {uncertain} uncertain after {KILLS} kills, in {:.1}s",
        started.elapsed().as_secs_f64()
    );

    // Every touch is sent or uncertain, one per lead.
    assert_eq!(rows.len(), LEADS, "one touch per lead: {states:?}");
    assert_eq!(sent + uncertain, LEADS, "{states:?}");
    let leads: HashSet<i64> = rows.iter().map(|r| r.lead).collect();
    assert_eq!(leads.len(), LEADS);
    assert!(
        uncertain <= KILLS * QUEUE_PER_CONNECTION * CONNECTIONS as usize,
        "{uncertain} uncertain touches after {KILLS} kills with {CONNECTIONS} connections: \
         more than were in flight"
    );

    // The sink: every sent message exactly once, nothing twice.
    let got = sink.wait_for(sent, Duration::from_secs(10));
    let at_sink = assert_exactly_once(&got, &rows);
    // What reached the sink beyond the sent touches can only be uncertain ones.
    let sent_ids: HashSet<&str> = rows
        .iter()
        .filter(|r| r.state == "sent")
        .filter_map(|r| r.message_id.as_deref())
        .collect();
    for id in &at_sink {
        assert!(
            sent_ids.contains(id.as_str()) || uncertain_ids.contains(id),
            "{id} reached the sink but is neither sent nor uncertain"
        );
    }
}

#[test]
fn sends_that_reached_no_server_go_back_to_the_queue_after_a_crash_not_to_uncertain() {
    let test = "sends_that_reached_no_server_go_back_to_the_queue_after_a_crash_not_to_uncertain";
    let Some(sink) = Sink::start(test, &[]) else {
        return;
    };
    const N: usize = 40;
    let p = blast_project(&sink, None, N, CONNECTIONS);
    let url = format!("sqlite://{}", p.file("data/drumbeat.db").display());
    // A mail server that is down in the worst way, so the daemon's claims stay `sending`
    // while it waits for a greeting.
    let hole_port = silent_server();
    let real = format!("port = {}", sink.port);
    p.edit("config.toml", &real, &format!("port = {hole_port}"));
    let mut daemon = spawn_daemon(&p, "outage", &p.file("daemon.log"));
    let room = QUEUE_PER_CONNECTION * CONNECTIONS as usize;
    let rows = wait_for_store(&url, Duration::from_secs(30), |rows| {
        rows.iter().filter(|r| r.state == "sending").count() >= room
    });
    daemon.kill().expect("SIGKILL the daemon");
    daemon.wait().expect("reap the daemon");
    let sending: Vec<&TouchRow> = rows.iter().filter(|r| r.state == "sending").collect();
    assert_eq!(sending.len(), room, "{:?}", by_state(&rows));
    assert!(
        sending.iter().all(|r| !r.handed),
        "no server was ready for a body, so none may have the message"
    );

    // The server is back; the same instance starts again.
    p.edit("config.toml", &format!("port = {hole_port}"), &real);
    let mut first = None;
    for _ in 0..10 {
        let v = p
            .ok(&["run", "--once", "--json", "--instance", "outage"])
            .json();
        first.get_or_insert(v.clone());
        if v["due"] == 0 {
            break;
        }
    }
    let first = first.expect("a run");
    assert_eq!(first["recovered_uncertain"], 0, "{first:#}");
    assert_eq!(first["recovered_requeued"], room as u64, "{first:#}");
    let rows = touches(&url);
    let states = by_state(&rows);
    assert_eq!(states.get("sent").copied(), Some(N), "{states:?}");
    let got = sink.wait_for(N, Duration::from_secs(10));
    assert_eq!(got.len(), N);
    assert_exactly_once(&got, &rows);
}

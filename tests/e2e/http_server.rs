//! The daemon's HTTP server itself: health, and JSON errors for unknown paths.

use crate::support::Project;
use crate::support::http::Served;

#[test]
fn healthz_reports_the_store_catalog_and_watchers() {
    let p = Project::shipped();
    let s = Served::start(&p, "http-health");
    let r = s
        .client
        .get(s.url("/healthz"))
        .send()
        .expect("GET /healthz");
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().expect("JSON");
    assert_eq!(v["status"], "ok", "{v:#}");
    assert_eq!(v["store"], "ok", "{v:#}");
    let shipped = std::fs::read_dir(p.file("sequences"))
        .expect("sequences")
        .count();
    assert_eq!(v["catalog"]["sequences"], shipped as u64, "{v:#}");
    assert!(v["inbox_watchers"].is_array(), "{v:#}");
}

#[test]
fn unknown_paths_get_a_json_404() {
    let p = Project::shipped();
    let s = Served::start(&p, "http-errors");
    let r = s.client.get(s.url("/nope")).send().expect("GET");
    assert_eq!(r.status(), 404);
    let v: serde_json::Value = r.json().expect("a JSON error");
    assert_eq!(v["error"], "no such endpoint");
}

/// A process's resident memory in KiB and its open file descriptors.
fn rss_and_fds(pid: u32) -> (u64, usize) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("proc fd")
        .count();
    (rss, fds)
}

/// Holds `n` half-sent requests open against `addr`, opening a new one whenever the server
/// closes one (counted in `closed`), until `stop`, never more than `budget` connections in
/// all.
fn slowloris(
    addr: std::net::SocketAddr,
    n: usize,
    budget: usize,
    stop: &std::sync::atomic::AtomicBool,
    closed: &std::sync::atomic::AtomicUsize,
) {
    use std::io::{Read, Write};
    let mut held: Vec<std::net::TcpStream> = Vec::new();
    let mut opened = 0;
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        while held.len() < n && opened < budget {
            let Ok(mut s) = std::net::TcpStream::connect(addr) else {
                break;
            };
            let _ = s.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ");
            let _ = s.set_nonblocking(true);
            held.push(s);
            opened += 1;
        }
        let mut byte = [0u8; 64];
        held.retain_mut(|s| match s.read(&mut byte) {
            Ok(0) => {
                closed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                false
            }
            Ok(_) => true,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => true,
            Err(_) => {
                closed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                false
            }
        });
        // Pacing of the attack itself (a load generator), not a wait for a result.
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn a_slowloris_attack_starves_neither_health_nor_sending_and_memory_comes_back() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};

    let p = Project::shipped();
    // A sequence whose window is always open, so a lead imported during the attack is sent.
    p.write(
        "sequences/now.yaml",
        "id: now\nname: Now\nmailboxes: [ana]\nwindow:\n  days: [mon-sun]\n  hours: \"00:00-23:59\"\n  timezone: Etc/UTC\n\
         steps:\n  - id: hello\n    wait: 0\n    template: now/hello\n",
    );
    p.write(
        "templates/now/hello.txt",
        "---\nsubject: Hello {{ lead.first_name }}\n---\nHi {{ lead.first_name }}.\n",
    );
    let config = std::fs::read_to_string(p.file("config.toml")).expect("config");
    p.write(
        "config.toml",
        format!("{config}\n[sending]\njitter = \"0\"\n"),
    );
    let s = Served::start(&p, "http-slowloris");
    let pid = s.child.id();
    let addr: std::net::SocketAddr = s
        .base
        .trim_start_matches("http://")
        .parse()
        .expect("the daemon's address");
    for _ in 0..20 {
        s.client.get(s.url("/healthz")).send().expect("warm up");
    }
    let (rss0, fds0) = rss_and_fds(pid);

    let stop = Arc::new(AtomicBool::new(false));
    let closed = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let attack = {
        let (stop, closed) = (stop.clone(), closed.clone());
        std::thread::spawn(move || slowloris(addr, 1000, 20_000, &stop, &closed))
    };
    crate::support::wait_until(
        "1,000 half-open requests held",
        Duration::from_secs(20),
        || rss_and_fds(pid).1 >= fds0 + 1000,
    );
    let (rss_peak, fds_peak) = rss_and_fds(pid);
    // Health answers at once, and a lead imported now is emailed, while the attack goes on.
    let asked = Instant::now();
    let r = s
        .client
        .get(s.url("/healthz"))
        .send()
        .expect("GET /healthz during the attack");
    assert_eq!(r.status(), 200);
    let health_took = asked.elapsed();
    p.write("leads.csv", "Email,First Name\nnew@lead.example,Nia\n");
    p.ok(&["leads", "import", "leads.csv", "--sequence", "now"]);
    crate::support::wait_until(
        "the email sent during the attack",
        Duration::from_secs(30),
        || std::fs::read_dir(p.file("data/outbox")).is_ok_and(|d| d.count() > 0),
    );
    // The server cuts off the slow requests itself (their headers never end).
    crate::support::wait_until(
        "the server closing 1,000 half-sent requests",
        drumbeat::http::server::HEADER_TIMEOUT * 4,
        || closed.load(Ordering::Relaxed) >= 1000,
    );
    stop.store(true, Ordering::Relaxed);
    attack.join().expect("the attack thread");
    let closed_by_server = closed.load(Ordering::Relaxed);
    crate::support::wait_until("the connections closed", Duration::from_secs(40), || {
        rss_and_fds(pid).1 <= fds0 + 5
    });
    // The memory the connections took is handed back within a few seconds.
    let mut rss1 = u64::MAX;
    crate::support::wait_until("memory handed back", Duration::from_secs(20), || {
        rss1 = rss_and_fds(pid).0;
        rss1 <= rss0 + 8 * 1024
    });
    let fds1 = rss_and_fds(pid).1;
    eprintln!(
        "slowloris: fds {fds0} -> {fds_peak} -> {fds1}; RSS {rss0} -> {rss_peak} -> {rss1} KiB; \
         /healthz in {health_took:?}; {closed_by_server} slow requests cut off by the server"
    );
    assert!(health_took < Duration::from_secs(2), "{health_took:?}");
    assert!(closed_by_server >= 1000, "{closed_by_server}");
}

#[test]
fn connections_beyond_the_cap_wait_until_a_slow_one_is_cut_off() {
    use std::io::Write;
    use std::time::{Duration, Instant};

    let p = Project::shipped();
    p.edit("config.toml", "[http]\n", "[http]\nmax_connections = 16\n");
    let s = Served::start(&p, "http-cap");
    let addr: std::net::SocketAddr = s
        .base
        .trim_start_matches("http://")
        .parse()
        .expect("the daemon's address");
    // Sixteen requests that never finish their headers take every slot.
    let held: Vec<std::net::TcpStream> = (0..16)
        .map(|_| {
            let mut c = std::net::TcpStream::connect(addr).expect("connect");
            c.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                .expect("a partial request");
            c
        })
        .collect();
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(40))
        .pool_max_idle_per_host(0)
        .build()
        .expect("a client");
    let asked = Instant::now();
    let r = client.get(s.url("/healthz")).send().expect("GET /healthz");
    let took = asked.elapsed();
    drop(held);
    assert_eq!(r.status(), 200);
    // It waited for a slot: the first one freed when a slow request's header time ran out.
    assert!(
        took >= Duration::from_secs(5),
        "answered after {took:?}: the cap let a 17th connection in"
    );
    assert!(
        took <= drumbeat::http::server::HEADER_TIMEOUT + Duration::from_secs(10),
        "answered only after {took:?}"
    );
}

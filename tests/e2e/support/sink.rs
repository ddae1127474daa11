//! A real SMTP server for the daemon's tests: Postfix's `smtp-sink` on a free loopback port,
//! started per test with the fault options it needs, writing each message it takes to a file.
//! Found through `DRUMBEAT_TEST_SMTP_SINK` (set by scripts/testbed); without it a test skips
//! loudly, and under CI=true it fails.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// One running smtp-sink.
pub struct Sink {
    child: Option<Child>,
    /// Its port on 127.0.0.1.
    pub port: u16,
    dir: TempDir,
    binary: String,
    extra: Vec<String>,
}

/// One message as the sink received it.
#[derive(Debug, Clone)]
pub struct Received {
    /// The (first) envelope recipient (`X-Rcpt-Args`).
    pub rcpt: String,
    /// Every envelope recipient, in RCPT order (a mailbox's `bcc` is the second).
    pub rcpts: Vec<String>,
    /// The message exactly as sent (headers and body), with smtp-sink's own X- lines removed.
    pub raw: Vec<u8>,
}

impl Received {
    /// The parsed message.
    pub fn parsed(&self) -> mail_parser::Message<'_> {
        mail_parser::MessageParser::default()
            .parse(&self.raw)
            .expect("smtp-sink wrote a parseable message")
    }

    /// A header's raw value (first occurrence), unfolded and trimmed.
    pub fn header(&self, name: &str) -> Option<String> {
        let text = String::from_utf8_lossy(&self.raw);
        let head = text
            .split("\r\n\r\n")
            .next()
            .unwrap_or_default()
            .replace("\r\n ", " ")
            .replace("\r\n\t", " ");
        head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }
}

/// The smtp-sink binary, or None after a loud skip (a failure under CI).
pub fn sink_binary(test: &str) -> Option<String> {
    match std::env::var("DRUMBEAT_TEST_SMTP_SINK") {
        Ok(p) if !p.is_empty() => Some(p),
        _ => {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!(
                    "{test}: DRUMBEAT_TEST_SMTP_SINK is not set under CI; scripts/testbed must provide smtp-sink"
                );
            }
            eprintln!(
                "\n*** SKIPPED {test}: no smtp-sink (set DRUMBEAT_TEST_SMTP_SINK, or run scripts/test which installs Postfix's) ***\n"
            );
            None
        }
    }
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

impl Sink {
    /// Starts a sink with extra smtp-sink options (e.g. `["-r", "RCPT"]` to answer 4xx to
    /// RCPT). None when there is no smtp-sink (after a loud skip).
    pub fn start(test: &str, extra: &[&str]) -> Option<Sink> {
        let binary = sink_binary(test)?;
        let dir = tempfile::Builder::new()
            .prefix("drumbeat-sink-")
            .tempdir()
            .expect("sink dir");
        let mut sink = Sink {
            child: None,
            port: free_port(),
            dir,
            binary,
            extra: extra.iter().map(|s| s.to_string()).collect(),
        };
        sink.spawn();
        Some(sink)
    }

    fn spawn(&mut self) {
        let msgs = self.dir.path().join("msgs");
        std::fs::create_dir_all(&msgs).expect("msgs dir");
        let mut cmd = Command::new(&self.binary);
        if is_root() {
            // smtp-sink refuses to run as root; it writes its files as nobody.
            use std::os::unix::fs::PermissionsExt;
            for d in [self.dir.path(), msgs.as_path()] {
                std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o777)).expect("chmod");
            }
            cmd.args(["-u", "nobody"]);
        }
        cmd.args(&self.extra)
            .arg("-d")
            .arg(format!("{}/%Y%m%d%H%M%S.", msgs.display()))
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("256")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = cmd.spawn().expect("start smtp-sink");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "smtp-sink did not listen on {} within 10 s",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the sink (the port stops answering: "server down").
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port, with other options.
    pub fn restart(&mut self, extra: &[&str]) {
        self.stop();
        self.extra = extra.iter().map(|s| s.to_string()).collect();
        self.spawn();
    }

    /// Every message received so far, oldest first: by the time its file was last written (the
    /// end of its DATA), then by name. The name alone only orders by the second: smtp-sink
    /// ends it with a random number, so two messages of one second came back in either order.
    pub fn messages(&self) -> Vec<Received> {
        let mut files: Vec<(Option<std::time::SystemTime>, PathBuf)> =
            walk(&self.dir.path().join("msgs"))
                .into_iter()
                .map(|f| (std::fs::metadata(&f).and_then(|m| m.modified()).ok(), f))
                .collect();
        files.sort();
        files
            .into_iter()
            .filter_map(|(_, f)| {
                let bytes = std::fs::read(&f).ok()?;
                parse_dump(&bytes)
            })
            .collect()
    }

    /// Waits (bounded) until at least `n` messages arrived.
    pub fn wait_for(&self, n: usize, within: Duration) -> Vec<Received> {
        let deadline = Instant::now() + within;
        loop {
            let m = self.messages();
            if m.len() >= n || Instant::now() > deadline {
                return m;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.stop();
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// smtp-sink's dump: its own `X-…` lines (client, HELO, MAIL and RCPT arguments), then the
/// message as received. Messages still being written (no end) are left for the next look.
fn parse_dump(bytes: &[u8]) -> Option<Received> {
    let text = String::from_utf8_lossy(bytes);
    let mut rcpts = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let l = line.trim_end();
        if let Some(v) = l.strip_prefix("X-Rcpt-Args:") {
            rcpts.push(v.trim().trim_matches(['<', '>']).to_string());
        } else if !(l.starts_with("X-Client-")
            || l.starts_with("X-Helo-Args:")
            || l.starts_with("X-Mail-Args:"))
        {
            break;
        }
        offset += line.len();
    }
    let rcpt = rcpts.first()?.clone();
    let mut raw = bytes[offset..].to_vec();
    // smtp-sink ends each dump with an empty line of its own.
    while raw.ends_with(b"\n\n") || raw.ends_with(b"\r\n\r\n") {
        raw.pop();
        if raw.ends_with(b"\r") {
            raw.pop();
        }
    }
    // It writes lines with LF; put the CRLF of the wire back.
    if !raw.windows(2).any(|w| w == b"\r\n") {
        let s = String::from_utf8_lossy(&raw).replace('\n', "\r\n");
        raw = s.into_bytes();
    }
    Some(Received { rcpt, rcpts, raw })
}

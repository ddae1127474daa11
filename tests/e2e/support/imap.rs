//! A real IMAP server for the inbox watcher's tests: the Dovecot that scripts/testbed starts
//! on loopback (DRUMBEAT_TEST_IMAP, DRUMBEAT_TEST_IMAP_PASSWORD). Any user name logs in with
//! the one password, so each test uses its own user and so its own mailbox. Mail "arrives" the
//! way a server delivers it: IMAP APPEND of the exact bytes.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

/// The test server, or None after a loud skip (a failure under CI).
pub fn imap_server(test: &str) -> Option<(String, u16)> {
    match std::env::var("DRUMBEAT_TEST_IMAP") {
        Ok(addr) if !addr.is_empty() => {
            let (host, port) = addr
                .rsplit_once(':')
                .expect("DRUMBEAT_TEST_IMAP is HOST:PORT");
            assert!(
                host == "127.0.0.1" || host == "::1" || host == "[::1]" || host == "localhost",
                "DRUMBEAT_TEST_IMAP must be on loopback, got {addr}"
            );
            Some((host.to_string(), port.parse().expect("port")))
        }
        _ => {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!(
                    "{test}: DRUMBEAT_TEST_IMAP is not set under CI; scripts/testbed must start Dovecot"
                );
            }
            eprintln!(
                "\n*** SKIPPED {test}: no IMAP server (set DRUMBEAT_TEST_IMAP, or run scripts/test which starts Dovecot) ***\n"
            );
            None
        }
    }
}

/// A user name no other test uses.
pub fn fresh_user(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_nanos();
    format!(
        "{}-{}-{nanos}@example.test",
        &test[..test.len().min(20)],
        std::process::id()
    )
}

/// A plain IMAP client with just what tests need.
pub struct Imap {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    tag: u32,
}

impl Imap {
    /// Logs in as `user`.
    pub fn login(server: &(String, u16), user: &str) -> Imap {
        let stream = TcpStream::connect((server.0.as_str(), server.1)).expect("connect to Dovecot");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let writer = stream.try_clone().expect("clone");
        let mut imap = Imap {
            reader: BufReader::new(stream),
            writer,
            tag: 0,
        };
        imap.line(); // greeting
        let password = std::env::var("DRUMBEAT_TEST_IMAP_PASSWORD").unwrap_or_default();
        imap.command(&format!("LOGIN \"{user}\" \"{password}\""));
        imap
    }

    fn line(&mut self) -> String {
        let mut l = String::new();
        self.reader.read_line(&mut l).expect("read from Dovecot");
        l
    }

    /// Runs a command; returns the untagged lines; panics unless it ends OK.
    pub fn command(&mut self, cmd: &str) -> Vec<String> {
        self.tag += 1;
        let tag = format!("t{}", self.tag);
        write!(self.writer, "{tag} {cmd}\r\n").expect("write");
        self.finish(&tag, cmd)
    }

    fn finish(&mut self, tag: &str, cmd: &str) -> Vec<String> {
        let mut out = Vec::new();
        loop {
            let l = self.line();
            assert!(!l.is_empty(), "Dovecot closed the connection during {cmd}");
            if let Some(rest) = l.strip_prefix(&format!("{tag} ")) {
                assert!(rest.starts_with("OK"), "{cmd}: {l}");
                return out;
            }
            out.push(l);
        }
    }

    /// Delivers a message into a folder (creating the folder when needed).
    pub fn append(&mut self, folder: &str, raw: &[u8]) {
        self.tag += 1;
        let tag = format!("t{}", self.tag);
        write!(
            self.writer,
            "{tag} APPEND \"{folder}\" {{{}}}\r\n",
            raw.len()
        )
        .expect("write");
        let cont = self.line();
        assert!(cont.starts_with('+'), "APPEND to {folder}: {cont}");
        self.writer.write_all(raw).expect("write message");
        self.writer.write_all(b"\r\n").expect("write");
        self.finish(&tag, "APPEND");
    }

    /// Creates a folder.
    pub fn create(&mut self, folder: &str) {
        self.command(&format!("CREATE \"{folder}\""));
    }

    /// Deletes a folder (its UIDVALIDITY changes when it is created again).
    pub fn delete(&mut self, folder: &str) {
        self.command(&format!("DELETE \"{folder}\""));
    }

    /// The flags of every message in a folder, to prove the watcher changed nothing.
    pub fn flags(&mut self, folder: &str) -> Vec<String> {
        self.command(&format!("EXAMINE \"{folder}\""));
        self.command("FETCH 1:* (FLAGS)")
            .into_iter()
            .filter(|l| l.contains("FETCH"))
            .collect()
    }
}

impl Drop for Imap {
    fn drop(&mut self) {
        let _ = write!(self.writer, "z LOGOUT\r\n");
    }
}

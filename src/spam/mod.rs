//! Scoring a message with SpamAssassin, as a mail server on the lead's side would
//! (`drumbeat validate --spam`).
//!
//! SpamAssassin is a Perl program with thousands of rules; there is no maintained Rust
//! implementation of it, so we run the real one, `spamassassin -L -t`, as a child process
//! (never through a shell), with local tests only (no network), no Bayes database and no user
//! preferences, so a score depends on the message and the installed rules alone.

mod report;

use std::ffi::OsStr;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

pub use report::{RuleHit, SpamReport, parse};

/// How long one message may take before the scan is given up.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// An installed `spamassassin` program.
#[derive(Debug, Clone)]
pub struct SpamAssassin {
    program: PathBuf,
}

/// Why a message could not be scored.
#[derive(Debug, thiserror::Error)]
pub enum SpamError {
    /// The program could not be started.
    #[error("cannot run {program}: {source}")]
    Start {
        /// The program's path.
        program: String,
        /// Why.
        source: std::io::Error,
    },
    /// It ran past the timeout and was killed.
    #[error("spamassassin took longer than {0:?} and was stopped")]
    Timeout(Duration),
    /// It exited with an error.
    #[error("spamassassin failed ({status}): {stderr}")]
    Failed {
        /// Its exit status.
        status: String,
        /// The end of what it printed on stderr.
        stderr: String,
    },
    /// It printed no report we can read.
    #[error("spamassassin printed no report that can be read; its output began: {0:?}")]
    NoReport(String),
}

impl SpamAssassin {
    /// `spamassassin` from the directories of `PATH`, if one is there.
    pub fn find() -> Option<SpamAssassin> {
        Self::find_in(std::env::var_os("PATH")?.as_os_str())
    }

    /// `spamassassin` from the directories of the `PATH`-like list `path`.
    pub fn find_in(path: &OsStr) -> Option<SpamAssassin> {
        std::env::split_paths(path)
            .map(|dir| dir.join("spamassassin"))
            .find(|p| is_executable(p))
            .map(|program| SpamAssassin { program })
    }

    /// The program's path.
    pub fn program(&self) -> &Path {
        &self.program
    }

    /// Scores one RFC 5322 message; stops the program after `timeout`.
    pub fn score(&self, message: &[u8], timeout: Duration) -> Result<SpamReport, SpamError> {
        let out = self.run(message, timeout)?;
        let text = String::from_utf8_lossy(&out);
        parse(&text).ok_or_else(|| {
            SpamError::NoReport(
                text.chars()
                    .take(200)
                    .collect::<String>()
                    .trim()
                    .to_string(),
            )
        })
    }

    /// Runs `spamassassin -L -t` on `message` and returns its stdout.
    fn run(&self, message: &[u8], timeout: Duration) -> Result<Vec<u8>, SpamError> {
        let start_error = |source| SpamError::Start {
            program: self.program.display().to_string(),
            source,
        };
        // The message from a file, not a pipe: a child that stops reading early cannot make
        // our write fail (or, with SIGPIPE at its default, end drumbeat).
        let mut input = tempfile::tempfile().map_err(start_error)?;
        input
            .write_all(message)
            .and_then(|()| input.seek(SeekFrom::Start(0)).map(drop))
            .map_err(start_error)?;
        let mut child = Command::new(&self.program)
            // Local tests only; report appended (-t); no user_prefs read or created; no Bayes
            // (a rep's own trained database would make scores differ from machine to machine).
            .args(["-L", "-t", "-x", "-p", "/dev/null", "--cf=use_bayes 0"])
            // The report's words are parsed: keep them in English.
            .env("LC_ALL", "C")
            .env("LANG", "C")
            .stdin(Stdio::from(input))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(start_error)?;
        // Drain stdout and stderr on their own threads, so no pipe fills up while we wait.
        let stdout = drain(child.stdout.take());
        let stderr = drain(child.stderr.take());
        let deadline = Instant::now() + timeout;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() >= deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(SpamError::Timeout(timeout));
                }
                Ok(None) => thread::sleep(Duration::from_millis(20)),
                Err(source) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(start_error(source));
                }
            }
        };
        let out = stdout.join().unwrap_or_default();
        let err = stderr.join().unwrap_or_default();
        if !status.success() {
            let err = String::from_utf8_lossy(&err);
            let tail: Vec<&str> = err.lines().rev().take(5).collect();
            return Err(SpamError::Failed {
                status: status.to_string(),
                stderr: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
            });
        }
        Ok(out)
    }
}

/// Reads a child's pipe to its end on a thread of its own.
fn drain(pipe: Option<impl Read + Send + 'static>) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut buf);
        }
        buf
    })
}

#[cfg(unix)]
fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(p: &Path) -> bool {
    p.is_file()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn find_in_skips_directories_without_the_program() {
        let dir = std::env::temp_dir().join(format!("drumbeat-spam-find-{}", std::process::id()));
        let bin = dir.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let empty = dir.join("empty");
        std::fs::create_dir_all(&empty).unwrap();
        let path = std::env::join_paths([&empty, &bin]).unwrap();
        assert!(SpamAssassin::find_in(&path).is_none());
        let program = bin.join("spamassassin");
        std::fs::write(&program, "#!/bin/sh\n").unwrap();
        assert!(SpamAssassin::find_in(&path).is_none(), "not executable");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
        let found = SpamAssassin::find_in(&path).expect("found");
        assert_eq!(found.program(), program);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

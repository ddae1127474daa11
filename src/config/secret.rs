//! Secrets (SMTP and IMAP passwords, OAuth tokens, signing keys): named in config.toml by where
//! to read them from, never written inline, and never printed.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::{self, Deserializer};

/// Where a secret comes from.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// An environment variable of the daemon.
    Env(String),
    /// A file (its content, trailing newline removed). Relative paths are relative to config.toml.
    File(PathBuf),
    /// A systemd credential: `$CREDENTIALS_DIRECTORY/NAME` (see `LoadCredential=`).
    Credential(String),
    /// The standard output of a command run with `sh -c`, read each time the secret is needed:
    /// for OAuth2 access tokens that a helper refreshes (`oauth2-token ben@example.com`).
    Command(String),
}

/// A secret's value. Its `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// A secret obtained at run time (an OAuth2 access token), kept as carefully as one read
    /// from config.
    pub fn new(value: String) -> Secret {
        Secret(value)
    }

    /// The value, for the one place that must hand it to a server.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// A secret that could not be read; says where we looked, never what we found.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct SecretError(String);

impl SecretSource {
    /// Reads the secret now. `config_dir` anchors relative file paths.
    pub fn resolve(&self, config_dir: &Path) -> Result<Secret, SecretError> {
        let value = match self {
            SecretSource::Env(name) => std::env::var(name)
                .map_err(|_| SecretError(format!("environment variable {name} is not set")))?,
            SecretSource::File(path) => {
                let path = config_dir.join(path);
                std::fs::read_to_string(&path).map_err(|e| {
                    SecretError(format!("cannot read secret file {}: {e}", path.display()))
                })?
            }
            SecretSource::Credential(name) => {
                let dir = std::env::var_os("CREDENTIALS_DIRECTORY").ok_or_else(|| {
                    SecretError(format!(
                        "credential {name:?}: $CREDENTIALS_DIRECTORY is not set (run under systemd with LoadCredential={name}:…)"
                    ))
                })?;
                let path = Path::new(&dir).join(name);
                std::fs::read_to_string(&path).map_err(|e| {
                    SecretError(format!(
                        "cannot read credential {name:?} at {}: {e}",
                        path.display()
                    ))
                })?
            }
            SecretSource::Command(cmd) => {
                let out = std::process::Command::new("sh")
                    .arg("-c")
                    .arg(cmd)
                    .current_dir(config_dir)
                    .stdin(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .output()
                    .map_err(|e| SecretError(format!("cannot run secret command {cmd:?}: {e}")))?;
                if !out.status.success() {
                    return Err(SecretError(format!(
                        "secret command {cmd:?} failed ({})",
                        out.status
                    )));
                }
                String::from_utf8(out.stdout).map_err(|_| {
                    SecretError(format!(
                        "secret command {cmd:?} printed something not UTF-8"
                    ))
                })?
            }
        };
        let value = value.trim_end_matches(['\r', '\n']).to_string();
        if value.is_empty() {
            return Err(SecretError(format!("{self} is empty")));
        }
        Ok(Secret(value))
    }
}

impl fmt::Display for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretSource::Env(name) => write!(f, "env {name}"),
            SecretSource::File(path) => write!(f, "file {}", path.display()),
            SecretSource::Credential(name) => write!(f, "credential {name}"),
            SecretSource::Command(cmd) => write!(f, "command {cmd:?}"),
        }
    }
}

impl fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretSource({self})")
    }
}

impl<'de> Deserialize<'de> for SecretSource {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Table {
            env: Option<String>,
            file: Option<PathBuf>,
            credential: Option<String>,
            command: Option<String>,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Inline(
                #[expect(dead_code, reason = "only its presence matters: it is refused")] String,
            ),
            Table(Table),
        }
        let raw = Raw::deserialize(deserializer).map_err(|_| {
            de::Error::custom(
                "a secret is a table: { env = \"VAR\" }, { file = \"path\" }, { credential = \"name\" } or { command = \"…\" }",
            )
        })?;
        match raw {
            Raw::Inline(_) => Err(de::Error::custom(
                "secrets are not written inline in config.toml; use { env = \"VAR\" }, { file = \"path\" } or { credential = \"name\" } (systemd LoadCredential)",
            )),
            Raw::Table(t) => match (t.env, t.file, t.credential, t.command) {
                (Some(v), None, None, None) if !v.is_empty() => Ok(SecretSource::Env(v)),
                (None, Some(p), None, None) => Ok(SecretSource::File(p)),
                (None, None, Some(c), None) if !c.is_empty() => Ok(SecretSource::Credential(c)),
                (None, None, None, Some(c)) if !c.trim().is_empty() => Ok(SecretSource::Command(c)),
                _ => Err(de::Error::custom(
                    "a secret names exactly one source: env, file, credential or command",
                )),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_value_never_shows_in_debug() {
        let s = Secret("hunter2".into());
        assert_eq!(format!("{s:?}"), "Secret(***)");
    }

    #[test]
    fn file_secret_is_read_relative_to_config_and_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pw"), "s3cret\n").unwrap();
        let src = SecretSource::File("pw".into());
        assert_eq!(src.resolve(dir.path()).unwrap().expose(), "s3cret");
    }

    #[test]
    fn command_secret_is_its_output_and_a_failing_command_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let ok = SecretSource::Command("printf 'tok\\n'".into());
        assert_eq!(ok.resolve(dir.path()).unwrap().expose(), "tok");
        let bad = SecretSource::Command("exit 3".into());
        let err = bad.resolve(dir.path()).unwrap_err().to_string();
        assert!(err.contains("failed"), "{err}");
    }

    #[test]
    fn missing_credentials_directory_is_explained() {
        let src = SecretSource::Credential("no-such-credential-xyz".into());
        // CREDENTIALS_DIRECTORY is not set in tests.
        if std::env::var_os("CREDENTIALS_DIRECTORY").is_none() {
            let err = src.resolve(Path::new(".")).unwrap_err();
            assert!(err.to_string().contains("CREDENTIALS_DIRECTORY"), "{err}");
        }
    }
}

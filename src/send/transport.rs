//! How a built message leaves a mailbox: over SMTP (see [`super::smtp`]), or as an `.eml` file
//! in an outbox folder. Both answer with a [`Delivery`] that says what the daemon may do next.

use std::io::Write;
use std::path::{Path, PathBuf};

use lettre::message::dkim::{
    DkimCanonicalization, DkimCanonicalizationType, DkimConfig, DkimSigningAlgorithm,
    DkimSigningKey,
};
use lettre::message::header::HeaderName;

use super::smtp::SmtpPool;
use crate::config::{Config, DkimAlgorithm, Mailbox, Transport};

/// What became of one hand-over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// The server took it (2xx), or the file is in the outbox.
    Accepted {
        /// The server's answer.
        response: String,
    },
    /// Not handed over (4xx, or no connection): try again later with the same Message-ID.
    Retry {
        /// Why.
        reason: String,
    },
    /// Refused for good (5xx).
    Rejected {
        /// The server's answer.
        reason: String,
        /// The enhanced (`5.1.1`) or basic (`550`) code.
        code: Option<String>,
        /// Why, in the bounce taxonomy, when the refusal is about this message to this
        /// recipient (`None`: our own setup failed, e.g. an address SMTP cannot carry).
        bounce: Option<crate::bounce::Reason>,
    },
    /// Handed over, but no answer came: the server may or may not have it.
    Uncertain {
        /// What happened.
        reason: String,
    },
}

/// Asked by a transport once a server is ready for a message's body, for a message claimed
/// while the mailbox's server was not known to be reachable: the store then records that the
/// server may have it (a crash before this leaves the message known unsent, after it
/// uncertain). `false` means the claim is no longer the sender's (another daemon took its work
/// over): nothing is sent.
pub trait HandOver: Send + Sync {
    /// Records the hand-over about to happen; true when the body may go.
    fn before_body(&self)
    -> std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send + '_>>;
}

/// A mailbox's way out.
pub enum MailTransport {
    /// `.eml` files in a folder.
    Outbox(PathBuf),
    /// SMTP.
    Smtp(Box<SmtpPool>),
}

impl MailTransport {
    /// The transport a mailbox's config asks for.
    pub fn for_mailbox(config: &Config, m: &Mailbox) -> MailTransport {
        match &m.transport {
            Transport::Outbox { dir } => MailTransport::Outbox(dir.clone()),
            Transport::Smtp(s) => {
                let pool = SmtpPool::new(
                    s.clone(),
                    m.from.to_string(),
                    config.dir.clone(),
                    m.pacing.connections,
                );
                MailTransport::Smtp(Box::new(match super::oauth::for_mailbox(m, &config.dir) {
                    Some(tokens) => pool.with_oauth(tokens),
                    None => pool,
                }))
            }
        }
    }

    /// Whether a message claimed now may reach the server before anything else is known
    /// (see [`SmtpPool::ready`]); an outbox folder always is.
    pub fn ready(&self) -> bool {
        match self {
            MailTransport::Smtp(pool) => pool.ready(),
            MailTransport::Outbox(_) => true,
        }
    }

    /// Hands one message over to `to`, and to `bcc` as a second envelope recipient when given
    /// (`hand_over`: see [`HandOver`]). An outbox records such an envelope in a `.envelope`
    /// file beside the `.eml` (MAIL FROM and RCPT TO lines).
    pub async fn deliver(
        &self,
        (from, to, bcc): (&str, &str, Option<&str>),
        message_id: &str,
        bytes: &[u8],
        hand_over: Option<&dyn HandOver>,
    ) -> Delivery {
        match self {
            MailTransport::Smtp(pool) => pool.deliver((from, to, bcc), bytes, hand_over).await,
            MailTransport::Outbox(dir) => {
                if let Some(h) = hand_over
                    && !h.before_body().await
                {
                    return Delivery::Retry {
                        reason: "the claim could not be marked handed over; nothing was written"
                            .into(),
                    };
                }
                let dir = dir.clone();
                let name = outbox_name(message_id);
                let bytes = bytes.to_vec();
                let envelope = bcc.map(|b| envelope_text(from, &[to, b]));
                let write = move || {
                    if let Some(env) = envelope {
                        write_outbox(&dir, &envelope_name(&name), env.as_bytes())?;
                    }
                    write_outbox(&dir, &name, &bytes)
                };
                match tokio::task::spawn_blocking(write).await {
                    Ok(Ok(path)) => Delivery::Accepted {
                        response: format!("written to {}", path.display()),
                    },
                    Ok(Err(e)) => Delivery::Retry {
                        reason: format!("cannot write to the outbox: {e}"),
                    },
                    Err(e) => Delivery::Retry {
                        reason: format!("outbox writer failed: {e}"),
                    },
                }
            }
        }
    }

    /// Closes connections.
    pub async fn close(&self) {
        if let MailTransport::Smtp(pool) = self {
            pool.close().await;
        }
    }
}

/// The outbox file of a message: named by its Message-ID, so writing it again (a retry after
/// an uncertain hand-over) replaces the same file instead of making a second email.
fn outbox_name(message_id: &str) -> String {
    let id: String = message_id
        .trim_matches(['<', '>'])
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_@".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{id}.eml")
}

/// The envelope file beside an outbox message (`NAME.envelope` for `NAME.eml`).
fn envelope_name(eml: &str) -> String {
    format!("{}.envelope", eml.trim_end_matches(".eml"))
}

/// An envelope as SMTP would say it: one `MAIL FROM:<…>` line, then one `RCPT TO:<…>` line per
/// recipient.
fn envelope_text(from: &str, rcpt: &[&str]) -> String {
    let mut out = format!("MAIL FROM:<{from}>\n");
    for r in rcpt {
        out.push_str(&format!("RCPT TO:<{r}>\n"));
    }
    out
}

/// Writes the file whole or not at all: to a temporary name, flushed, then renamed.
fn write_outbox(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(name);
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}

/// The DKIM signer of a mailbox, when it has a key. Errors name the mailbox and the key's
/// source, never the key.
pub fn dkim_signer(config: &Config, m: &Mailbox) -> Result<Option<DkimConfig>, String> {
    let Some(d) = &m.dkim else {
        return Ok(None);
    };
    let key = d
        .key
        .resolve(&config.dir)
        .map_err(|e| format!("mailbox {:?}: DKIM key: {e}", m.name))?;
    let algorithm = match d.algorithm {
        DkimAlgorithm::Rsa => DkimSigningAlgorithm::Rsa,
        DkimAlgorithm::Ed25519 => DkimSigningAlgorithm::Ed25519,
    };
    let key = DkimSigningKey::new(key.expose(), algorithm).map_err(|_| {
        format!(
            "mailbox {:?}: the DKIM key from {} is not a valid {} key (RSA keys are PKCS#1 PEM, \"BEGIN RSA PRIVATE KEY\"; convert with `openssl rsa -in key.pem -traditional`)",
            m.name,
            d.key,
            match d.algorithm {
                DkimAlgorithm::Rsa => "RSA",
                DkimAlgorithm::Ed25519 => "Ed25519",
            }
        )
    })?;
    let headers = [
        "From",
        "To",
        "Subject",
        "Date",
        "Message-ID",
        "List-Unsubscribe",
        "MIME-Version",
        "Content-Type",
    ]
    .into_iter()
    .map(HeaderName::new_from_ascii_str)
    .collect();
    Ok(Some(DkimConfig::new(
        d.selector.clone(),
        d.domain
            .clone()
            .unwrap_or_else(|| m.from.domain().to_string()),
        key,
        headers,
        DkimCanonicalization {
            header: DkimCanonicalizationType::Relaxed,
            body: DkimCanonicalizationType::Relaxed,
        },
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outbox_file_is_named_by_message_id_and_safe() {
        assert_eq!(outbox_name("<abc.1@example.com>"), "abc.1@example.com.eml");
        assert_eq!(outbox_name("<../../etc/x@y>"), ".._.._etc_x@y.eml");
    }

    #[tokio::test]
    async fn outbox_writes_the_exact_bytes_once_per_message_id() {
        let dir = tempfile::tempdir().unwrap();
        let t = MailTransport::Outbox(dir.path().join("out"));
        let d = t
            .deliver(
                ("a@x.test", "b@y.test", None),
                "<m1@x.test>",
                b"hello\r\n",
                None,
            )
            .await;
        assert!(matches!(d, Delivery::Accepted { .. }), "{d:?}");
        let d = t
            .deliver(
                ("a@x.test", "b@y.test", None),
                "<m1@x.test>",
                b"hello\r\n",
                None,
            )
            .await;
        assert!(matches!(d, Delivery::Accepted { .. }), "{d:?}");
        let files: Vec<_> = std::fs::read_dir(dir.path().join("out")).unwrap().collect();
        assert_eq!(files.len(), 1);
        assert_eq!(
            std::fs::read(dir.path().join("out/m1@x.test.eml")).unwrap(),
            b"hello\r\n"
        );
    }

    #[tokio::test]
    async fn outbox_records_the_bcc_in_an_envelope_file_not_in_the_message() {
        let dir = tempfile::tempdir().unwrap();
        let t = MailTransport::Outbox(dir.path().join("out"));
        let d = t
            .deliver(
                ("a@x.test", "b@y.test", Some("123@bcc.hubspot.com")),
                "<m2@x.test>",
                b"To: b@y.test\r\n\r\nhi\r\n",
                None,
            )
            .await;
        assert!(matches!(d, Delivery::Accepted { .. }), "{d:?}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("out/m2@x.test.envelope")).unwrap(),
            "MAIL FROM:<a@x.test>\nRCPT TO:<b@y.test>\nRCPT TO:<123@bcc.hubspot.com>\n"
        );
        let eml = std::fs::read_to_string(dir.path().join("out/m2@x.test.eml")).unwrap();
        assert!(!eml.to_ascii_lowercase().contains("bcc"), "{eml}");
    }
}

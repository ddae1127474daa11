//! The bcc's RCPT against a small scripted SMTP server on loopback: both recipients go in one
//! transaction, and a server that refuses the logging address alone still gets the email for
//! the lead (pipelined or not).

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use super::SmtpPool;
use crate::config::{AuthMethod, Security, SmtpSettings};
use crate::send::transport::Delivery;

/// Serves one connection: 550 to RCPT of `refuse`, 250 to the rest; records every command.
async fn server(pipelining: bool, refuse: &'static str) -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        let (sock, _) = listener.accept().await.unwrap();
        let (r, mut w) = sock.into_split();
        let mut lines = BufReader::new(r).lines();
        w.write_all(b"220 test ESMTP\r\n").await.unwrap();
        let mut in_data = false;
        while let Ok(Some(line)) = lines.next_line().await {
            if in_data {
                if line == "." {
                    in_data = false;
                    w.write_all(b"250 2.0.0 queued\r\n").await.unwrap();
                }
                continue;
            }
            log.lock().unwrap().push(line.clone());
            let upper = line.to_ascii_uppercase();
            let answer: &[u8] = if upper.starts_with("EHLO") {
                if pipelining {
                    b"250-test\r\n250 PIPELINING\r\n"
                } else {
                    b"250 test\r\n"
                }
            } else if upper.starts_with("RCPT") && line.contains(refuse) {
                b"550 5.1.1 no such user\r\n"
            } else if upper.starts_with("DATA") {
                in_data = true;
                b"354 go on\r\n"
            } else if upper.starts_with("QUIT") {
                b"221 bye\r\n"
            } else {
                b"250 ok\r\n"
            };
            w.write_all(answer).await.unwrap();
        }
    });
    (port, seen)
}

fn pool(port: u16) -> SmtpPool {
    let settings = SmtpSettings {
        host: "127.0.0.1".into(),
        port: Some(port),
        security: Security::None,
        username: None,
        auth: AuthMethod::Password,
        password: None,
    };
    SmtpPool::new(settings, "rep@x.test".into(), ".".into(), 1)
}

async fn send(pipelining: bool, refuse: &'static str) -> (Delivery, Vec<String>) {
    let (port, seen) = server(pipelining, refuse).await;
    let pool = pool(port);
    let d = pool
        .deliver(
            ("rep@x.test", "lead@y.test", Some("123@bcc.crm.test")),
            b"Subject: hi\r\n\r\nhello\r\n",
            None,
        )
        .await;
    pool.close().await;
    let rcpts = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.to_ascii_uppercase().starts_with("RCPT"))
        .cloned()
        .collect();
    (d, rcpts)
}

#[tokio::test]
async fn the_bcc_is_a_second_rcpt_of_the_same_transaction() {
    for pipelining in [true, false] {
        let (d, rcpts) = send(pipelining, "nobody@").await;
        assert!(matches!(d, Delivery::Accepted { .. }), "{d:?}");
        assert_eq!(
            rcpts,
            ["RCPT TO:<lead@y.test>", "RCPT TO:<123@bcc.crm.test>"],
            "pipelining {pipelining}"
        );
    }
}

#[tokio::test]
async fn a_refused_bcc_does_not_hold_the_email_back() {
    for pipelining in [true, false] {
        let (d, _) = send(pipelining, "bcc.crm.test").await;
        assert!(
            matches!(d, Delivery::Accepted { .. }),
            "pipelining {pipelining}: {d:?}"
        );
    }
}

#[tokio::test]
async fn a_refused_lead_is_still_a_rejection() {
    let (d, _) = send(true, "lead@y.test").await;
    assert!(matches!(d, Delivery::Rejected { .. }), "{d:?}");
}

//! The token cache against a token endpoint on loopback that answers what each test scripts.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

/// A token endpoint on 127.0.0.1: the n-th request (from 0) gets `answer(n, body)`.
async fn endpoint(
    answer: impl Fn(usize, &str) -> (u16, String) + Send + Sync + 'static,
) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/token", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            // Headers, then a body of Content-Length bytes.
            let body = loop {
                let n = s.read(&mut chunk).await.unwrap_or(0);
                if n == 0 {
                    break String::new();
                }
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let len = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if body.len() >= len {
                        break body.to_string();
                    }
                }
            };
            let n = seen.fetch_add(1, Ordering::SeqCst);
            let (status, json) = answer(n, &body);
            let resp = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{json}",
                json.len()
            );
            let _ = s.write_all(resp.as_bytes()).await;
        }
    });
    (url, count)
}

fn settings(url: &str, refresh: &Path) -> OAuthSettings {
    OAuthSettings {
        provider: None,
        token_url: url.to_string(),
        device_url: Some(url.to_string()),
        auth_url: None,
        scope: String::new(),
        client_id: "cid".into(),
        client_secret: None,
        refresh_token: SecretSource::File(refresh.to_path_buf()),
    }
}

#[tokio::test]
async fn tokens_are_refreshed_once_ahead_of_expiry_and_shared() {
    let dir = tempfile::tempdir().unwrap();
    let rt = dir.path().join("rt");
    std::fs::write(&rt, "refresh-1\n").unwrap();
    let (url, count) = endpoint(|n, body| {
        assert!(
            body.contains("grant_type=refresh_token") && body.contains("refresh_token=refresh-1"),
            "{body}"
        );
        (
            200,
            format!(r#"{{"access_token":"access-{n}","expires_in":100,"token_type":"Bearer"}}"#),
        )
    })
    .await;
    let cache = TokenCache::new("ana", settings(&url, &rt), dir.path());
    let t0 = Instant::now();
    // Single flight: two callers at once, one refresh.
    let (a, b) = tokio::join!(cache.access_token_at(t0), cache.access_token_at(t0));
    assert_eq!(
        (a.unwrap().expose(), b.unwrap().expose()),
        ("access-0", "access-0")
    );
    // Lifetime 100 s: a tenth (10 s) before expiry it is replaced, not after.
    let t = cache
        .access_token_at(t0 + Duration::from_secs(89))
        .await
        .unwrap();
    assert_eq!(t.expose(), "access-0");
    assert_eq!(count.load(Ordering::SeqCst), 1);
    let t = cache
        .access_token_at(t0 + Duration::from_secs(91))
        .await
        .unwrap();
    assert_eq!(t.expose(), "access-1");
    assert_eq!(
        (count.load(Ordering::SeqCst), cache.refreshes().await),
        (2, 2)
    );
}

#[tokio::test]
async fn a_rotated_refresh_token_is_written_back_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    let rt = dir.path().join("rt");
    std::fs::write(&rt, "refresh-1\n").unwrap();
    let (url, _) = endpoint(|_, _| {
        (
            200,
            r#"{"access_token":"a","expires_in":3600,"refresh_token":"refresh-2"}"#.into(),
        )
    })
    .await;
    let cache = TokenCache::new("ana", settings(&url, &rt), dir.path());
    cache.access_token().await.unwrap();
    assert_eq!(std::fs::read_to_string(&rt).unwrap(), "refresh-2\n");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&rt).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}

#[tokio::test]
async fn invalid_grant_asks_for_drumbeat_auth_and_does_not_spin() {
    let dir = tempfile::tempdir().unwrap();
    let rt = dir.path().join("rt");
    std::fs::write(&rt, "revoked-secret-value\n").unwrap();
    let (url, count) = endpoint(|_, body| {
        if body.contains("revoked") {
            (400, r#"{"error":"invalid_grant","error_description":"Token has been expired or revoked."}"#.into())
        } else {
            (200, r#"{"access_token":"fresh","expires_in":3600}"#.into())
        }
    })
    .await;
    let cache = TokenCache::new("ana", settings(&url, &rt), dir.path());
    let e = cache.access_token().await.unwrap_err();
    let OAuthError::NeedsAuth(msg) = &e else {
        panic!("{e:?}")
    };
    assert!(
        msg.contains("drumbeat auth ana") && msg.contains("invalid_grant"),
        "{msg}"
    );
    assert!(!msg.contains("revoked-secret-value"), "{msg}");
    // Asked again: the same refusal, without asking the provider again.
    assert!(matches!(
        cache.access_token().await,
        Err(OAuthError::NeedsAuth(_))
    ));
    assert_eq!(count.load(Ordering::SeqCst), 1);
    // A new refresh token (what `drumbeat auth` writes) is tried.
    std::fs::write(&rt, "good\n").unwrap();
    assert_eq!(cache.access_token().await.unwrap().expose(), "fresh");
}

#[test]
fn form_encoding_escapes_reserved_characters() {
    assert_eq!(form(&[("a b", "x&y=z/é")]), "a+b=x%26y%3Dz%2F%C3%A9");
}

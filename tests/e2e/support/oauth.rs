//! A local OAuth2 provider on 127.0.0.1 (device authorization and token endpoints, RFC 8628
//! and RFC 6749), and an SMTP server that accepts AUTH XOAUTH2 only with a bearer token the
//! provider issued and that has not expired.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;

/// What the provider has issued and seen.
#[derive(Default)]
pub struct State {
    /// Polls of the token endpoint with the device code.
    pub device_polls: usize,
    /// Refresh-token grants answered with a new access token.
    pub refreshes: usize,
    /// Refresh tokens it accepts.
    pub refresh_tokens: Vec<String>,
    /// Access tokens and when they expire.
    pub access_tokens: HashMap<String, Instant>,
    /// Lifetime of the access tokens it issues.
    pub expires_in: u64,
    /// Bodies of the token requests, in order.
    pub requests: Vec<String>,
    /// The user whose tokens it issues (what introspection answers).
    pub username: String,
    /// Introspection requests (RFC 7662) answered.
    pub introspections: usize,
    /// Codes handed out by the authorization endpoint, with the PKCE challenge and the
    /// redirect address each was asked with.
    pub codes: HashMap<String, (String, String)>,
    /// The authorization endpoint answers with `error=access_denied` (the person declined).
    pub deny: bool,
}

/// The provider.
pub struct OAuthServer {
    pub url: String,
    pub state: Arc<Mutex<State>>,
}

fn form(body: &str) -> HashMap<String, String> {
    body.split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| {
            let v = v.replace('+', " ");
            let mut out = Vec::new();
            let b = v.as_bytes();
            let mut i = 0;
            while i < b.len() {
                if b[i] == b'%' && i + 2 < b.len() + 1 {
                    out.push(u8::from_str_radix(&v[i + 1..i + 3], 16).unwrap_or(b'?'));
                    i += 3;
                } else {
                    out.push(b[i]);
                    i += 1;
                }
            }
            (k.to_string(), String::from_utf8_lossy(&out).into_owned())
        })
        .collect()
}

impl OAuthServer {
    /// Starts it; access tokens live `expires_in` seconds. `refresh_tokens` are accepted from
    /// the start (others get `invalid_grant`).
    pub fn start(expires_in: u64, refresh_tokens: &[&str]) -> OAuthServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let state = Arc::new(Mutex::new(State {
            expires_in,
            refresh_tokens: refresh_tokens.iter().map(|s| s.to_string()).collect(),
            ..State::default()
        }));
        let (s2, base) = (state.clone(), url.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let (path, body) = read_request(&stream);
                if let Some(query) = path.strip_prefix("/authorize?") {
                    let location = authorize(&s2, &form(query));
                    let _ = write!(
                        stream,
                        "HTTP/1.1 302 Found\r\nlocation: {location}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                    );
                    continue;
                }
                let (status, json) = answer(&s2, &base, &path, &form(&body), &body);
                let mut stream = stream;
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{json}",
                    json.len()
                );
            }
        });
        OAuthServer { url, state }
    }

    pub fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("state lock")
    }
}

fn read_request(stream: &TcpStream) -> (String, String) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    let _ = reader.read_line(&mut line);
    let path = line.split(' ').nth(1).unwrap_or_default().to_string();
    let mut len = 0;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).is_err() || h.trim_end().is_empty() {
            break;
        }
        if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; len];
    let _ = reader.read_exact(&mut body);
    (path, String::from_utf8_lossy(&body).into_owned())
}

/// The authorization endpoint (RFC 6749 §4.1.1): the person signs in at once; the browser is
/// sent back to `redirect_uri` with a code tied to the PKCE challenge, or with the refusal.
fn authorize(state: &Mutex<State>, q: &HashMap<String, String>) -> String {
    let mut s = state.lock().expect("state lock");
    let field = |k: &str| q.get(k).cloned().unwrap_or_default();
    let back = field("redirect_uri");
    let st = field("state");
    if s.deny {
        return format!("{back}/?error=access_denied&state={st}");
    }
    assert_eq!(field("response_type"), "code");
    assert_eq!(field("code_challenge_method"), "S256");
    assert_eq!(field("client_id"), "drumbeat-test");
    let code = format!("auth-code-{}", s.codes.len() + 1);
    s.codes
        .insert(code.clone(), (field("code_challenge"), back.clone()));
    format!("{back}/?state={st}&code={code}&scope=mail")
}

fn answer(
    state: &Mutex<State>,
    base: &str,
    path: &str,
    f: &HashMap<String, String>,
    body: &str,
) -> (u16, String) {
    let mut s = state.lock().expect("state lock");
    let field = |k: &str| f.get(k).map(String::as_str).unwrap_or_default();
    if path == "/device" {
        return (
            200,
            format!(
                r#"{{"device_code":"dev-code-1","user_code":"WDJB-MJHT","verification_uri":"{base}/activate","expires_in":60,"interval":0}}"#
            ),
        );
    }
    if path == "/introspect" {
        s.introspections += 1;
        let live = s
            .access_tokens
            .get(field("token"))
            .is_some_and(|exp| Instant::now() < *exp);
        return if live {
            (
                200,
                format!(r#"{{"active":true,"username":"{}"}}"#, s.username),
            )
        } else {
            (200, r#"{"active":false}"#.to_string())
        };
    }
    s.requests.push(body.to_string());
    let error = |e: &str| {
        (
            400,
            format!(r#"{{"error":"{e}","error_description":"{e} from the test server"}}"#),
        )
    };
    match field("grant_type") {
        "urn:ietf:params:oauth:grant-type:device_code" if field("device_code") == "dev-code-1" => {
            s.device_polls += 1;
            // Pending at the first poll; the person approves meanwhile.
            if s.device_polls == 1 {
                return error("authorization_pending");
            }
            let rt = format!("refresh-from-device-{}", s.device_polls);
            s.refresh_tokens.push(rt.clone());
            (
                200,
                format!(
                    r#"{{"access_token":"unused","expires_in":3600,"refresh_token":"{rt}","token_type":"Bearer"}}"#
                ),
            )
        }
        "refresh_token" if s.refresh_tokens.iter().any(|t| t == field("refresh_token")) => {
            s.refreshes += 1;
            let token = format!("access-{}", s.refreshes);
            let life = s.expires_in;
            s.access_tokens
                .insert(token.clone(), Instant::now() + Duration::from_secs(life));
            (
                200,
                format!(
                    r#"{{"access_token":"{token}","expires_in":{life},"token_type":"Bearer"}}"#
                ),
            )
        }
        "refresh_token" => error("invalid_grant"),
        "authorization_code" => {
            // The code once, with the verifier whose SHA-256 is the challenge (RFC 7636 §4.6)
            // and the same redirect address.
            let Some((challenge, back)) = s.codes.remove(field("code")) else {
                return error("invalid_grant");
            };
            let verified = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
                <sha2::Sha256 as sha2::Digest>::digest(field("code_verifier")),
            );
            if verified != challenge || back != field("redirect_uri") {
                return error("invalid_grant");
            }
            let rt = format!("refresh-from-browser-{}", s.refresh_tokens.len() + 1);
            s.refresh_tokens.push(rt.clone());
            (
                200,
                format!(
                    r#"{{"access_token":"unused","expires_in":3600,"refresh_token":"{rt}","token_type":"Bearer"}}"#
                ),
            )
        }
        _ => error("unsupported_grant_type"),
    }
}

/// An SMTP server on 127.0.0.1 that offers only AUTH XOAUTH2 and accepts a bearer token the
/// provider issued, unexpired, for the right user; it records each accepted message's
/// recipient and the tokens it saw.
pub struct XoauthSmtp {
    pub port: u16,
    pub accepted: Arc<Mutex<Vec<String>>>,
    pub tokens_seen: Arc<Mutex<Vec<String>>>,
}

impl XoauthSmtp {
    pub fn start(provider: &OAuthServer, user: &str) -> XoauthSmtp {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let port = listener.local_addr().expect("address").port();
        let accepted = Arc::new(Mutex::new(Vec::new()));
        let tokens_seen = Arc::new(Mutex::new(Vec::new()));
        let (a2, t2, state, user) = (
            accepted.clone(),
            tokens_seen.clone(),
            provider.state.clone(),
            user.to_string(),
        );
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (a, t, s, u) = (a2.clone(), t2.clone(), state.clone(), user.clone());
                std::thread::spawn(move || session(stream, &a, &t, &s, &u));
            }
        });
        XoauthSmtp {
            port,
            accepted,
            tokens_seen,
        }
    }
}

fn session(
    stream: TcpStream,
    accepted: &Mutex<Vec<String>>,
    seen: &Mutex<Vec<String>>,
    state: &Mutex<State>,
    user: &str,
) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let mut out = stream.try_clone().expect("clone stream");
    let mut reader = BufReader::new(stream);
    let mut say = |s: &str| {
        let _ = out.write_all(format!("{s}\r\n").as_bytes());
    };
    say("220 xoauth-smtp ready");
    let (mut authed, mut rcpt) = (false, String::new());
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let cmd = line.trim_end().to_string();
        let upper = cmd.to_ascii_uppercase();
        if upper.starts_with("EHLO") {
            say("250-xoauth-smtp\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 AUTH XOAUTH2");
        } else if let Some(b64) = upper.strip_prefix("AUTH XOAUTH2 ").map(|_| &cmd[13..]) {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .unwrap_or_default();
            let raw = String::from_utf8_lossy(&raw).into_owned();
            let token = raw
                .strip_prefix(&format!("user={user}\x01auth=Bearer "))
                .and_then(|r| r.strip_suffix("\x01\x01"))
                .unwrap_or_default()
                .to_string();
            seen.lock().expect("lock").push(token.clone());
            let valid = state
                .lock()
                .expect("lock")
                .access_tokens
                .get(&token)
                .is_some_and(|exp| Instant::now() < *exp);
            if valid {
                authed = true;
                say("235 2.7.0 Accepted");
            } else {
                say("535 5.7.8 Username and Password not accepted");
            }
        } else if upper.starts_with("MAIL FROM") {
            say(if authed {
                "250 2.1.0 OK"
            } else {
                "530 5.7.0 Authentication required"
            });
        } else if let Some(r) = upper.strip_prefix("RCPT TO:") {
            rcpt = r.trim_matches(['<', '>', ' ']).to_ascii_lowercase();
            say("250 2.1.5 OK");
        } else if upper == "DATA" {
            say("354 go ahead");
            loop {
                let mut l = String::new();
                if reader.read_line(&mut l).unwrap_or(0) == 0 {
                    return;
                }
                if l.trim_end() == "." {
                    break;
                }
            }
            accepted.lock().expect("lock").push(rcpt.clone());
            say("250 2.0.0 OK queued");
        } else if upper == "QUIT" {
            say("221 bye");
            return;
        } else if upper == "RSET" || upper == "NOOP" {
            say("250 OK");
        } else {
            say("502 5.5.2 not implemented");
        }
    }
}

/// A Dovecot of this test's own on 127.0.0.1 whose only passdb is OAuth2: it checks each
/// XOAUTH2 bearer with `provider`'s introspection endpoint (RFC 7662, POST). None, after a
/// loud skip, when Dovecot is not installed or we are not root (a failure under CI).
pub struct OAuthDovecot {
    pub port: u16,
    conf: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl OAuthDovecot {
    pub fn start(test: &str, provider: &OAuthServer) -> Option<OAuthDovecot> {
        let bin = ["/usr/sbin/dovecot", "/usr/local/sbin/dovecot"]
            .into_iter()
            .find(|b| std::path::Path::new(b).exists());
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        let Some(bin) = bin.filter(|_| root) else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{test}: Dovecot (as root) is required under CI"
            );
            eprintln!("SKIPPED {test}: needs Dovecot and root to start a private instance");
            return None;
        };
        let dir = tempfile::Builder::new()
            .prefix("drumbeat-oauth-dovecot")
            .tempdir_in("/tmp")
            .expect("temp dir");
        let d = dir.path();
        for sub in ["home", "run", "state"] {
            std::fs::create_dir_all(d.join(sub)).expect("mkdir");
        }
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        std::fs::set_permissions(d.join("home"), std::fs::Permissions::from_mode(0o777))
            .expect("chmod");
        let port = super::sink::free_port();
        std::fs::write(
            d.join("oauth2.conf.ext"),
            format!(
                "introspection_mode = post\nintrospection_url = {}/introspect\n\
                 username_attribute = username\nactive_attribute = active\nactive_value = true\n",
                provider.url
            ),
        )
        .expect("write oauth2 conf");
        let dd = d.display();
        std::fs::write(
            d.join("dovecot.conf"),
            format!(
                "protocols = imap\nlisten = 127.0.0.1\nbase_dir = {dd}/run\nstate_dir = {dd}/state\n\
                 log_path = {dd}/dovecot.log\nssl = no\ndisable_plaintext_auth = no\n\
                 auth_mechanisms = xoauth2 oauthbearer\n\
                 passdb {{\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n  args = {dd}/oauth2.conf.ext\n}}\n\
                 userdb {{\n  driver = static\n  args = uid=nobody gid=nogroup home={dd}/home/%u\n}}\n\
                 mail_location = maildir:~/Maildir\n\
                 service imap-login {{\n  inet_listener imap {{\n    port = {port}\n  }}\n}}\n"
            ),
        )
        .expect("write dovecot.conf");
        let conf = d.join("dovecot.conf");
        let status = std::process::Command::new(bin)
            .arg("-c")
            .arg(&conf)
            .status()
            .expect("run dovecot");
        assert!(
            status.success(),
            "dovecot did not start: {}",
            std::fs::read_to_string(d.join("dovecot.log")).unwrap_or_default()
        );
        crate::support::wait_until("Dovecot listening", Duration::from_secs(20), || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        Some(OAuthDovecot {
            port,
            conf,
            _dir: dir,
        })
    }
}

impl Drop for OAuthDovecot {
    fn drop(&mut self) {
        let _ = std::process::Command::new("dovecot")
            .arg("-c")
            .arg(&self.conf)
            .arg("stop")
            .status();
    }
}

//! `drumbeat auth --browser`: the authorization code grant with PKCE and a loopback redirect
//! (RFC 8252), the way Google lets a program get Gmail's scope. Against the local provider: the
//! browser (a real HTTP client here) follows the provider's redirect back to drumbeat, or the
//! person pastes the address the browser ended on; the provider checks the PKCE verifier.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::support::Project;
use crate::support::daemon::smtp_project_on;
use crate::support::oauth::OAuthServer;
use crate::support::wait_until;

/// A project whose mailbox `rep` has `[mailbox.oauth]` on the local provider, with its
/// authorization endpoint (`device` adds the device endpoint too).
fn project(provider: &OAuthServer, device: bool) -> Project {
    let p = smtp_project_on(2525, "");
    let config = std::fs::read_to_string(p.file("config.toml")).expect("config");
    let device = if device {
        format!("device_url = \"{}/device\"\n", provider.url)
    } else {
        String::new()
    };
    p.write(
        "config.toml",
        format!(
            "{config}[mailbox.oauth]\ntoken_url = \"{0}/token\"\nauth_url = \"{0}/authorize\"\n{device}\
             client_id = \"drumbeat-test\"\nrefresh_token = {{ file = \"secrets/rep.refresh-token\" }}\n",
            provider.url
        ),
    );
    p
}

/// `drumbeat auth ARGS…` running, with its stdin and stdout piped, and the sign-in address it
/// printed on stderr.
struct Auth {
    child: Child,
    url: String,
    stderr: mpsc::Receiver<String>,
}

fn start(p: &Project, args: &[&str]) -> Auth {
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("drumbeat"))
        .current_dir(p.path())
        .env_remove("DRUMBEAT_CONFIG")
        .env_remove("RUST_LOG")
        .args(["auth", "rep"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start drumbeat auth");
    let (tx, rx) = mpsc::channel();
    let err = child.stderr.take().expect("stderr");
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let url = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("no sign-in address printed; stderr so far: {seen:?}"));
        if let Some(u) = line
            .trim()
            .strip_prefix("http")
            .filter(|u| u.contains("/authorize?"))
        {
            break format!("http{u}");
        }
        seen.push(line);
    };
    Auth {
        child,
        url,
        stderr: rx,
    }
}

impl Auth {
    /// Waits (bounded) for the exit; gives the code, stdout and the rest of stderr.
    fn finish(mut self) -> (i32, String, String) {
        let mut code = None;
        wait_until("drumbeat auth to exit", Duration::from_secs(30), || {
            code = self.child.try_wait().expect("wait");
            code.is_some()
        });
        let mut out = String::new();
        std::io::Read::read_to_string(&mut self.child.stdout.take().unwrap(), &mut out).unwrap();
        let err: Vec<String> = self.stderr.try_iter().collect();
        (code.unwrap().code().unwrap_or(-1), out, err.join("\n"))
    }
}

fn browser() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("an HTTP client")
}

/// The provider's answer to the sign-in: the address it sends the browser back to.
fn sign_in(url: &str) -> String {
    let r = browser()
        .get(url)
        .send()
        .expect("the authorization endpoint");
    assert_eq!(r.status(), 302);
    r.headers()["location"].to_str().unwrap().to_string()
}

#[test]
fn auth_in_a_browser_comes_back_to_loopback_and_keeps_the_refresh_token() {
    let provider = OAuthServer::start(3600, &[]);
    // No device endpoint: the browser is the default.
    let p = project(&provider, false);
    let auth = start(&p, &[]);
    assert!(
        auth.url
            .starts_with(&format!("{}/authorize?", provider.url))
    );
    let back = sign_in(&auth.url);
    assert!(back.starts_with("http://127.0.0.1:"), "{back}");
    let page = browser().get(&back).send().expect("drumbeat's loopback");
    assert_eq!(page.status(), 200);
    assert!(page.text().unwrap().contains("Signed in"));
    let (code, out, err) = auth.finish();
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("Signed in") && !out.contains("refresh-from"),
        "{out}"
    );
    let file = p.file("secrets/rep.refresh-token");
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "refresh-from-browser-1\n",
        "the provider granted the code only with the PKCE verifier of its challenge"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let requests = provider.state().requests.clone();
    assert!(
        requests
            .iter()
            .any(|r| r.contains("grant_type=authorization_code")
                && r.contains("code_verifier=")
                && r.contains("redirect_uri=http%3A%2F%2F127.0.0.1%3A")),
        "{requests:?}"
    );
}

#[test]
fn auth_takes_the_address_pasted_from_a_browser_elsewhere_and_says_when_it_was_declined() {
    let provider = OAuthServer::start(3600, &[]);
    let p = project(&provider, true);
    // The device endpoint exists; --browser asks for the browser all the same.
    let mut auth = start(&p, &["--browser", "--print"]);
    let back = sign_in(&auth.url);
    let stdin = auth.child.stdin.as_mut().expect("stdin");
    // A stray line first: told, and the sign-in goes on.
    writeln!(stdin, "http://127.0.0.1:1/?code=x&state=someone-else").unwrap();
    writeln!(stdin, "{back}").unwrap();
    let (code, out, err) = auth.finish();
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "refresh-from-browser-1\n");
    assert!(err.contains("another sign-in"), "{err}");
    assert!(!p.file("secrets/rep.refresh-token").exists());

    // The person declines: the answer says so and nothing is written.
    provider.state().deny = true;
    let auth = start(&p, &["--browser"]);
    let back = sign_in(&auth.url);
    let page = browser().get(&back).send().expect("drumbeat's loopback");
    assert!(page.text().unwrap().contains("access_denied"));
    let (code, _, err) = auth.finish();
    assert_eq!(code, 1);
    assert!(err.contains("declined"), "{err}");
    assert!(!p.file("secrets/rep.refresh-token").exists());
}

//! OAuth2 without a helper (issue 17): `drumbeat auth` runs the device flow against a local
//! provider and keeps the refresh token owner-only (or prints it); sends then log in to SMTP
//! with XOAUTH2 and access tokens drumbeat refreshed itself; a revoked refresh token pauses the
//! mailbox until `drumbeat auth`, and shows no secret.

use std::time::Duration;

use crate::support::Project;
use crate::support::daemon::{at, run_once, smtp_project_on};
use crate::support::oauth::{OAuthDovecot, OAuthServer, XoauthSmtp};

fn oauth_table(provider: &OAuthServer, refresh_file: &str) -> String {
    format!(
        "[mailbox.oauth]\ntoken_url = \"{0}/token\"\ndevice_url = \"{0}/device\"\n\
         client_id = \"drumbeat-test\"\nrefresh_token = {{ file = \"{refresh_file}\" }}\n",
        provider.url
    )
}

fn project(provider: &OAuthServer, smtp_port: u16, refresh_file: &str) -> Project {
    let p = smtp_project_on(smtp_port, "");
    let config = std::fs::read_to_string(p.file("config.toml")).expect("config");
    p.write(
        "config.toml",
        format!("{config}{}", oauth_table(provider, refresh_file)),
    );
    p
}

#[test]
fn auth_runs_the_device_flow_and_keeps_the_refresh_token_owner_only() {
    let provider = OAuthServer::start(3600, &[]);
    let p = project(&provider, 2525, "secrets/rep.refresh-token");
    let run = p.ok(&["auth", "rep"]);
    assert!(
        run.stderr.contains("WDJB-MJHT")
            && run.stderr.contains(&format!("{}/activate", provider.url)),
        "{}",
        run.stderr
    );
    assert_eq!(
        provider.state().device_polls,
        2,
        "pending once, then approved"
    );
    let file = p.file("secrets/rep.refresh-token");
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "refresh-from-device-2\n"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(
            mode, 0o600,
            "the refresh token is readable by its owner only"
        );
    }
    assert!(
        !run.stdout.contains("refresh-from-device"),
        "{}",
        run.stdout
    );
    assert!(
        provider
            .state()
            .requests
            .iter()
            .all(|r| r.contains("client_id=drumbeat-test")),
        "every token request names the client"
    );

    // --print: the token on stdout only, the file untouched.
    let run = p.ok(&["auth", "rep", "--print"]);
    assert_eq!(run.stdout, "refresh-from-device-3\n");
    assert!(
        !run.stderr.contains("refresh-from-device"),
        "{}",
        run.stderr
    );
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "refresh-from-device-2\n"
    );

    // A mailbox without [mailbox.oauth] is told what to add.
    let shipped = Project::shipped();
    let run = shipped.run(&["auth", "ana"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("[mailbox.oauth]"), "{}", run.stderr);
}

const LEADS: &str = "Email,First Name,Company,Time Zone\n\
     ada@one.example,Ada,One,America/New_York\n\
     bob@two.example,Bob,Two,America/New_York\n";
// Thursday 2026-03-05 15:00 UTC: 10:00 in New York, inside the window.
const NOW: &str = "2026-03-05T15:00:00Z";

#[test]
fn smtp_logs_in_with_xoauth2_and_tokens_refreshed_from_the_refresh_token() {
    let provider = OAuthServer::start(3600, &["refresh-ok"]);
    let smtp = XoauthSmtp::start(&provider, "rep@example.com");
    let p = project(&provider, smtp.port, "rep.refresh-token");
    p.write("rep.refresh-token", "refresh-ok\n");
    p.write("leads.csv", LEADS);
    at(
        &p,
        NOW,
        &["leads", "import", "leads.csv", "--sequence", "e2e"],
    );
    let (v, _) = run_once(&p, NOW);
    assert_eq!(v["sent"], 2, "{v}");
    let mut got = smtp.accepted.lock().unwrap().clone();
    got.sort();
    assert_eq!(got, ["ada@one.example", "bob@two.example"]);
    assert_eq!(provider.state().refreshes, 1, "one refresh for both sends");
    let seen = smtp.tokens_seen.lock().unwrap().clone();
    assert!(
        !seen.is_empty() && seen.iter().all(|t| t == "access-1"),
        "{seen:?}"
    );
}

#[test]
fn a_revoked_refresh_token_asks_for_drumbeat_auth_and_sends_nothing() {
    let provider = OAuthServer::start(3600, &[]);
    let smtp = XoauthSmtp::start(&provider, "rep@example.com");
    let p = project(&provider, smtp.port, "rep.refresh-token");
    p.write("rep.refresh-token", "revoked-refresh-secret\n");
    p.write("leads.csv", LEADS);
    at(
        &p,
        NOW,
        &["leads", "import", "leads.csv", "--sequence", "e2e"],
    );
    let run = p
        .cmd(&["run", "--once", "--json"])
        .env("DRUMBEAT_NOW", NOW)
        .env("RUST_LOG", "drumbeat=warn")
        .timeout(Duration::from_secs(60))
        .output()
        .expect("run drumbeat");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr),
    );
    assert!(smtp.accepted.lock().unwrap().is_empty());
    assert!(stderr.contains("drumbeat auth rep"), "{stderr}");
    assert!(stderr.contains("invalid_grant"), "{stderr}");
    for out in [&stdout, &stderr] {
        assert!(!out.contains("revoked-refresh-secret"), "{out}");
    }
    // The mailbox is paused, saying what to do, instead of failing retry after retry.
    let status = at(&p, NOW, &["status"]);
    assert!(
        status
            .stdout
            .contains("PAUSED: signed out: mailbox \"rep\" needs `drumbeat auth rep`"),
        "{}",
        status.stdout
    );
    assert!(!status.stdout.contains("revoked-refresh-secret"));
    // The next run does not ask the provider again: nothing is claimed from a paused mailbox.
    let asked = provider.state().requests.len();
    run_once(&p, NOW);
    assert_eq!(provider.state().requests.len(), asked);
}

#[test]
fn imap_logs_in_to_dovecot_with_xoauth2_and_a_refreshed_token() {
    let test = "imap_logs_in_to_dovecot_with_xoauth2_and_a_refreshed_token";
    let provider = OAuthServer::start(3600, &["refresh-ok"]);
    provider.state().username = "rep@example.test".into();
    let Some(dovecot) = OAuthDovecot::start(test, &provider) else {
        return;
    };
    let p = Project::shipped();
    p.write("rep.refresh-token", "refresh-ok\n");
    p.write("revoked.refresh-token", "revoked\n");
    let settings: drumbeat::config::ImapSettings = toml::from_str(&format!(
        "host = \"127.0.0.1\"\nport = {}\nsecurity = \"none\"\n",
        dovecot.port
    ))
    .expect("imap settings");
    let oauth = |file: &str| drumbeat::config::OAuthSettings {
        provider: None,
        token_url: format!("{}/token", provider.url),
        device_url: Some(format!("{}/device", provider.url)),
        auth_url: None,
        scope: String::new(),
        client_id: "drumbeat-test".into(),
        client_secret: None,
        refresh_token: drumbeat::config::SecretSource::File(file.into()),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use drumbeat::inbox::imap;
        use drumbeat::send::oauth::TokenCache;
        let tokens = TokenCache::new("rep", oauth("rep.refresh-token"), p.path());
        let mut session = imap::connect(&settings, "rep@example.test", p.path(), Some(&tokens))
            .await
            .expect("XOAUTH2 login with a refreshed token");
        imap::examine(&mut session, "INBOX").await.expect("INBOX");
        // A second connection reuses the cached token.
        imap::connect(&settings, "rep@example.test", p.path(), Some(&tokens))
            .await
            .expect("second login");
        assert_eq!(tokens.refreshes().await, 1);
        // A revoked refresh token: no login tried, and the error asks for `drumbeat auth`.
        let revoked = TokenCache::new("rep", oauth("revoked.refresh-token"), p.path());
        let Err(e) = imap::connect(&settings, "rep@example.test", p.path(), Some(&revoked)).await
        else {
            panic!("a revoked refresh token logged in");
        };
        assert!(e.to_string().contains("drumbeat auth rep"), "{e}");
    });
    // Dovecot asked the provider about each bearer token it was given.
    assert_eq!(provider.state().introspections, 2);
}

//! A mailbox's health end to end, against two real SMTP servers (Postfix's smtp-sink): one
//! refuses the sender ("554 5.7.1 … blocked using zen.spamhaus.org") and is paused past the
//! threshold, with the pause announced (the rep's webhook notice, the `mailbox.paused`
//! outgoing webhook event) while the other mailbox keeps sending.

use std::time::Duration;

use serde_json::Value;

use crate::support::daemon::{at, run_once, smtp_project};
use crate::support::receiver::Receiver;
use crate::support::sink::Sink;
use crate::support::{Project, wait_until};

/// Thursday 2026-03-05, 10:00 in New York: the window is open.
const T0: &str = "2026-03-05T15:00:00Z";
const LATER: &str = "2026-03-05T21:00:00Z";

/// `blocked`'s mailbox `rep` and `open`'s mailbox `rep2` in one sequence; `rep` tells its rep
/// by webhook, and every mailbox event goes to the outgoing endpoint.
fn two_mailboxes(blocked: &Sink, open: &Sink, receiver: &Receiver) -> Project {
    let extra = format!(
        "[[webhook]]\nname = \"ops\"\nurl = \"{url}/ops\"\nevents = [\"mailbox-paused\", \"mailbox-resumed\"]\n\
         secret = {{ file = \"webhook.secret\" }}\n",
        url = receiver.url
    );
    let p = smtp_project(blocked, &extra);
    p.write("webhook.secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n");
    let config = std::fs::read_to_string(p.file("config.toml")).expect("config.toml");
    p.write(
        "config.toml",
        format!(
            "{config}[mailbox.notify]\nemail = false\nwebhook = \"{url}/rep\"\n\n\
             [[mailbox]]\nname = \"rep2\"\nfrom = \"rep2@example.com\"\n\
             display_name = \"Rob Rep\"\nsignature = \"Rob Rep, Example Inc.\"\ndaily_cap = 500\n\
             [mailbox.smtp]\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"none\"\n",
            url = receiver.url,
            port = open.port
        ),
    );
    p.edit(
        "sequences/e2e.yaml",
        "mailboxes: [rep]",
        "mailboxes: [rep, rep2]",
    );
    p
}

/// Imports `n` leads named `prefix{i}` owned by `owner` into the sequence.
fn import(p: &Project, prefix: &str, n: usize, owner: &str, now: &str) {
    let rows: String = (0..n)
        .map(|i| format!("{prefix}{i}@company{i}.example,Ada,Company {i},America/New_York\n"))
        .collect();
    let file = format!("{prefix}.csv");
    p.write(&file, format!("Email,First Name,Company,Time Zone\n{rows}"));
    at(
        p,
        now,
        &[
            "leads",
            "import",
            &file,
            "--sequence",
            "e2e",
            "--owner",
            owner,
        ],
    );
}

#[test]
fn a_blocked_mailbox_pauses_announced_while_another_keeps_sending() {
    let test = "a_blocked_mailbox_pauses_announced_while_another_keeps_sending";
    let reply =
        "554 5.7.1 Service unavailable; Client host [127.0.0.1] blocked using zen.spamhaus.org";
    let Some(blocked) = Sink::start(test, &["-f", "RCPT", "-B", reply]) else {
        return;
    };
    let Some(open) = Sink::start(test, &[]) else {
        return;
    };
    let receiver = Receiver::start(&[]);
    let p = two_mailboxes(&blocked, &open, &receiver);
    import(&p, "ana", 3, "rep", "2026-03-05T14:00:00Z");
    import(&p, "bo", 2, "rep2", "2026-03-05T14:00:00Z");
    let (r, _) = run_once(&p, T0);
    assert_eq!(
        (r["sent"].as_u64(), r["retried"].as_u64()),
        (Some(2), Some(3)),
        "rep2's two went out, rep's three were refused: {r:#}"
    );
    // Three refusals of the sender in a day: rep pauses at the next tick; rep2's new leads
    // still go out.
    import(&p, "cy", 2, "rep2", LATER);
    let (r, _) = run_once(&p, LATER);
    assert_eq!(
        (r["sent"].as_u64(), r["retried"].as_u64()),
        (Some(2), Some(0)),
        "{r:#}"
    );
    assert_eq!(open.wait_for(4, Duration::from_secs(10)).len(), 4);
    assert!(blocked.messages().is_empty());
    let list = at(&p, LATER, &["mailbox", "list", "--json"]).json();
    let state = |name: &str| {
        list.as_array()
            .and_then(|l| l.iter().find(|m| m["mailbox"] == name))
            .map_or(Value::Null, |m| m["state"].clone())
    };
    assert_eq!(
        (state("rep"), state("rep2")),
        ("paused".into(), "ok".into())
    );
    // The rep heard, and so did the outgoing endpoint, with the figures and the way back.
    wait_until("the pause is announced", Duration::from_secs(10), || {
        receiver.requests().len() >= 2
    });
    let requests = receiver.requests();
    let to = |path: &str| {
        requests
            .iter()
            .find(|r| r.path == path)
            .map(|r| r.json())
            .unwrap_or_else(|| panic!("nothing posted to {path}: {requests:?}"))
    };
    let notice = to("/rep")["text"].as_str().unwrap_or_default().to_string();
    assert!(notice.contains("Mailbox rep paused"), "{notice}");
    assert!(notice.contains("refused as a sender 3 times"), "{notice}");
    assert!(notice.contains("drumbeat mailbox resume rep"), "{notice}");
    let event = to("/ops");
    assert_eq!(event["type"], "mailbox.paused", "{event:#}");
    assert_eq!(event["data"]["mailbox"], "rep", "{event:#}");
    let why = event["data"]["details"]["why"].as_str().unwrap_or_default();
    assert!(why.contains("refused as a sender 3 times"), "{event:#}");
    // Resumed: announced too.
    at(&p, LATER, &["mailbox", "resume", "rep"]);
    run_once(&p, LATER);
    wait_until("the resume is announced", Duration::from_secs(10), || {
        receiver
            .requests()
            .iter()
            .any(|r| r.path == "/ops" && r.json()["type"] == "mailbox.resumed")
    });
}

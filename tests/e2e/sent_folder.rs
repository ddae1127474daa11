//! The Sent folder end to end (issue 17): over plain SMTP (a real smtp-sink) the emails the
//! daemon sends are put into the rep's Sent folder on a real Dovecot, once each, flagged
//! `\Seen`, byte for byte as sent (so threaded as sent); with IMAP down the sends still go and
//! the copies follow later; `save_sent = false` puts nothing there.

use std::time::Duration;

use crate::inbox_watch::{Setup, T1, send_intros, setup};
use crate::support::Project;
use crate::support::daemon::{at, run_once};
use crate::support::imap::Imap;

/// One message of a folder: its flags line and its whole text.
struct Copy {
    flags: String,
    raw: String,
}

/// Every message of `folder`, read without changing it.
fn folder(imap: &mut Imap, folder: &str) -> Vec<Copy> {
    let exists = imap
        .command(&format!("EXAMINE \"{folder}\""))
        .iter()
        .find_map(|l| {
            l.strip_prefix("* ")?
                .strip_suffix(" EXISTS\r\n")?
                .parse::<usize>()
                .ok()
        })
        .expect("EXAMINE says how many messages");
    (1..=exists)
        .map(|i| {
            let flags = imap.command(&format!("FETCH {i} (FLAGS)")).join("");
            let text = imap.command(&format!("FETCH {i} BODY.PEEK[]")).join("");
            // `* i FETCH (BODY[] {N}\r\n` then N bytes then `)`.
            let open = text.find("}\r\n").expect("a literal");
            let n: usize = text[text[..open].rfind('{').expect("{") + 1..open]
                .parse()
                .expect("literal size");
            let raw = text.as_bytes()[open + 3..open + 3 + n].to_vec();
            Copy {
                flags,
                raw: String::from_utf8(raw).expect("UTF-8"),
            }
        })
        .collect()
}

/// The Message-ID header of a message's text.
fn message_id(raw: &str) -> Option<String> {
    raw.lines().take_while(|l| !l.is_empty()).find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("Message-ID")
            .then(|| value.trim().to_string())
    })
}

/// Each email the sink took is in Sent exactly once, `\Seen`, with the bytes sent.
fn assert_each_sent_once(s: &mut Setup) {
    let sent = s.sink.messages();
    let copies = folder(&mut s.imap, "Sent");
    assert_eq!(copies.len(), sent.len(), "one copy per email sent");
    for m in &sent {
        let mid = m.header("Message-ID").expect("mid");
        let found: Vec<&Copy> = copies
            .iter()
            .filter(|c| message_id(&c.raw).as_deref() == Some(mid.as_str()))
            .collect();
        assert_eq!(found.len(), 1, "{mid}: once in Sent");
        let c = found[0];
        assert!(c.flags.contains("\\Seen"), "{mid}: {}", c.flags);
        // The sink put its own Received line on top of the message as it came.
        let received = String::from_utf8_lossy(&m.raw).replace("\r\n", "\n");
        let copy = c.raw.replace("\r\n", "\n");
        assert!(
            copy.starts_with("From: ") && received.trim_end().ends_with(copy.trim_end()),
            "{mid}: the copy is the message sent\n--- sent:\n{received}\n--- copy:\n{copy}"
        );
    }
}

/// Points the mailbox's IMAP at a port nothing listens on; returns the config that works.
fn imap_down(p: &Project) -> String {
    let good = std::fs::read_to_string(p.file("config.toml")).expect("config");
    let imap_port = good
        .split("[mailbox.imap]")
        .nth(1)
        .and_then(|t| t.lines().find_map(|l| l.strip_prefix("port = ")))
        .expect("the imap port")
        .to_string();
    let closed = crate::support::sink::free_port();
    let (smtp, imap) = good.split_once("[mailbox.imap]").expect("imap table");
    let imap = imap.replace(
        &format!("port = {imap_port}\n"),
        &format!("port = {closed}\n"),
    );
    p.write("config.toml", format!("{smtp}[mailbox.imap]{imap}"));
    good
}

fn status_mailbox(p: &Project, now: &str) -> serde_json::Value {
    at(p, now, &["status", "--json"]).json()["mailboxes"][0].clone()
}

#[test]
fn each_sent_email_is_in_the_sent_folder_once_seen_and_threaded() {
    let test = "each_sent_email_is_in_the_sent_folder_once";
    let Some(mut s) = setup(
        test,
        &[("ann@acme.example", "Acme"), ("cy@other.example", "Other")],
    ) else {
        return;
    };
    let intros = send_intros(&s, 2);
    // The follow-ups go in the same threads.
    let (r, _) = run_once(&s.p, T1);
    assert_eq!(r["sent"], 2, "{r:#}");
    assert_eq!(r["sent_folder"]["appended"], 2, "{r:#}");
    s.sink.wait_for(4, Duration::from_secs(5));
    assert_each_sent_once(&mut s);
    // Threaded: each follow-up's copy answers its intro.
    let copies = folder(&mut s.imap, "Sent");
    for (_, mid, subject) in &intros {
        let reply = copies
            .iter()
            .find(|c| c.raw.contains(&format!("In-Reply-To: {mid}")))
            .unwrap_or_else(|| panic!("a follow-up to {mid} in Sent"));
        assert!(reply.raw.contains(&format!("Subject: Re: {subject}")));
    }
    // Another run adds nothing.
    let (r, _) = run_once(&s.p, T1);
    assert!(r.get("sent_folder").is_none(), "{r:#}");
    assert_each_sent_once(&mut s);
    assert!(status_mailbox(&s.p, T1).get("sent_folder").is_none());
}

#[test]
fn with_imap_down_the_email_goes_and_its_copy_follows_later() {
    let test = "with_imap_down_the_email_goes_and_its_copy";
    let Some(mut s) = setup(test, &[("ann@acme.example", "Acme")]) else {
        return;
    };
    let good = imap_down(&s.p);
    let (r, _) = run_once(&s.p, "2026-03-05T15:00:00Z");
    assert_eq!(r["sent"], 1, "the email goes: {r:#}");
    assert_eq!(r["sent_folder"]["retrying"], 1, "{r:#}");
    s.sink.wait_for(1, Duration::from_secs(5));
    let m = status_mailbox(&s.p, "2026-03-05T15:00:00Z");
    assert_eq!(m["sent_folder"]["pending"], 1, "{m:#}");
    let shown = at(&s.p, "2026-03-05T15:00:00Z", &["status"]).stdout;
    assert!(
        shown.contains("sent folder: 1 waiting, 0 failed"),
        "{shown}"
    );
    // IMAP is back: the copy goes in once its retry is due, and the email is not sent again.
    s.p.write("config.toml", good);
    let (r, _) = run_once(&s.p, "2026-03-05T15:00:30Z");
    assert!(r.get("sent_folder").is_none(), "not due yet: {r:#}");
    let (r, _) = run_once(&s.p, "2026-03-05T15:02:00Z");
    assert_eq!(r["sent"], 0, "{r:#}");
    assert_eq!(r["sent_folder"]["appended"], 1, "{r:#}");
    assert_eq!(s.sink.messages().len(), 1, "never sent again");
    assert_each_sent_once(&mut s);
    assert!(
        status_mailbox(&s.p, "2026-03-05T15:02:00Z")
            .get("sent_folder")
            .is_none()
    );
}

#[test]
fn save_sent_false_puts_nothing_in_the_sent_folder() {
    let test = "save_sent_false_puts_nothing_in_sent";
    let Some(mut s) = setup(test, &[("ann@acme.example", "Acme")]) else {
        return;
    };
    let config = std::fs::read_to_string(s.p.file("config.toml")).expect("config");
    s.p.write("config.toml", format!("{config}save_sent = false\n"));
    let (r, _) = run_once(&s.p, "2026-03-05T15:00:00Z");
    assert_eq!(r["sent"], 1, "{r:#}");
    assert!(r.get("sent_folder").is_none(), "{r:#}");
    s.sink.wait_for(1, Duration::from_secs(5));
    assert!(folder(&mut s.imap, "Sent").is_empty());
}

#[test]
fn a_copy_already_in_sent_after_a_crash_is_not_added_again() {
    let test = "a_copy_already_in_sent_after_a_crash";
    let Some(mut s) = setup(test, &[("ann@acme.example", "Acme")]) else {
        return;
    };
    // IMAP down at the send: the copy waits.
    let good = imap_down(&s.p);
    let (r, _) = run_once(&s.p, "2026-03-05T15:00:00Z");
    assert_eq!(r["sent_folder"]["retrying"], 1, "{r:#}");
    let m = &s.sink.wait_for(1, Duration::from_secs(5))[0];
    // As if a daemon had APPENDed it and died before recording so.
    s.imap.append("Sent", &m.raw);
    s.p.write("config.toml", good);
    let (r, _) = run_once(&s.p, "2026-03-05T15:02:00Z");
    assert_eq!(r["sent_folder"]["appended"], 1, "{r:#}");
    assert_eq!(folder(&mut s.imap, "Sent").len(), 1, "not added twice");
}

#[test]
fn the_running_daemon_puts_the_waiting_copies_into_sent() {
    let test = "the_running_daemon_puts_the_waiting_copies";
    let Some(mut s) = setup(
        test,
        &[("ann@acme.example", "Acme"), ("cy@other.example", "Other")],
    ) else {
        return;
    };
    let good = imap_down(&s.p);
    let (r, _) = run_once(&s.p, "2026-03-05T15:00:00Z");
    assert_eq!(r["sent_folder"]["retrying"], 2, "{r:#}");
    s.sink.wait_for(2, Duration::from_secs(5));
    s.p.write("config.toml", good);
    s.p.set_clock("2026-03-05T15:02:00Z");
    let mut daemon = s.p.spawn(&["run", "--instance", "sent-folder-test"]);
    crate::support::wait_until("the copies in Sent", Duration::from_secs(30), || {
        folder(&mut s.imap, "Sent").len() >= 2
    });
    // SAFETY: kill(2) on the daemon we spawned.
    unsafe { libc::kill(i32::try_from(daemon.id()).expect("pid"), libc::SIGTERM) };
    let _ = daemon.wait();
    assert_eq!(s.sink.messages().len(), 2, "nothing sent again");
    assert_each_sent_once(&mut s);
    assert!(
        status_mailbox(&s.p, "2026-03-05T15:02:00Z")
            .get("sent_folder")
            .is_none()
    );
}

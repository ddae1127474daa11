//! Rep notifications and the daily digest end to end: the real binary against the real Dovecot
//! (replies delivered by IMAP APPEND), the real Postfix smtp-sink (the rep's notification
//! emails) and a local HTTP receiver (the rep's Slack-style webhook). `run --once` on a
//! simulated clock (`DRUMBEAT_NOW`) drives time; one test runs the long-lived daemon.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::daemon::{at, run_once, short_hash, smtp_project};
use crate::support::imap::{Imap, fresh_user, imap_server};
use crate::support::sink::{Received, Sink};
use crate::support::{Project, wait_until};

/// Where the rep's notifications go (not the mailbox's own address, so they are told apart
/// from what the sequences send).
const REP_INBOX: &str = "rita@rep.example";

/// A loopback HTTP receiver that answers 200 to every POST and keeps (headers, body).
struct Receiver {
    url: String,
    seen: Arc<Mutex<Vec<(String, String)>>>,
}

impl Receiver {
    fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let url = format!("http://{}/hook", listener.local_addr().expect("address"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let kept = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
                let mut head = String::new();
                let mut len = 0;
                loop {
                    let mut l = String::new();
                    if reader.read_line(&mut l).is_err() || l.trim_end().is_empty() {
                        break;
                    }
                    if let Some(v) = l.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                    head.push_str(&l);
                }
                let mut body = vec![0; len];
                if reader.read_exact(&mut body).is_err() {
                    continue;
                }
                kept.lock()
                    .expect("receiver lock")
                    .push((head, String::from_utf8_lossy(&body).into_owned()));
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
                );
            }
        });
        Receiver { url, seen }
    }

    /// The JSON bodies received so far.
    fn bodies(&self) -> Vec<Value> {
        self.seen
            .lock()
            .expect("receiver lock")
            .iter()
            .map(|(_, b)| serde_json::from_str(b).unwrap_or_else(|e| panic!("{e}: {b}")))
            .collect()
    }

    /// The request heads received so far.
    fn heads(&self) -> Vec<String> {
        self.seen
            .lock()
            .expect("receiver lock")
            .iter()
            .map(|(h, _)| h.clone())
            .collect()
    }
}

/// The messages the sink got for the rep (notifications), oldest first.
fn to_rep(sink: &Sink) -> Vec<Received> {
    sink.messages()
        .into_iter()
        .filter(|m| m.rcpt == REP_INBOX)
        .collect()
}

/// A message's body as text (folded lines of quoted-printable undone by the parser).
fn body(m: &Received) -> String {
    m.parsed()
        .body_text(0)
        .map(|b| b.replace("\r\n", "\n"))
        .unwrap_or_default()
}

struct Setup {
    p: Project,
    sink: Sink,
    imap: Imap,
    hook: Receiver,
}

/// A project sending through a fresh smtp-sink, watching a fresh Dovecot user, whose one
/// mailbox ("rep") notifies `REP_INBOX` and the local receiver; `notify_extra` adds keys to
/// `[mailbox.notify]`. The leads (`email`, first name) are imported into the test sequence
/// at `import_at`.
fn setup(test: &str, notify_extra: &str, leads: &[(&str, &str)], import_at: &str) -> Option<Setup> {
    let server = imap_server(test)?;
    let sink = Sink::start(test, &[])?;
    let user = fresh_user(test);
    let hook = Receiver::start();
    let p = smtp_project(
        &sink,
        "[sending]\njitter = \"0\"\ndomain_hourly_limit = 0\n",
    );
    let config = std::fs::read_to_string(p.file("config.toml")).expect("config");
    p.write(
        "config.toml",
        format!(
            "{config}[mailbox.imap]\nhost = \"{}\"\nport = {}\nusername = \"{user}\"\n\
             password = {{ env = \"DRUMBEAT_TEST_IMAP_PASSWORD\" }}\nsecurity = \"none\"\n\
             [mailbox.notify]\nemail = \"{REP_INBOX}\"\nwebhook = \"{}\"\n{notify_extra}",
            server.0, server.1, hook.url
        ),
    );
    let mut csv = String::from("Email,First Name,Last Name,Company,Time Zone\n");
    for (email, first) in leads {
        csv.push_str(&format!("{email},{first},Lead,Acme,America/New_York\n"));
    }
    p.write("leads.csv", csv);
    at(
        &p,
        import_at,
        &["leads", "import", "leads.csv", "--sequence", "e2e"],
    );
    let imap = Imap::login(&server, &user);
    Some(Setup {
        p,
        sink,
        imap,
        hook,
    })
}

/// A human reply from `from` to the email with Message-ID `mid` and `subject`.
fn reply(from: &str, mid: &str, subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: Ann Lead <{from}>\r\nTo: Rita Rep <rep@example.com>\r\nSubject: Re: {subject}\r\n\
         Date: Thu, 05 Mar 2026 16:12:09 +0000\r\nMessage-ID: <CAF{n}x@mail.gmail.com>\r\nIn-Reply-To: {mid}\r\nReferences: {mid}\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=\"UTF-8\"\r\n\r\n{body}\r\n\r\n\
         On Thu, Mar 5, 2026 at 10:00 AM Rita Rep <rep@example.com> wrote:\r\n> Worth a 15-minute look next week?\r\n",
        n = short_hash(&format!("{from}{mid}{body}"))
    )
    .into_bytes()
}

/// An out-of-office answer to `mid`.
fn out_of_office(from: &str, mid: &str, subject: &str) -> Vec<u8> {
    format!(
        "From: Ann Lead <{from}>\r\nTo: rep@example.com\r\nSubject: Automatic reply: {subject}\r\n\
         Date: Thu, 05 Mar 2026 15:00:05 +0000\r\nMessage-ID: <ooo-{n}@acme.example>\r\nIn-Reply-To: {mid}\r\n\
         Auto-Submitted: auto-replied\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         Thank you for your message. I am out of the office until March 20, 2026.\r\n",
        n = short_hash(mid)
    )
    .into_bytes()
}

/// (Message-ID, Subject) of the email the sink got for `lead`.
fn sent_to(sink: &Sink, lead: &str) -> (String, String) {
    let m = sink
        .messages()
        .into_iter()
        .find(|m| m.rcpt == lead)
        .unwrap_or_else(|| panic!("no email to {lead}"));
    (
        m.header("Message-ID").expect("Message-ID"),
        m.header("Subject").expect("Subject"),
    )
}

#[test]
fn a_reply_tells_the_rep_by_email_and_webhook_outside_the_cap_and_an_auto_reply_does_not() {
    let test = "a_reply_tells_the_rep_by_email_and_webhook_outside_the_cap";
    let Some(mut s) = setup(
        test,
        "",
        &[("ann@acme.example", "Ann"), ("bob@acme.example", "Bob")],
        "2026-03-05T14:00:00Z",
    ) else {
        return;
    };
    // One email a day: Ann's intro uses it, Bob's waits for tomorrow.
    s.p.edit("config.toml", "daily_cap = 500", "daily_cap = 1");
    let (r, _) = run_once(&s.p, "2026-03-05T15:00:00Z");
    assert_eq!(
        (r["sent"].as_u64(), r["deferred"].as_u64()),
        (Some(1), Some(1)),
        "{r:#}"
    );
    let lead = s.sink.wait_for(1, Duration::from_secs(5))[0].rcpt.clone();
    let (mid, subject) = sent_to(&s.sink, &lead);

    // An out-of-office answer: recorded, nobody is told.
    s.imap
        .append("INBOX", &out_of_office(&lead, &mid, &subject));
    let (r, _) = run_once(&s.p, "2026-03-05T15:10:00Z");
    assert_eq!(r["notifications"]["sent"], 0, "{r:#}");
    let all = at(
        &s.p,
        "2026-03-05T15:10:00Z",
        &["replies", "--all", "--json"],
    )
    .json();
    assert_eq!(all[0]["kind"], "auto-reply", "{all:#}");

    // A person answers: the rep hears of it in the same run, though the cap is used up.
    s.imap.append(
        "INBOX",
        &reply(
            &lead,
            &mid,
            &subject,
            "Thanks Rita, this is timely.\r\nCan we talk Tuesday at 3?",
        ),
    );
    let (r, _) = run_once(&s.p, "2026-03-05T15:20:00Z");
    assert_eq!(r["sent"], 0, "the cap still holds Bob's intro back: {r:#}");
    assert_eq!(r["notifications"]["sent"], 1, "{r:#}");
    assert_eq!(r["webhooks"]["delivered"], 1, "{r:#}");
    let got = s.sink.wait_for(2, Duration::from_secs(5));
    assert_eq!(got.len(), 2, "the intro and the notification");
    let notes = to_rep(&s.sink);
    assert_eq!(notes.len(), 1);
    let n = &notes[0];
    assert!(
        n.header("From")
            .expect("From")
            .contains("<rep@example.com>"),
        "sent through the rep's own mailbox"
    );
    assert_eq!(
        n.header("Auto-Submitted").as_deref(),
        Some("auto-generated")
    );
    let first = if lead.starts_with("ann") {
        "Ann"
    } else {
        "Bob"
    };
    assert_eq!(
        n.header("Subject").expect("Subject"),
        format!("{first} Lead (Acme) replied (meeting request): Re: {subject}")
    );
    let text = body(n);
    let replies = at(&s.p, "2026-03-05T15:20:00Z", &["replies", "--json"]).json();
    let id = replies[0]["id"].as_i64().expect("reply id");
    for want in [
        format!("{first} Lead <{lead}> of Acme replied."),
        format!("Subject:   Re: {subject}"),
        "Sequence:  e2e, step intro (mailbox rep)".to_string(),
        "| Thanks Rita, this is timely.".to_string(),
        "| Can we talk Tuesday at 3?".to_string(),
        "Intent:    meeting request: can we talk".to_string(),
        format!("drumbeat lead show {lead}"),
        format!("drumbeat reply handled {id}"),
    ] {
        assert!(text.contains(&want), "{want:?} not in:\n{text}");
    }
    assert!(!text.contains("15-minute"), "quoted text leaked:\n{text}");

    let hooks = s.hook.bodies();
    assert_eq!(hooks.len(), 1, "{hooks:#?}");
    let chat = hooks[0]["text"].as_str().expect("text");
    assert!(
        chat.contains(&format!("{first} Lead &lt;{lead}&gt; (Acme)"))
            && chat.contains("> Thanks Rita"),
        "{chat}"
    );
    assert!(
        s.hook.heads()[0].contains("webhook-id: ntf_"),
        "{:?}",
        s.hook.heads()
    );

    let st = at(&s.p, "2026-03-05T15:20:00Z", &["status", "--json"]).json();
    assert_eq!(st["webhooks"][0]["endpoint"], "notify:rep", "{st:#}");
    assert_eq!(st["webhooks"][0]["delivered"], 1, "{st:#}");

    // Another run sends nothing again.
    let (r, _) = run_once(&s.p, "2026-03-05T15:30:00Z");
    assert_eq!(r["notifications"]["sent"], 0, "{r:#}");
    assert_eq!(to_rep(&s.sink).len(), 1);
    assert_eq!(s.hook.bodies().len(), 1);
}

/// Ann imported, emailed on Thursday 5 March at 15:00 UTC, and her reply in the rep's INBOX
/// (not yet read); None when the servers are not there (the test is skipped, loudly).
fn ann_replied(test: &str) -> Option<Setup> {
    let mut s = setup(
        test,
        "",
        &[("ann@acme.example", "Ann")],
        "2026-03-05T14:00:00Z",
    )?;
    let (r, _) = run_once(&s.p, "2026-03-05T15:00:00Z");
    assert_eq!(r["sent"], 1, "{r:#}");
    let (mid, subject) = sent_to(&s.sink, "ann@acme.example");
    s.imap.append(
        "INBOX",
        &reply("ann@acme.example", &mid, &subject, "Yes please."),
    );
    Some(s)
}

#[test]
fn a_notification_email_the_server_refused_is_retried_later() {
    let Some(mut s) = ann_replied("a_notification_email_the_server_refused_is_retried_later")
    else {
        return;
    };
    // The mail server is down when the reply is read: the webhook goes, the email waits.
    s.sink.stop();
    let (r, _) = run_once(&s.p, "2026-03-05T15:10:00Z");
    assert_eq!(r["notifications"]["retrying"], 1, "{r:#}");
    assert_eq!(r["webhooks"]["delivered"], 1, "{r:#}");
    // `status` says so, with the lead and the error.
    let problems = |at_time: &str| -> Vec<(String, String)> {
        at(&s.p, at_time, &["status", "--json"]).json()["needs_attention"]
            .as_array()
            .expect("needs_attention")
            .iter()
            .filter(|a| {
                a["kind"]
                    .as_str()
                    .is_some_and(|k| k.starts_with("notification-"))
            })
            .map(|a| {
                (
                    a["kind"].as_str().unwrap_or_default().to_string(),
                    a["detail"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    };
    let p = problems("2026-03-05T15:10:05Z");
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(p[0].0, "notification-retrying");
    assert!(
        p[0].1
            .starts_with("the notice of ann@acme.example's reply to rep will be tried again at ")
            && p[0].1.contains(" (attempts so far: 1): "),
        "{p:?}"
    );
    s.sink.restart(&[]);
    // Not before its time (30 s later), then once.
    let (r, _) = run_once(&s.p, "2026-03-05T15:10:20Z");
    assert_eq!(r["notifications"]["sent"], 0, "{r:#}");
    let (r, _) = run_once(&s.p, "2026-03-05T15:10:31Z");
    assert_eq!(r["notifications"]["sent"], 1, "{r:#}");
    assert_eq!(r["webhooks"]["queued"], 0, "{r:#}");
    wait_until(
        "the notification at the sink",
        Duration::from_secs(5),
        || to_rep(&s.sink).len() == 1,
    );
    assert_eq!(s.hook.bodies().len(), 1, "the webhook was not posted twice");
    let (r, _) = run_once(&s.p, "2026-03-05T15:20:00Z");
    assert_eq!(r["notifications"]["sent"], 0, "{r:#}");
    assert_eq!(to_rep(&s.sink).len(), 1);
    assert_eq!(
        problems("2026-03-05T15:20:05Z"),
        vec![],
        "sent: nothing to see"
    );
}

#[test]
fn a_notification_email_the_server_rejects_shows_in_status_for_a_week() {
    let Some(mut s) =
        ann_replied("a_notification_email_the_server_rejects_shows_in_status_for_a_week")
    else {
        return;
    };
    // The rep's mail server refuses the recipient for good (550): no retry.
    s.sink.restart(&["-f", "RCPT"]);
    let (r, _) = run_once(&s.p, "2026-03-05T15:10:00Z");
    assert_eq!(r["notifications"]["failed"], 1, "{r:#}");
    let attention = |at_time: &str| -> Vec<serde_json::Value> {
        at(&s.p, at_time, &["status", "--json"]).json()["needs_attention"]
            .as_array()
            .expect("needs_attention")
            .iter()
            .filter(|a| a["kind"] == "notification-failed")
            .cloned()
            .collect()
    };
    let a = attention("2026-03-06T09:00:00Z");
    assert_eq!(a.len(), 1, "{a:#?}");
    assert_eq!(a[0]["email"], "ann@acme.example");
    let detail = a[0]["detail"].as_str().unwrap_or_default();
    assert!(
        detail.starts_with(
            "the notice of ann@acme.example's reply to rep was given up (attempts: 1): "
        ) && detail.contains("5"),
        "{detail}"
    );
    let text = at(&s.p, "2026-03-06T09:00:00Z", &["status"]).stdout;
    assert!(text.contains("notification-failed"), "{text}");
    // A week later it is old news.
    assert_eq!(
        attention("2026-03-12T15:10:01Z"),
        Vec::<serde_json::Value>::new()
    );
}

#[test]
fn the_running_daemon_tells_the_rep_within_seconds_of_the_reply() {
    let test = "the_running_daemon_tells_the_rep_within_seconds";
    let Some(mut s) = setup(
        test,
        "",
        &[("ann@acme.example", "Ann")],
        "2026-03-05T14:00:00Z",
    ) else {
        return;
    };
    let (r, _) = run_once(&s.p, "2026-03-05T15:00:00Z");
    assert_eq!(r["sent"], 1, "{r:#}");
    let (mid, subject) = sent_to(&s.sink, "ann@acme.example");
    let mut daemon = s.p.spawn(&["run", "--instance", "notify-test"]);
    wait_until(
        "the watcher idling on INBOX",
        Duration::from_secs(30),
        || s.p.ok(&["status", "--json"]).json()["inbox"][0]["state"] == "idle",
    );
    s.imap.append(
        "INBOX",
        &reply("ann@acme.example", &mid, &subject, "Sounds good, call me."),
    );
    let appended = Instant::now();
    wait_until(
        "the rep's email and webhook",
        Duration::from_secs(20),
        || to_rep(&s.sink).len() == 1 && s.hook.bodies().len() == 1,
    );
    eprintln!("APPEND to the rep notified: {:?}", appended.elapsed());
    assert!(body(&to_rep(&s.sink)[0]).contains("| Sounds good, call me."));
    // SAFETY: kill(2) on the daemon we spawned.
    unsafe { libc::kill(i32::try_from(daemon.id()).expect("pid"), libc::SIGTERM) };
    let _ = daemon.wait();
}

/// The digests the sink got, oldest first.
fn digests(sink: &Sink) -> Vec<Received> {
    to_rep(sink)
        .into_iter()
        .filter(|m| {
            m.header("Subject")
                .is_some_and(|s| s.starts_with("drumbeat digest"))
        })
        .collect()
}

/// Tokyo is 9 hours ahead of UTC (and 14 ahead of New York, where the leads and the send
/// window are): its 08:00 on Friday 6 March 2026 is 23:00 UTC on Thursday.
#[test]
fn the_digest_fires_once_at_eight_in_the_reps_zone_with_what_waits() {
    let test = "the_digest_fires_once_at_eight_in_the_reps_zone";
    let Some(mut s) = setup(
        test,
        "digest = \"0 8 * * Mon-Fri\"\ntimezone = \"Asia/Tokyo\"\n",
        &[
            ("ann@acme.example", "Ann"),
            ("bob@acme.example", "Bob"),
            ("cy@acme.example", "Cy"),
            ("eve@acme.example", "Eve"),
        ],
        // Tuesday 3 March, 10:30 in New York.
        "2026-03-03T15:30:00Z",
    ) else {
        return;
    };
    // A sequence with a call the day after the intro, and a bump the day after the call.
    s.p.write(
        "sequences/e2e.yaml",
        "id: e2e\nname: Digest\nmailboxes: [rep]\nwindow:\n  days: [mon-fri]\n  hours: \"09:00-17:00\"\n  timezone: America/New_York\n\
         steps:\n  - id: intro\n    wait: 0\n    template: cold/intro\n  - id: call\n    wait: 1 day\n    task: call\n\
         \x20 - id: bump\n    wait: 1 day\n    template: cold/bump\n    thread: true\n",
    );
    let (r, _) = run_once(&s.p, "2026-03-03T15:30:00Z");
    assert_eq!(r["sent"], 4, "the intros, on Tuesday: {r:#}");
    // Wednesday 10:30 in New York (Thursday 00:30 in Tokyo, the rep's "yesterday" on Friday):
    // Ann replies, Eve unsubscribes, Dee is new and gets her intro, Bob and Cy get a call task.
    let (mid, subject) = sent_to(&s.sink, "ann@acme.example");
    s.imap.append(
        "INBOX",
        &reply(
            "ann@acme.example",
            &mid,
            &subject,
            "Interesting. What would it cost?",
        ),
    );
    let (mid, subject) = sent_to(&s.sink, "eve@acme.example");
    s.imap.append(
        "INBOX",
        &reply(
            "eve@acme.example",
            &mid,
            &subject,
            "Please remove me from your list.",
        ),
    );
    s.p.write(
        "dee.csv",
        "Email,First Name,Company,Time Zone\ndee@acme.example,Dee,Acme,America/New_York\n",
    );
    let wed = "2026-03-04T15:30:00Z";
    at(
        &s.p,
        wed,
        &["leads", "import", "dee.csv", "--sequence", "e2e"],
    );
    let (r, _) = run_once(&s.p, wed);
    assert_eq!(
        (r["sent"].as_u64(), r["tasks"].as_u64()),
        (Some(1), Some(2)),
        "{r:#}"
    );
    assert_eq!(
        r["notifications"]["sent"], 1,
        "Ann's reply, not Eve's unsubscribe: {r:#}"
    );
    // Cy's call is done at once (his bump is due on Thursday); Bob's waits, overdue by Friday.
    let tasks = at(&s.p, wed, &["tasks", "--json"]).json();
    let cy_task = tasks
        .as_array()
        .expect("tasks")
        .iter()
        .find(|t| t["email"] == "cy@acme.example")
        .and_then(|t| t["id"].as_i64())
        .expect("Cy's task")
        .to_string();
    at(&s.p, "2026-03-04T15:35:00Z", &["task", "done", &cy_task]);

    // Friday 07:59 in Tokyo: not yet (Thursday's 08:00 never fired, and is not caught up).
    let (r, _) = run_once(&s.p, "2026-03-05T22:59:00Z");
    assert_eq!(r["notifications"]["digests"], 0, "{r:#}");
    assert!(digests(&s.sink).is_empty());

    // 08:00: once, by email and webhook.
    let eight = "2026-03-05T23:00:00Z";
    let (r, _) = run_once(&s.p, eight);
    assert_eq!(r["notifications"]["digests"], 1, "{r:#}");
    assert_eq!(r["notifications"]["sent"], 1, "{r:#}");
    let d = digests(&s.sink);
    assert_eq!(d.len(), 1);
    assert_eq!(
        d[0].header("Subject").expect("subject"),
        "drumbeat digest, Fri 6 Mar: 1 reply waiting, 1 task due, 2 steps today"
    );
    let text = body(&d[0]);
    let printed = at(&s.p, eight, &["digest", "--rep", "rep"]).stdout;
    assert!(
        printed.starts_with(&text),
        "the CLI prints what was sent:\n{printed}\n---\n{text}"
    );
    assert!(printed.contains("(the daemon sends this at \"0 8 * * Mon-Fri\" in Asia/Tokyo; next: Mon 2026-03-09 08:00 JST"), "{printed}");
    for want in [
        "drumbeat digest for rep — Friday 6 March 2026 (Asia/Tokyo)",
        "REPLIES WAITING FOR YOU (1)",
        "Ann Lead <ann@acme.example> (Acme) — e2e, Fri 6 Mar 01:12",
        "| Interesting. What would it cost?",
        "TASKS DUE TODAY (1, 1 overdue)",
        "call  Bob Lead <bob@acme.example> (Acme) — overdue since Thu 5 Mar",
        "SEQUENCES DUE TODAY (2)",
        "email  Cy Lead <cy@acme.example> (Acme) — e2e / bump, from rep",
        "call  Dee <dee@acme.example> (Acme) — e2e / call, from rep",
        "YESTERDAY (Thursday 5 March)\n  1 sent, 1 reply, 0 bounces, 1 unsubscribe, 0 meetings booked",
    ] {
        assert!(text.contains(want), "{want:?} not in:\n{text}");
    }
    assert!(!text.contains("eve@acme.example"), "{text}");
    let hooks = s.hook.bodies();
    assert_eq!(hooks.len(), 2, "Ann's reply, then the digest: {hooks:#?}");
    assert!(
        hooks[1]["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("*drumbeat digest, Fri 6 Mar")
                && t.contains("Bob Lead &lt;bob@acme.example&gt;")),
        "{hooks:#?}"
    );

    // The JSON has the same items, with yesterday's numbers counted by hand.
    let j = at(&s.p, eight, &["digest", "--rep", "rep", "--json"]).json();
    assert_eq!(j["date"], "2026-03-06");
    assert_eq!(j["replies"][0]["email"], "ann@acme.example", "{j:#}");
    assert_eq!(j["tasks"][0]["email"], "bob@acme.example", "{j:#}");
    assert_eq!(j["tasks"][0]["overdue"], true, "{j:#}");
    let sends: Vec<(String, String)> = j["sends"]
        .as_array()
        .expect("sends")
        .iter()
        .map(|s| {
            (
                s["email"].as_str().unwrap_or_default().to_string(),
                s["step"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(
        sends,
        [
            ("cy@acme.example".to_string(), "bump".to_string()),
            ("dee@acme.example".to_string(), "call".to_string())
        ],
        "{j:#}"
    );
    assert_eq!(
        j["yesterday"],
        serde_json::json!({ "date": "2026-03-05", "sent": 1, "replies": 1, "bounces": 0, "unsubscribes": 1, "meetings": 0 })
    );

    // 08:05: a new process, and still once.
    let (r, _) = run_once(&s.p, "2026-03-05T23:05:00Z");
    assert_eq!(r["notifications"]["digests"], 0, "{r:#}");
    assert_eq!(digests(&s.sink).len(), 1);
    assert_eq!(s.hook.bodies().len(), 2);
}

#[test]
fn digest_on_the_command_line_names_the_reps_when_one_is_unknown() {
    let p = Project::shipped();
    let run = p.run(&["digest", "--rep", "bob"]);
    run.code(2);
    assert_eq!(
        run.stderr,
        "drumbeat: --rep \"bob\" is not a rep: the reps are the mailboxes of config.toml (ana)\n"
    );
    let run = p.ok(&["digest"]);
    assert!(
        run.stdout.starts_with("drumbeat digest for ana — "),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("REPLIES WAITING FOR YOU (0)\n  none\n"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_bad_digest_time_or_zone_names_its_line_in_config_toml() {
    let p = Project::shipped();
    p.edit(
        "config.toml",
        "outbox = \"data/outbox\"\n",
        "outbox = \"data/outbox\"\n[mailbox.notify]\ndigest = \"0 8 * * Mnday\"\ntimezone = \"Asia/Tokio\"\n",
    );
    let line = std::fs::read_to_string(p.file("config.toml"))
        .expect("config")
        .lines()
        .position(|l| l.starts_with("digest = "))
        .expect("the digest line")
        + 1;
    let run = p.run(&["validate"]);
    run.code(1);
    assert!(
        run.stdout.contains(&format!(
            "config.toml:{line}:10: mailbox \"ana\": notify.digest: \"0 8 * * Mnday\" is not a crontab time"
        )),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(&format!(
            "config.toml:{}:12: mailbox \"ana\": notify.timezone: \"Asia/Tokio\" is not an IANA time zone",
            line + 1
        )) && run.stdout.contains("did you mean \"Asia/Tokyo\"?"),
        "{}",
        run.stdout
    );
}

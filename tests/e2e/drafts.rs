//! Email steps with `review:` end to end: the due step becomes a draft, not a send; it lands in
//! the rep's IMAP Drafts folder (a real Dovecot) threaded to the previous touch; the rep sends
//! it from their client (APPEND to Sent, as a client does) and the lead moves on, once; a
//! draft edited in `$EDITOR` (a scripted editor) and approved with `draft send` goes to the
//! real smtp-sink with the edited text; a draft past its deadline becomes a task or is skipped.

use std::time::Duration;

use crate::inbox_watch::{T1, lead, send_intros, setup};
use crate::support::daemon::{at, run_once, smtp_project};
use crate::support::sink::Sink;
use crate::support::{Project, fresh_pg_database, pg_server};

/// Thursday 2026-03-05, 10:00 in New York: the intro goes out.
const T0: &str = "2026-03-05T15:00:00Z";

/// Makes the e2e sequence's threaded no-ask step (`value`) a reviewed one.
fn review(p: &Project, how: &str) {
    p.edit(
        "sequences/e2e.yaml",
        "    no_ask: true\n",
        &format!("    no_ask: true\n    review: {how}\n"),
    );
}

fn drafts(p: &Project, now: &str) -> Vec<serde_json::Value> {
    at(p, now, &["drafts", "--json"])
        .json()
        .as_array()
        .expect("drafts array")
        .clone()
}

/// A project without IMAP, its intro sent to ann@acme.example: the sink holds it. `store`
/// replaces its SQLite store (a PostgreSQL URL).
fn sent_intro(test: &str, how: &str, store: Option<&str>) -> Option<(Project, Sink)> {
    let sink = Sink::start(test, &[])?;
    let p = smtp_project(&sink, "[sending]\njitter = \"0\"\n");
    if let Some(url) = store {
        p.edit(
            "config.toml",
            "store = \"sqlite://data/drumbeat.db\"",
            &format!("store = \"{url}\""),
        );
    }
    review(&p, how);
    p.write(
        "leads.csv",
        "Email,First Name,Company,Time Zone\nann@acme.example,Ann,Acme,America/New_York\n",
    );
    at(
        &p,
        "2026-03-05T14:00:00Z",
        &["leads", "import", "leads.csv", "--sequence", "e2e"],
    );
    let (r, _) = run_once(&p, T0);
    assert_eq!(r["sent"], 1, "{r:#}");
    sink.wait_for(1, Duration::from_secs(5));
    Some((p, sink))
}

#[test]
fn a_draft_lands_in_the_drafts_folder_threaded_and_sent_from_the_client_moves_the_lead_once() {
    let test = "a_draft_lands_in_the_drafts_folder_threaded";
    let Some(mut s) = setup(test, &[("ann@acme.example", "Acme")]) else {
        return;
    };
    review(&s.p, "true");
    let intro = send_intros(&s, 1);
    let (intro_mid, intro_subject) = (&intro[0].1, &intro[0].2);
    // The follow-up comes due: a draft, not a send.
    let (r, _) = run_once(&s.p, T1);
    assert_eq!(
        (r["drafts"].as_u64(), r["sent"].as_u64()),
        (Some(1), Some(0)),
        "{r:#}"
    );
    let listed = drafts(&s.p, T1);
    assert_eq!(listed.len(), 1, "{listed:#?}");
    let d = &listed[0];
    assert_eq!(d["state"], "open");
    assert_eq!(d["email"], "ann@acme.example");
    assert_eq!(d["in_reply_to"].as_str(), Some(intro_mid.as_str()));
    assert_eq!(d["subject"], format!("Re: {intro_subject}"));
    let mid = d["message_id"].as_str().expect("message id").to_string();
    // The next look at the inbox puts it into Drafts, flagged as a draft, threaded.
    run_once(&s.p, T1);
    s.imap.command("SELECT Drafts");
    let fetched = s
        .imap
        .command("FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (Message-ID In-Reply-To References Subject)])")
        .join("");
    assert!(
        fetched.contains("\\Draft") && fetched.contains("\\Seen"),
        "{fetched}"
    );
    assert!(fetched.contains(&format!("Message-ID: {mid}")), "{fetched}");
    assert!(
        fetched.contains(&format!("In-Reply-To: {intro_mid}")),
        "{fetched}"
    );
    assert!(
        fetched.contains(&format!("References: {intro_mid}")),
        "{fetched}"
    );
    assert!(
        fetched.contains(&format!("Subject: Re: {intro_subject}")),
        "{fetched}"
    );
    assert_eq!(
        fetched.matches("Message-ID:").count(),
        1,
        "one copy: {fetched}"
    );
    // The lead waits at the step, nothing went out.
    assert_eq!(
        lead(&s.p, "ann@acme.example")["enrollments"][0]["next_step_id"],
        "value"
    );
    // The rep sends it from their client: the client files it under Sent, same Message-ID.
    let raw = format!(
        "From: Rita Rep <rep@example.com>\r\nTo: ann@acme.example\r\nSubject: Re: {intro_subject}\r\n\
         Date: Tue, 10 Mar 2026 11:02:00 -0400\r\nMessage-ID: {mid}\r\nIn-Reply-To: {intro_mid}\r\n\
         References: {intro_mid}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         Ann, one more thing (sent by hand).\r\n"
    );
    s.imap.append("Sent", raw.as_bytes());
    run_once(&s.p, T1);
    run_once(&s.p, T1);
    let ann = lead(&s.p, "ann@acme.example");
    let value: Vec<_> = ann["touches"]
        .as_array()
        .expect("touches")
        .iter()
        .filter(|t| t["step_id"] == "value")
        .collect();
    assert_eq!(value.len(), 1, "{ann:#}");
    assert_eq!(value[0]["state"], "sent", "{ann:#}");
    assert_eq!(ann["enrollments"][0]["next_step_id"], "call", "{ann:#}");
    let sent_events = ann["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["kind"] == "sent")
        .count();
    assert_eq!(sent_events, 2, "intro and the draft, each once: {ann:#}");
    assert_eq!(
        s.sink.messages().len(),
        1,
        "the daemon itself sent only the intro"
    );
    assert!(drafts(&s.p, T1).is_empty());
    let id = d["id"].to_string();
    let again =
        s.p.cmd(&["draft", "send", &id])
            .env("DRUMBEAT_NOW", T1)
            .output()
            .expect("run");
    assert_eq!(again.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("is sent"),
        "{again:?}"
    );
}

#[test]
fn an_edited_draft_sent_with_draft_send_goes_out_with_the_edited_text_once() {
    edit_and_send("an_edited_draft_sent_with_draft_send", None);
}

#[test]
fn drafts_work_on_postgresql() {
    let test = "drafts_work_on_postgresql";
    let Some(server) = pg_server(test) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let url = runtime.block_on(fresh_pg_database(&server));
    edit_and_send(test, Some(&url));
    let (a, b) = (
        runtime.block_on(fresh_pg_database(&server)),
        runtime.block_on(fresh_pg_database(&server)),
    );
    deadlines(&format!("{test}-deadline"), (Some(&a), Some(&b)));
}

/// A draft edited in a scripted `$EDITOR` (a broken edit first), approved, sent once.
fn edit_and_send(test: &str, store: Option<&str>) {
    let Some((p, sink)) = sent_intro(test, "true", store) else {
        return;
    };
    let (r, _) = run_once(&p, T1);
    assert_eq!(r["drafts"], 1, "{r:#}");
    let id = drafts(&p, T1)[0]["id"].to_string();
    // A broken edit (no Subject line) is refused and changes nothing.
    let before = at(&p, T1, &["draft", "show", &id]).stdout;
    p.write(
        "broken.sh",
        "#!/bin/sh\nprintf 'no subject here\\n' > \"$1\"\n",
    );
    let broken = p
        .cmd(&["draft", "edit", &id])
        .env("DRUMBEAT_NOW", T1)
        .env("EDITOR", format!("sh {}", p.file("broken.sh").display()))
        .env_remove("VISUAL")
        .output()
        .expect("run");
    assert_eq!(broken.status.code(), Some(1), "{broken:?}");
    let err = String::from_utf8_lossy(&broken.stderr);
    assert!(
        err.contains("line 1") && err.contains("nothing changed"),
        "{err}"
    );
    assert_eq!(at(&p, T1, &["draft", "show", &id]).stdout, before);
    // The rep's editor changes the subject and adds a line.
    p.write(
        "editor.sh",
        "#!/bin/sh\nsed -i 's/^Subject: .*/Subject: A better subject/' \"$1\"\nprintf 'P.S. Edited by Rita.\\n' >> \"$1\"\n",
    );
    let edited = p
        .cmd(&["draft", "edit", &id])
        .env("DRUMBEAT_NOW", T1)
        .env("EDITOR", format!("sh {}", p.file("editor.sh").display()))
        .env_remove("VISUAL")
        .output()
        .expect("run");
    assert_eq!(edited.status.code(), Some(0), "{edited:?}");
    let shown = at(&p, T1, &["draft", "show", &id]).stdout;
    assert!(
        shown.contains("Subject: A better subject") && shown.contains("P.S. Edited by Rita."),
        "{shown}"
    );
    // Approved: the next tick sends it through the normal path, once.
    at(&p, T1, &["draft", "send", &id]);
    let (r, _) = run_once(&p, T1);
    let all = at(&p, T1, &["drafts", "--all", "--json"]).stdout;
    let ann = at(&p, T1, &["lead", "show", "ann@acme.example", "--json"]).stdout;
    assert_eq!(r["sent"], 1, "{r:#}\n{all}\n{ann}");
    let got = sink.wait_for(2, Duration::from_secs(5));
    let text = String::from_utf8_lossy(&got[1].raw).to_string();
    assert_eq!(
        got[1].header("Subject").as_deref(),
        Some("A better subject")
    );
    assert!(text.contains("P.S. Edited by Rita."), "{text}");
    assert_eq!(got[1].header("In-Reply-To"), got[0].header("Message-ID"));
    run_once(&p, T1);
    assert_eq!(sink.messages().len(), 2, "sent once");
    let ann = at(&p, T1, &["lead", "show", "ann@acme.example", "--json"]).json();
    assert_eq!(ann["enrollments"][0]["next_step_id"], "call", "{ann:#}");
    let again = p
        .cmd(&["draft", "send", &id])
        .env("DRUMBEAT_NOW", T1)
        .output()
        .expect("run");
    assert_eq!(again.status.code(), Some(1), "{again:?}");
}

/// A day after the draft was made (its deadline is 1 day), in the window.
const PAST_DEADLINE: &str = "2026-03-11T16:00:00Z";

#[test]
fn a_draft_past_its_deadline_is_skipped_or_becomes_a_task() {
    deadlines(
        "a_draft_past_its_deadline_is_skipped_or_becomes_a_task",
        (None, None),
    );
}

/// `then: skip` and `then: task`, each on a project of its own.
fn deadlines(test: &str, (store, task_store): (Option<&str>, Option<&str>)) {
    // then: skip → the lead moves on, nothing sent.
    let Some((p, sink)) = sent_intro(test, "{ deadline: 1 day, then: skip }", store) else {
        return;
    };
    assert_eq!(run_once(&p, T1).0["drafts"], 1);
    run_once(&p, "2026-03-10T18:00:00Z");
    assert_eq!(drafts(&p, "2026-03-10T18:00:00Z").len(), 1, "not yet");
    run_once(&p, PAST_DEADLINE);
    let ann = at(
        &p,
        PAST_DEADLINE,
        &["lead", "show", "ann@acme.example", "--json"],
    )
    .json();
    assert_eq!(ann["enrollments"][0]["next_step_id"], "call", "{ann:#}");
    assert!(drafts(&p, PAST_DEADLINE).is_empty());
    assert_eq!(sink.messages().len(), 1);
    // then: task → a task for the rep; the draft waits; skipping it moves the lead on.
    let Some((p, sink)) = sent_intro(
        &format!("{test}-task"),
        "{ deadline: 1 day, then: task }",
        task_store,
    ) else {
        return;
    };
    run_once(&p, T1);
    run_once(&p, PAST_DEADLINE);
    let tasks = at(&p, PAST_DEADLINE, &["tasks", "--json"]).json();
    let tasks = tasks.as_array().expect("tasks");
    assert_eq!(tasks.len(), 1, "{tasks:#?}");
    assert_eq!(tasks[0]["kind"], "draft");
    let listed = drafts(&p, PAST_DEADLINE);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["task_id"], tasks[0]["id"]);
    run_once(&p, "2026-03-12T16:00:00Z");
    assert_eq!(
        at(&p, PAST_DEADLINE, &["tasks", "--json"])
            .json()
            .as_array()
            .map(Vec::len),
        Some(1),
        "one task"
    );
    let id = listed[0]["id"].to_string();
    at(&p, PAST_DEADLINE, &["draft", "skip", &id]);
    let ann = at(
        &p,
        PAST_DEADLINE,
        &["lead", "show", "ann@acme.example", "--json"],
    )
    .json();
    assert_eq!(ann["enrollments"][0]["next_step_id"], "call", "{ann:#}");
    assert_eq!(
        at(&p, PAST_DEADLINE, &["tasks", "--json"])
            .json()
            .as_array()
            .map(Vec::len),
        Some(0)
    );
    assert_eq!(sink.messages().len(), 1);
}

#[test]
fn a_bad_review_key_is_refused_at_its_place() {
    let p = Project::shipped();
    p.edit(
        "sequences/cold-outbound.yaml",
        "    no_ask: true                   # gives something useful, asks for nothing\n",
        "    no_ask: true\n    review: { deadline: 2 bussiness days, then: later }\n",
    );
    p.edit(
        "sequences/cold-outbound.yaml",
        "    task: call\n",
        "    task: call\n    review: true\n",
    );
    let run = p.run(&["validate"]);
    let err = format!("{}{}", run.stdout, run.stderr);
    assert_eq!(run.code, 1, "{err}");
    assert!(
        err.contains("sequences/cold-outbound.yaml:27:25: step \"value-add\": review deadline \"2 bussiness days\""),
        "{err}"
    );
    assert!(
        err.contains("sequences/cold-outbound.yaml:27:49: step \"value-add\": review then \"later\" is not task or skip"),
        "{err}"
    );
    assert!(
        err.contains("cold-outbound.yaml:32:13: step \"call\": review is only for email steps"),
        "{err}"
    );
}

#[test]
fn a_skipped_draft_leaves_the_drafts_folder_and_a_client_that_rewrote_the_message_id_is_matched() {
    let test = "a_skipped_draft_leaves_the_drafts_folder";
    let Some(mut s) = setup(
        test,
        &[
            ("ann@acme.example", "Acme"),
            ("bob@beta.example", "Beta"),
            ("cy@gamma.example", "Gamma"),
        ],
    ) else {
        return;
    };
    review(&s.p, "true");
    let intros = send_intros(&s, 3);
    assert_eq!(run_once(&s.p, T1).0["drafts"], 3);
    run_once(&s.p, T1);
    let copies = |imap: &mut crate::support::imap::Imap| {
        imap.command("SELECT Drafts");
        imap.command("SEARCH NOT DELETED")
            .concat()
            .split_whitespace()
            .filter(|w| w.parse::<u32>().is_ok())
            .count()
    };
    assert_eq!(copies(&mut s.imap), 3);
    let listed = drafts(&s.p, T1);
    let of = |email: &str| {
        listed
            .iter()
            .find(|d| d["email"] == email)
            .unwrap_or_else(|| panic!("no draft to {email}"))
            .clone()
    };
    // Ann's is skipped in the CLI, and Cy replies to the intro: both copies leave the Drafts
    // folder at the next read (the rep must not send Cy's now), and Cy's leaves the list.
    at(
        &s.p,
        T1,
        &["draft", "skip", &of("ann@acme.example")["id"].to_string()],
    );
    let cy = intros
        .iter()
        .find(|m| m.0 == "cy@gamma.example")
        .expect("cy's intro");
    let answer = format!(
        "From: Cy <cy@gamma.example>\r\nTo: Rita Rep <rep@example.com>\r\nSubject: Re: {}\r\n\
         Date: Mon, 09 Mar 2026 10:00:00 -0400\r\nMessage-ID: <cy-1@gamma.example>\r\n\
         In-Reply-To: {}\r\nReferences: {}\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nSounds good, call me on Thursday.\r\n",
        cy.2, cy.1, cy.1
    );
    s.imap.append("INBOX", answer.as_bytes());
    run_once(&s.p, T1);
    run_once(&s.p, T1);
    assert_eq!(copies(&mut s.imap), 1);
    assert_eq!(drafts(&s.p, T1).len(), 1, "only Bob's waits");
    let cy_id = of("cy@gamma.example")["id"].to_string();
    let void =
        s.p.cmd(&["draft", "send", &cy_id])
            .env("DRUMBEAT_NOW", T1)
            .output()
            .expect("run");
    assert_eq!(void.status.code(), Some(1), "{void:?}");
    assert!(
        String::from_utf8_lossy(&void.stderr).contains("void"),
        "{void:?}"
    );
    // Bob's is sent by a client that wrote its own Message-ID: matched by In-Reply-To and To.
    let (_, bob_intro, subject) = intros
        .iter()
        .find(|m| m.0 == "bob@beta.example")
        .expect("bob's intro");
    let raw = format!(
        "From: Rita Rep <rep@example.com>\r\nTo: Bob <bob@beta.example>\r\nSubject: Re: {subject}\r\n\
         Date: Tue, 10 Mar 2026 11:05:00 -0400\r\nMessage-ID: <client-1@mail.example.com>\r\n\
         In-Reply-To: {bob_intro}\r\nReferences: {bob_intro}\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nBob, one more thing.\r\n"
    );
    s.imap.append("Sent", raw.as_bytes());
    run_once(&s.p, T1);
    assert!(drafts(&s.p, T1).is_empty());
    for (email, state) in [
        ("ann@acme.example", "skipped"),
        ("bob@beta.example", "sent"),
    ] {
        let l = lead(&s.p, email);
        let value: Vec<_> = l["touches"]
            .as_array()
            .expect("touches")
            .iter()
            .filter(|t| t["step_id"] == "value")
            .collect();
        assert_eq!(value.len(), 1, "{l:#}");
        assert_eq!(value[0]["state"], state, "{l:#}");
        assert_eq!(l["enrollments"][0]["next_step_id"], "call", "{l:#}");
    }
    assert_eq!(
        s.sink.messages().len(),
        3,
        "only the intros went out from the daemon"
    );
}

//! Native CRM sync end to end against a local HubSpot (tests/e2e/support/crm): the real
//! binary, `run --once` at chosen instants. Sent emails become one contact per lead and one
//! email engagement per email; a lifecycle stage named in config.toml stops the lead with
//! outcome crm-stage; an outage delays the sync, shows in `status`, and loses nothing.

use serde_json::Value;

use crate::support::Project;
use crate::support::crm::hubspot::Hubspot;
use crate::support::daemon::{at, run_once};

const TOKEN: &str = "pat-na1-5e3c0ffe-test-token";
/// Thursday 2026-03-05, 10:00 in New York: inside cold-outbound's window.
const T0: &str = "2026-03-05T15:00:00Z";

/// A shipped project (outbox mailbox `ana`) synced with `hub`; the CRM's read position is set
/// by a first run, before any lead arrives.
fn project(hub: &Hubspot) -> Project {
    let p = Project::shipped();
    p.write("hubspot.token", format!("{TOKEN}\n"));
    let config = std::fs::read_to_string(p.file("config.toml")).expect("config");
    p.write(
        "config.toml",
        format!(
            "{config}\n[crm.hubspot]\ntoken = {{ file = \"hubspot.token\" }}\nbase_url = \"{}\"\n\
             stop_stages = [\"salesqualifiedlead\", \"customer\"]\npoll_every = \"15 minutes\"\n",
            hub.url
        ),
    );
    run_once(&p, "2026-03-05T14:00:00Z");
    p
}

fn import(p: &Project, rows: &str) {
    p.write(
        "leads.csv",
        format!("Email,First Name,Last Name,Company,Title,Time Zone\n{rows}"),
    );
    at(
        p,
        T0,
        &[
            "leads",
            "import",
            "leads.csv",
            "--sequence",
            "cold-outbound",
        ],
    );
}

fn crm_status(p: &Project, now: &str) -> Value {
    let run = at(p, now, &["status", "--json"]);
    assert!(!run.stdout.contains(TOKEN), "the token is never shown");
    run.json()["crm"][0].clone()
}

fn enrollment(p: &Project, email: &str, now: &str) -> Value {
    at(p, now, &["lead", "show", email, "--json"]).json()["enrollments"][0].clone()
}

#[test]
fn sent_emails_make_one_contact_and_one_engagement_each_and_a_stage_stops_the_lead() {
    let hub = Hubspot::start(TOKEN);
    let p = project(&hub);
    import(
        &p,
        "ada@one.example,Ada,Lovelace,One,CTO,America/New_York\n",
    );
    let (r, _) = run_once(&p, T0);
    assert_eq!(r["sent"], 1, "{r:#}");
    assert_eq!(r["crm"]["logged"], 1, "{r:#}");
    hub.with(|s| {
        assert_eq!(s.contacts.len(), 1);
        let c = &s.contacts[0].1;
        assert_eq!(c["email"], "ada@one.example");
        assert_eq!(c["firstname"], "Ada");
        assert_eq!(c["lastname"], "Lovelace");
        assert_eq!(c["company"], "One");
        assert_eq!(c["jobtitle"], "CTO");
        assert_eq!(s.emails.len(), 1);
        let (_, e, to) = &s.emails[0];
        assert_eq!(to, &s.contacts[0].0.to_string());
        assert_eq!(e["hs_email_direction"], "EMAIL");
        assert_eq!(e["hs_email_status"], "SENT");
        assert_eq!(e["hs_timestamp"], T0);
        assert!(
            e["hs_email_subject"]
                .as_str()
                .is_some_and(|s| !s.is_empty()),
            "{e:?}"
        );
        let headers: Value = serde_json::from_str(e["hs_email_headers"].as_str().unwrap()).unwrap();
        assert_eq!(headers["from"]["email"], "ana@example.com");
        assert_eq!(headers["to"][0]["email"], "ada@one.example");
    });
    // The rep moves the contact on in HubSpot: read at the next poll (15 minutes), not before.
    hub.set_stage("ada@one.example", "customer");
    run_once(&p, "2026-03-05T15:05:00Z");
    assert_eq!(
        enrollment(&p, "ada@one.example", "2026-03-05T15:05:00Z")["state"],
        "active"
    );
    let (r, _) = run_once(&p, "2026-03-05T15:16:00Z");
    assert_eq!(r["crm"]["stopped"], 1, "{r:#}");
    let e = enrollment(&p, "ada@one.example", "2026-03-05T15:16:00Z");
    assert_eq!(e["state"], "stopped", "{e:#}");
    assert_eq!(e["outcome"], "crm-stage", "{e:#}");
    let s = crm_status(&p, "2026-03-05T15:16:00Z");
    assert_eq!(
        (s["pending"].as_i64(), s["done"].as_i64()),
        (Some(0), Some(1)),
        "{s:#}"
    );
}

#[test]
fn an_outage_delays_the_sync_shows_in_status_and_loses_nothing() {
    let hub = Hubspot::start(TOKEN);
    let p = project(&hub);
    import(
        &p,
        "ada@one.example,Ada,Lovelace,One,CTO,America/New_York\n\
         bob@two.example,Bob,Babbage,Two,CEO,America/New_York\n",
    );
    hub.with(|s| s.outage = u32::MAX);
    let (r, _) = run_once(&p, T0);
    assert_eq!(r["sent"], 2, "{r:#}");
    assert_eq!(
        r["crm"]["retrying"], 1,
        "the first failure holds the rest: {r:#}"
    );
    let s = crm_status(&p, "2026-03-05T15:01:00Z");
    assert_eq!(s["pending"], 2, "{s:#}");
    assert_eq!(s["retrying"], 1, "{s:#}");
    assert_eq!(s["oldest_pending_age_seconds"], 60, "{s:#}");
    assert!(
        s["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("HTTP 503")),
        "{s:#}"
    );
    // Still down at the retry a minute later; then back, but the next try waits 2 minutes.
    let (r, _) = run_once(&p, "2026-03-05T15:01:00Z");
    assert_eq!(r["crm"]["retrying"], 1, "{r:#}");
    hub.with(|s| s.outage = 0);
    let asked = hub.with(|s| s.requests.len());
    let (r, _) = run_once(&p, "2026-03-05T15:02:00Z");
    assert_eq!(r["crm"]["logged"], 0, "{r:#}");
    assert_eq!(
        hub.with(|s| s.requests.len()),
        asked,
        "nothing asked before its time"
    );
    let (r, _) = run_once(&p, "2026-03-05T15:03:00Z");
    assert_eq!(r["crm"]["logged"], 2, "{r:#}");
    run_once(&p, "2026-03-05T15:10:00Z");
    hub.with(|s| {
        let mut emails: Vec<&str> = s
            .contacts
            .iter()
            .map(|(_, c)| c["email"].as_str().unwrap())
            .collect();
        emails.sort_unstable();
        assert_eq!(emails, ["ada@one.example", "bob@two.example"]);
        assert_eq!(s.emails.len(), 2, "each email once: {:?}", s.emails);
        let mut to: Vec<&String> = s.emails.iter().map(|(_, _, to)| to).collect();
        to.dedup();
        assert_eq!(to.len(), 2);
    });
    let s = crm_status(&p, "2026-03-05T15:10:00Z");
    assert_eq!(s["pending"], 0, "{s:#}");
    assert_eq!(s["done"], 2, "{s:#}");
    assert_eq!(s["last_error"], Value::Null, "{s:#}");
}

#[test]
fn a_wrong_token_is_retried_and_never_shown() {
    let hub = Hubspot::start("pat-na1-the-right-one");
    let p = project(&hub);
    import(
        &p,
        "ada@one.example,Ada,Lovelace,One,CTO,America/New_York\n",
    );
    run_once(&p, T0);
    let s = crm_status(&p, T0);
    assert_eq!(s["pending"], 1, "{s:#}");
    let e = s["last_error"].as_str().unwrap_or_default();
    assert!(e.contains("HTTP 401") && e.contains("token"), "{s:#}");
    let human = at(&p, T0, &["status"]);
    assert!(human.stdout.contains("CRM sync"), "{}", human.stdout);
    assert!(!human.stdout.contains(TOKEN));
}

#[test]
fn pipedrive_gets_a_person_and_email_activities_and_a_won_deal_stops_the_lead() {
    let pd = crate::support::crm::pipedrive::Pipedrive::start(TOKEN);
    let p = Project::shipped();
    p.write("pipedrive.token", format!("{TOKEN}\n"));
    let config = std::fs::read_to_string(p.file("config.toml")).expect("config");
    p.write(
        "config.toml",
        format!(
            "{config}\n[crm.pipedrive]\ntoken = {{ file = \"pipedrive.token\" }}\nbase_url = \"{}\"\n\
             stop_stages = [\"won\", \"Contract signed\"]\npoll_every = \"5 minutes\"\n",
            pd.url
        ),
    );
    run_once(&p, "2026-03-05T14:00:00Z");
    import(
        &p,
        "ada+crm@one.example,Ada,Lovelace,One,CTO,America/New_York\n\
         bob@two.example,Bob,Babbage,Two,CEO,America/New_York\n",
    );
    let (r, _) = run_once(&p, T0);
    assert_eq!(r["crm"]["logged"], 2, "{r:#}");
    pd.with(|s| {
        let mut persons: Vec<(&str, &str)> = s
            .persons
            .iter()
            .map(|p| (p.1.as_str(), p.2.as_str()))
            .collect();
        persons.sort_unstable();
        assert_eq!(
            persons,
            [
                ("Ada Lovelace", "ada+crm@one.example"),
                ("Bob Babbage", "bob@two.example")
            ]
        );
        assert_eq!(s.activities.len(), 2);
        for a in &s.activities {
            assert_eq!(a["type"], "email");
            assert_eq!(a["done"], 1);
            assert_eq!(a["due_date"], "2026-03-05");
            assert!(
                a["subject"].as_str().unwrap().starts_with("Email sent: "),
                "{a}"
            );
        }
        assert!(
            s.requests.iter().all(|r| !r.path.contains(TOKEN)),
            "no token in a URL"
        );
    });
    // Bob's deal reaches a stage named in config.toml; Ada's is merely proposed.
    pd.set_deal("bob@two.example", "open", "Contract signed");
    pd.set_deal("ada+crm@one.example", "open", "Proposal made");
    let (r, _) = run_once(&p, "2026-03-05T15:06:00Z");
    assert_eq!(r["crm"]["stopped"], 1, "{r:#}");
    let bob = enrollment(&p, "bob@two.example", "2026-03-05T15:06:00Z");
    assert_eq!(
        (bob["state"].as_str(), bob["outcome"].as_str()),
        (Some("stopped"), Some("crm-stage")),
        "{bob:#}"
    );
    assert_eq!(
        enrollment(&p, "ada+crm@one.example", "2026-03-05T15:06:00Z")["state"],
        "active"
    );
    // Ada's deal is won: the next poll stops her too.
    pd.set_deal("ada+crm@one.example", "won", "Proposal made");
    let (r, _) = run_once(&p, "2026-03-05T15:12:00Z");
    assert_eq!(r["crm"]["stopped"], 1, "{r:#}");
    assert_eq!(
        enrollment(&p, "ada+crm@one.example", "2026-03-05T15:12:00Z")["outcome"],
        "crm-stage"
    );
}

/// Two sends over SMTP and a reply read from a real Dovecot: one contact, two outgoing and one
/// incoming email engagements, in that order, none twice.
#[test]
fn two_sends_and_a_reply_make_one_contact_and_three_engagements_in_order() {
    use crate::support::daemon::smtp_project;
    use crate::support::imap::{Imap, fresh_user, imap_server};
    use crate::support::sink::Sink;
    use std::time::Duration;

    let test = "two_sends_and_a_reply_make_one_contact_and_three_engagements_in_order";
    let Some(server) = imap_server(test) else {
        return;
    };
    let Some(sink) = Sink::start(test, &[]) else {
        return;
    };
    let hub = Hubspot::start(TOKEN);
    let user = fresh_user(test);
    let mut imap = Imap::login(&server, &user);
    let p = smtp_project(
        &sink,
        "[sending]\njitter = \"0\"\ndomain_hourly_limit = 0\n",
    );
    p.write("hubspot.token", TOKEN);
    let config = std::fs::read_to_string(p.file("config.toml")).expect("config");
    p.write(
        "config.toml",
        format!(
            "{config}[mailbox.imap]\nhost = \"{}\"\nport = {}\nsecurity = \"none\"\nusername = \"{user}\"\n\
             password = {{ env = \"DRUMBEAT_TEST_IMAP_PASSWORD\" }}\n\n\
             [crm.hubspot]\ntoken = {{ file = \"hubspot.token\" }}\nbase_url = \"{}\"\n",
            server.0, server.1, hub.url
        ),
    );
    run_once(&p, "2026-03-05T14:00:00Z");
    p.write(
        "leads.csv",
        "Email,First Name,Company,Time Zone\nann@acme.example,Ann,Acme,America/New_York\n",
    );
    at(
        &p,
        "2026-03-05T14:00:00Z",
        &["leads", "import", "leads.csv", "--sequence", "e2e"],
    );
    // The intro on Thursday, the value follow-up on Tuesday (Monday 9 March is a holiday).
    assert_eq!(run_once(&p, T0).0["sent"], 1);
    assert_eq!(run_once(&p, "2026-03-10T15:00:00Z").0["sent"], 1);
    let sent = sink.wait_for(2, Duration::from_secs(10));
    let mid = sent[1].header("Message-ID").expect("Message-ID");
    let reply = format!(
        "From: Ann <ann@acme.example>\r\nTo: Rita Rep <rep@example.com>\r\nSubject: Re: more\r\n\
         Date: Tue, 10 Mar 2026 17:12:09 +0100\r\nMessage-ID: <crm-reply@mail.example>\r\n\
         In-Reply-To: {mid}\r\nReferences: {mid}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         Thanks Rita, can we talk Thursday at 3?\r\n"
    );
    imap.append("INBOX", reply.as_bytes());
    let (r, _) = run_once(&p, "2026-03-10T16:30:00Z");
    assert_eq!(r["crm"]["logged"], 1, "{r:#}");
    run_once(&p, "2026-03-10T17:00:00Z");
    hub.with(|s| {
        assert_eq!(s.contacts.len(), 1, "{:?}", s.contacts);
        assert_eq!(s.contacts[0].1["email"], "ann@acme.example");
        let directions: Vec<&str> = s
            .emails
            .iter()
            .map(|(_, e, _)| e["hs_email_direction"].as_str().unwrap())
            .collect();
        assert_eq!(directions, ["EMAIL", "EMAIL", "INCOMING_EMAIL"]);
        let times: Vec<&str> = s
            .emails
            .iter()
            .map(|(_, e, _)| e["hs_timestamp"].as_str().unwrap())
            .collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
        let incoming = &s.emails[2].1;
        let headers: Value =
            serde_json::from_str(incoming["hs_email_headers"].as_str().unwrap()).unwrap();
        assert_eq!(headers["from"]["email"], "ann@acme.example");
        assert_eq!(headers["to"][0]["email"], "rep@example.com");
        let contact = s.contacts[0].0.to_string();
        assert!(s.emails.iter().all(|(_, _, to)| *to == contact));
    });
}

#[test]
fn validate_warns_of_a_crm_token_it_cannot_read() {
    let p = Project::shipped();
    let config = std::fs::read_to_string(p.file("config.toml")).expect("config");
    p.write(
        "config.toml",
        format!("{config}\n[crm.hubspot]\ntoken = {{ file = \"missing.token\" }}\n"),
    );
    let run = p.run(&["validate"]);
    let said = format!("{}{}", run.stdout, run.stderr);
    assert!(
        said.contains("crm.hubspot.token: cannot read secret file"),
        "{said}"
    );
}

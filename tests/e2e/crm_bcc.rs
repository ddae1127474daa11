//! A mailbox's `bcc` (a CRM's logging address): every email to a lead also goes to it as a
//! second SMTP envelope recipient, never as a header the lead could see; an outbox records the
//! same envelope beside each `.eml`; a bad address is reported at its line.

use std::time::Duration;

use crate::support::Project;
use crate::support::daemon::{at, run_once, smtp_project};
use crate::support::sink::Sink;

const BCC: &str = "123456@bcc.hubspot.com";

#[test]
fn every_email_from_the_mailbox_also_reaches_the_bcc_envelope_recipient_only() {
    let test = "every_email_from_the_mailbox_also_reaches_the_bcc_envelope_recipient_only";
    let Some(sink) = Sink::start(test, &[]) else {
        return;
    };
    let p = smtp_project(&sink, "");
    p.edit(
        "config.toml",
        "daily_cap = 500\n",
        &format!("daily_cap = 500\nbcc = \"{BCC}\"\n"),
    );
    p.write(
        "leads.csv",
        "Email,First Name,Company,Time Zone\n\
         ada@one.example,Ada,One,America/New_York\n\
         bob@two.example,Bob,Two,America/New_York\n",
    );
    // Thursday 2026-03-05 15:00 UTC: 10:00 in New York, inside the window.
    let now = "2026-03-05T15:00:00Z";
    at(
        &p,
        now,
        &["leads", "import", "leads.csv", "--sequence", "e2e"],
    );
    run_once(&p, now);
    let got = sink.wait_for(2, Duration::from_secs(20));
    assert_eq!(got.len(), 2, "one message per lead, not one per recipient");
    let mut leads: Vec<String> = Vec::new();
    for m in &got {
        assert_eq!(m.rcpts.len(), 2, "{:?}", m.rcpts);
        assert_eq!(m.rcpts[1], BCC, "the bcc is the second RCPT TO");
        assert_eq!(
            m.header("To").as_deref().map(|t| t.contains(&m.rcpts[0])),
            Some(true)
        );
        assert_eq!(m.header("Bcc"), None, "no Bcc: header in the message");
        assert!(
            !String::from_utf8_lossy(&m.raw).contains(BCC),
            "the lead's copy never names the logging address"
        );
        leads.push(m.rcpts[0].clone());
    }
    leads.sort();
    assert_eq!(leads, ["ada@one.example", "bob@two.example"]);
}

#[test]
fn the_outbox_records_the_envelope_with_the_bcc_beside_each_message() {
    let p = Project::shipped();
    p.edit(
        "config.toml",
        "daily_cap = 40\n",
        &format!("daily_cap = 40\nbcc = \"{BCC}\"\n"),
    );
    p.write(
        "leads.csv",
        "Email,First Name,Company,Time Zone\nada@one.example,Ada,One,America/New_York\n",
    );
    let now = "2026-03-05T15:00:00Z";
    at(
        &p,
        now,
        &[
            "leads",
            "import",
            "leads.csv",
            "--sequence",
            "cold-outbound",
        ],
    );
    run_once(&p, now);
    let mut names: Vec<String> = std::fs::read_dir(p.file("data/outbox"))
        .expect("the outbox")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 2, "{names:?}");
    let (eml, envelope) = (&names[0], &names[1]);
    assert!(
        eml.ends_with(".eml") && envelope.ends_with(".envelope"),
        "{names:?}"
    );
    assert_eq!(
        eml.trim_end_matches(".eml"),
        envelope.trim_end_matches(".envelope")
    );
    assert_eq!(
        std::fs::read_to_string(p.file(&format!("data/outbox/{envelope}"))).unwrap(),
        format!("MAIL FROM:<ana@example.com>\nRCPT TO:<ada@one.example>\nRCPT TO:<{BCC}>\n")
    );
    let message = std::fs::read_to_string(p.file(&format!("data/outbox/{eml}"))).unwrap();
    assert!(!message.contains(BCC), "{message}");
}

#[test]
fn a_bcc_that_is_not_an_address_is_reported_at_its_line() {
    let p = Project::shipped();
    p.edit(
        "config.toml",
        "daily_cap = 40\n",
        "daily_cap = 40\nbcc = \"hubspot\"\n",
    );
    let run = p.run(&["validate"]);
    run.code(1);
    let line = std::fs::read_to_string(p.file("config.toml"))
        .unwrap()
        .lines()
        .position(|l| l.starts_with("bcc = "))
        .expect("the bcc line")
        + 1;
    assert!(
        run.stdout
            .contains(&format!("config.toml:{line}:7: mailbox \"ana\": bcc: ")),
        "{}",
        run.stdout
    );
}

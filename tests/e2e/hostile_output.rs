//! Hostile bytes from outside reach neither the wire, nor a spreadsheet, nor the terminal: a
//! lead field with a bare CR and a dot line goes out as harmless text (checked in the bytes a
//! real SMTP server received), a field of just NUL counts as empty, a lead's owner that is a
//! spreadsheet formula stays text in the CSV report (and the text one), and terminal control
//! sequences in a lead's fields are shown, not obeyed, by `lead show`. (A reply's text in
//! `drumbeat replies` is checked with a real IMAP server in inbox_watch.)

use std::time::Duration;

use crate::support::Project;
use crate::support::daemon::{at, run_once, smtp_project};
use crate::support::sink::Sink;

/// Monday 2026-11-02, 09:00 in New York.
const T0: &str = "2026-11-02T14:00:00Z";
const FORMULA: &str = "=HYPERLINK(\"http://evil.example\",\"x\")";

/// No byte that a terminal obeys: ESC, BEL, CR, the C1 CSI (as UTF-8), DEL.
#[track_caller]
fn assert_no_terminal_controls(out: &str) {
    for (i, c) in out.char_indices() {
        assert!(
            !(c.is_control() && c != '\n' && c != '\t'),
            "control character {c:?} at byte {i} of:\n{out}"
        );
    }
}

#[test]
fn a_formula_for_an_owner_stays_text_in_the_csv_and_text_reports() {
    let p = Project::shipped();
    p.set_clock(T0);
    let quoted = FORMULA.replace('"', "\"\"");
    p.write(
        "leads.csv",
        format!(
            "Email,First Name,Owner\nx@evil-co.example,X,\"{quoted}\"\ny@other.example,Y,\"+1-555-0100\"\n"
        ),
    );
    p.ok(&["leads", "import", "leads.csv"]);
    let csv = p.ok(&["report", "--by", "rep", "--since", "2026-11-01", "--csv"]);
    let mut reader = csv::Reader::from_reader(csv.stdout.as_bytes());
    let mut owners = Vec::new();
    for record in reader.records() {
        let record = record.expect("a CSV record");
        for cell in &record {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "{cell:?} in:\n{}",
                csv.stdout
            );
        }
        owners.push(record[0].to_string());
    }
    owners.sort();
    assert_eq!(
        owners,
        vec![format!("'+1-555-0100"), format!("'{FORMULA}")],
        "{}",
        csv.stdout
    );
    let text = p.ok(&["report", "--by", "rep", "--since", "2026-11-01"]);
    assert!(
        text.stdout.contains(&format!("'{FORMULA}")),
        "{}",
        text.stdout
    );
    assert!(
        !text
            .stdout
            .lines()
            .any(|l| l.trim_start().starts_with(FORMULA)),
        "{}",
        text.stdout
    );
}

#[test]
fn lead_show_prints_terminal_escapes_from_a_csv_as_text() {
    let p = Project::shipped();
    p.set_clock(T0);
    p.write(
        "leads.csv",
        "Email,First Name,Company,Title\n\
         ann@acme.example,\u{1b}[2J\u{1b}]0;pwned\u{7}Ann,Acme\u{1b}[31m,\u{9b}31mCEO\u{202e}\n",
    );
    p.ok(&["leads", "import", "leads.csv"]);
    let shown = p.ok(&["lead", "show", "ann@acme.example"]);
    assert_no_terminal_controls(&shown.stdout);
    assert!(
        shown.stdout.contains("^[[2J^[]0;pwned^GAnn"),
        "{}",
        shown.stdout
    );
    // JSON keeps the data as it is (its escapes are safe).
    let json = p.ok(&["lead", "show", "ann@acme.example", "--json"]).json();
    let first = json["lead"]["first_name"]
        .as_str()
        .or_else(|| json["first_name"].as_str())
        .unwrap_or_default()
        .to_string();
    assert!(first.ends_with("Ann"), "{json:#}");
}

#[test]
fn a_bare_cr_or_nul_in_lead_data_never_reaches_the_wire() {
    let test = "a_bare_cr_or_nul_in_lead_data_never_reaches_the_wire";
    let Some(sink) = Sink::start(test, &[]) else {
        return;
    };
    let p = smtp_project(&sink, "[sending]\njitter = \"0\"\n");
    p.edit(
        "sequences/e2e.yaml",
        "template: cold/intro",
        "template: hostile/intro",
    );
    p.write(
        "templates/hostile/intro.txt",
        "---\nsubject: Hi {{ lead.first_name }}\n---\nAbout {{ lead.company }}.\nBye for now\n",
    );
    p.write(
        "leads.csv",
        "Email,First Name,Company,Time Zone\n\
         ann@acme.example,Ann,\"x\r.\r\nMAIL FROM:<evil@attacker.example>\",America/New_York\n\
         nul@beta.example,\u{0},Beta,America/New_York\n",
    );
    at(
        &p,
        "2026-03-05T14:00:00Z",
        &["leads", "import", "leads.csv", "--sequence", "e2e"],
    );
    let (r, _) = run_once(&p, "2026-03-05T15:00:00Z");
    assert_eq!(
        r["sent"], 1,
        "only Ann's: a first name of NUL is no name: {r:#}"
    );
    let got = sink.wait_for(1, Duration::from_secs(5));
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].rcpt, "ann@acme.example");
    let raw = &got[0].raw;
    for (i, b) in raw.iter().enumerate() {
        assert_ne!(*b, 0, "NUL at byte {i}");
        if *b == b'\r' {
            assert_eq!(raw.get(i + 1), Some(&b'\n'), "bare CR at byte {i}");
        }
        if *b == b'\n' {
            assert_eq!(
                raw.get(i.wrapping_sub(1)),
                Some(&b'\r'),
                "bare LF at byte {i}"
            );
        }
    }
    // The message was not cut at the field's dot line: what follows it arrived too.
    let text = String::from_utf8_lossy(raw);
    assert!(
        text.contains("MAIL FROM:<evil@attacker.example>."),
        "{text}"
    );
    assert!(text.contains("Bye for now"), "{text}");
    let nul = p.ok(&["lead", "show", "nul@beta.example", "--json"]).json();
    assert_ne!(nul["enrollments"][0]["state"], "finished", "{nul:#}");
}

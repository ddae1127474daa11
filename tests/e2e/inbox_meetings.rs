//! Calendar mail (iMIP, RFC 6047) through the real watcher and a real Dovecot: a lead's own
//! invitation (Google Calendar's shape) and another lead's acceptance (Outlook's) stop both
//! with outcome meeting-booked, shown by `lead show` as `via imip, meeting at …`; a decline is
//! a person's reply for the rep; a cancel is a line in the timeline; the same invitation twice
//! records one meeting; the rep's own invitation changes nothing.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::inbox_watch::{T1, lead, send_intros, setup};
use crate::support::daemon::{at, run_once};

const DANA: &str = "dana@northwind.example";
const OMAR: &str = "omar@contoso.example";
const LEE: &str = "lee@fabrikam.example";

fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/imip")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn events(v: &Value, kind: &str) -> Vec<Value> {
    v["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["kind"] == kind)
        .cloned()
        .collect()
}

#[test]
fn imip_invitation_and_acceptance_stop_their_leads_and_a_decline_is_a_reply() {
    let test = "imip_invitation_and_acceptance_stop_their_leads";
    let Some(mut s) = setup(
        test,
        &[(DANA, "Northwind"), (OMAR, "Contoso"), (LEE, "Fabrikam")],
    ) else {
        return;
    };
    send_intros(&s, 3);
    for name in [
        "google-request.eml",
        // The same invitation again (another copy): still one meeting.
        "google-request.eml",
        "outlook-reply-accepted.eml",
        "google-reply-declined.eml",
        "outlook-request-from-rep.eml",
    ] {
        s.imap.append("INBOX", &fixture(name));
    }

    // The follow-ups are due at T1; the inbox is read first. Wait (bounded) for both meetings.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (r, _) = run_once(&s.p, T1);
        // Nobody gets a follow-up: two meetings and a reply were read before any claim.
        assert_eq!(r["sent"], 0, "{r:#}");
        let booked = [DANA, OMAR]
            .iter()
            .all(|l| lead(&s.p, l)["enrollments"][0]["outcome"] == "meeting-booked");
        if booked {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "leads not stopped: {:#} {:#}",
            lead(&s.p, DANA),
            lead(&s.p, OMAR)
        );
    }
    for (who, at_utc) in [
        (DANA, "2026-03-12 18:00 UTC"),
        (OMAR, "2026-03-16 09:00 UTC"),
    ] {
        let v = lead(&s.p, who);
        assert_eq!(v["enrollments"][0]["state"], "stopped", "{v:#}");
        let meetings = events(&v, "meeting-booked");
        assert_eq!(meetings.len(), 1, "{v:#}");
        assert_eq!(meetings[0]["data"]["source"], "imip", "{v:#}");
        let shown = at(&s.p, T1, &["lead", "show", who]).stdout;
        let line = shown
            .lines()
            .find(|l| l.contains("meeting-booked"))
            .unwrap_or_else(|| panic!("no meeting in the timeline: {shown}"));
        assert!(
            line.ends_with(&format!("via imip, meeting at {at_utc}")),
            "{shown}"
        );
    }
    // Lee declined: a person's reply for the rep, not a meeting.
    let lee = lead(&s.p, LEE);
    assert_eq!(lee["enrollments"][0]["state"], "replied", "{lee:#}");
    assert!(events(&lee, "meeting-booked").is_empty(), "{lee:#}");
    let status = at(&s.p, T1, &["status", "--json"]).json();
    let reply = status["needs_attention"]
        .as_array()
        .expect("attention")
        .iter()
        .find(|a| a["kind"] == "reply")
        .cloned()
        .unwrap_or_else(|| panic!("{status:#}"));
    assert_eq!(reply["email"], LEE, "{status:#}");

    // Dana calls the meeting off: a line in her timeline, and she stays stopped.
    s.imap.append("INBOX", &fixture("google-cancel.eml"));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        run_once(&s.p, T1);
        let v = lead(&s.p, DANA);
        if !events(&v, "meeting-cancelled").is_empty() {
            assert_eq!(v["enrollments"][0]["state"], "stopped", "{v:#}");
            assert_eq!(events(&v, "meeting-booked").len(), 1, "{v:#}");
            break;
        }
        assert!(Instant::now() < deadline, "no cancel recorded: {v:#}");
    }
}

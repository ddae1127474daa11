//! The calendar reader on the fixtures in tests/fixtures/imip/ (shaped like Google Calendar's
//! and Outlook/Exchange's mail, and RFC 6047's examples), and on any bytes.

use chrono::{DateTime, Utc};
use proptest::prelude::*;

use super::*;

const REP: &str = "rep@example.com";

fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/imip")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("a valid time")
        .with_timezone(&Utc)
}

/// The fixture, read as it is (CRLF) and with LF line ends (how some stores hand mail over).
fn both_line_ends(name: &str) -> [Invitation; 2] {
    let raw = fixture(name);
    let lf: Vec<u8> = String::from_utf8_lossy(&raw)
        .replace("\r\n", "\n")
        .into_bytes();
    let a = read(&raw).unwrap_or_else(|| panic!("{name}: no invitation read"));
    let b = read(&lf).unwrap_or_else(|| panic!("{name} (LF): no invitation read"));
    assert_eq!(a, b, "{name}: CRLF and LF read differently");
    [a, b]
}

#[test]
fn google_invitation_from_the_lead_is_a_booking_at_its_new_york_time() {
    let [inv, _] = both_line_ends("google-request.eml");
    assert_eq!(inv.method, Method::Request);
    assert_eq!(inv.uid, "5u1r3kq0p8vb7c2hm4d6ne9tfa@google.com");
    assert_eq!(inv.organizer.as_deref(), Some("dana@northwind.example"));
    // 14:00 in New York on 12 March 2026 is daylight time (from 8 March): 18:00 UTC.
    assert_eq!(inv.start, Some(utc("2026-03-12T18:00:00Z")));
    assert_eq!(inv.summary.as_deref(), Some("Northwind / Rita: intro call"));
    // The folded ATTENDEE lines are read whole.
    let rep = inv.attendees.iter().find(|a| a.email == REP).expect("rep");
    assert_eq!(rep.partstat, PartStat::NeedsAction);
    assert_eq!(
        meaning(&inv, "dana@northwind.example", REP),
        Meaning::Booked
    );
    // The same invitation forwarded by someone else books nothing.
    assert_eq!(
        meaning(&inv, "someone@northwind.example", REP),
        Meaning::Unrelated
    );
}

#[test]
fn google_cancel_from_the_organizer_is_a_cancel_of_the_same_meeting() {
    let [inv, _] = both_line_ends("google-cancel.eml");
    assert_eq!(inv.method, Method::Cancel);
    assert_eq!(inv.uid, "5u1r3kq0p8vb7c2hm4d6ne9tfa@google.com");
    assert_eq!(
        meaning(&inv, "dana@northwind.example", REP),
        Meaning::Cancelled
    );
}

#[test]
fn google_declined_reply_is_an_answer_not_a_booking() {
    let [inv, _] = both_line_ends("google-reply-declined.eml");
    assert_eq!(inv.method, Method::Reply);
    assert_eq!(inv.organizer.as_deref(), Some(REP));
    assert_eq!(inv.start, Some(utc("2026-03-12T17:00:00Z")));
    assert_eq!(
        meaning(&inv, "lee@fabrikam.example", REP),
        Meaning::Answered(PartStat::Declined)
    );
}

#[test]
fn tentative_reply_is_an_answer_too() {
    let raw = String::from_utf8(fixture("google-reply-declined.eml"))
        .expect("ASCII")
        .replace("PARTSTAT=DECLINED", "PARTSTAT=TENTATIVE");
    // The attachment copy (base64) still says DECLINED; the inline part is read first.
    let inv = read(raw.as_bytes()).expect("an invitation");
    assert_eq!(
        meaning(&inv, "lee@fabrikam.example", REP),
        Meaning::Answered(PartStat::Tentative)
    );
}

#[test]
fn outlook_accepted_reply_is_a_booking_at_its_windows_zone_time() {
    let [inv, _] = both_line_ends("outlook-reply-accepted.eml");
    assert_eq!(inv.method, Method::Reply);
    // The UID is folded over two lines.
    assert_eq!(
        inv.uid,
        "040000008200E00074C5B7101A82E00800000000D0B1E5C2F1ABDC01000000000000000010000000A5E1B6E7C6F4D84E9D2F1A0B3C4D5E6F"
    );
    // 10:00 "W. Europe Standard Time" on 16 March 2026 is CET (+01:00): 09:00 UTC.
    assert_eq!(inv.start, Some(utc("2026-03-16T09:00:00Z")));
    // Addresses compare lowercase.
    assert_eq!(meaning(&inv, "omar@contoso.example", REP), Meaning::Booked);
}

#[test]
fn the_reps_own_invitation_is_ours() {
    let [inv, _] = both_line_ends("outlook-request-from-rep.eml");
    assert_eq!(inv.method, Method::Request);
    assert_eq!(inv.organizer.as_deref(), Some(REP));
    assert_eq!(meaning(&inv, REP, REP), Meaning::Ours);
    assert_eq!(meaning(&inv, "omar@contoso.example", REP), Meaning::Ours);
}

#[test]
fn rfc6047_reply_without_a_start_is_read() {
    let [inv, _] = both_line_ends("rfc6047-reply.eml");
    assert_eq!(inv.method, Method::Reply);
    assert_eq!(inv.uid, "calsvr.example.com-8739701987387771");
    assert_eq!(inv.start, None);
    assert_eq!(
        meaning(
            &inv,
            "sman@netscape.example.com",
            "stevesil@microsoft.example.com"
        ),
        Meaning::Booked
    );
}

#[test]
fn the_mime_method_stands_in_for_a_missing_method_property() {
    let raw = String::from_utf8(fixture("rfc6047-reply.eml"))
        .expect("ASCII")
        .replace("METHOD:REPLY\r\n", "");
    let inv = read(raw.as_bytes()).expect("an invitation");
    assert_eq!(inv.method, Method::Reply);
}

#[test]
fn plain_mail_and_calendars_without_events_are_no_invitation() {
    assert_eq!(
        read(b"From: a@b.example\r\nSubject: hi\r\n\r\nhello\r\n"),
        None
    );
    let no_event = "From: a@b.example\r\nContent-Type: text/calendar; method=REQUEST\r\n\r\n\
                    BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n";
    assert_eq!(read(no_event.as_bytes()), None);
    assert_eq!(parse_ics("BEGIN:VCARD\r\nFN:x\r\nEND:VCARD\r\n"), None);
}

#[test]
fn floating_and_all_day_starts_are_unknown_not_guessed() {
    let ics = |dtstart: &str| {
        format!(
            "BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nUID:x1\r\n{dtstart}\r\n\
             ORGANIZER:MAILTO:Ann@Example.com\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
        )
    };
    let floating = parse_ics(&ics("DTSTART:20260312T140000")).expect("event");
    assert_eq!(floating.start, None);
    assert_eq!(floating.organizer.as_deref(), Some("ann@example.com"));
    let all_day = parse_ics(&ics("DTSTART;VALUE=DATE:20260312")).expect("event");
    assert_eq!(all_day.start, None);
    let zoned = parse_ics(&ics("DTSTART;TZID=Europe/Berlin:20260701T100000")).expect("event");
    assert_eq!(zoned.start, Some(utc("2026-07-01T08:00:00Z")));
    let unknown = parse_ics(&ics("DTSTART;TZID=Nowhere/Special:20260701T100000")).expect("event");
    assert_eq!(unknown.start, None);
}

fn all_fixtures() -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/imip");
    let mut out: Vec<Vec<u8>> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                .filter_map(|p| std::fs::read(p).ok())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

#[test]
fn the_fixture_folder_is_not_empty() {
    assert!(all_fixtures().len() >= 6);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes_read_without_panic(raw in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = read(&raw);
        let _ = parse_ics(&String::from_utf8_lossy(&raw));
    }

    #[test]
    fn calendar_like_text_reads_without_panic(
        lines in proptest::collection::vec(
            "(BEGIN|END|METHOD|UID|DTSTART|ORGANIZER|ATTENDEE|TZID|SUMMARY)(;[A-Z]{1,8}=[ -~]{0,12})?:[ -~]{0,40}",
            0..24,
        )
    ) {
        let body = format!("BEGIN:VCALENDAR\r\n{}\r\nEND:VCALENDAR\r\n", lines.join("\r\n"));
        if let Some(inv) = parse_ics(&body) {
            let _ = meaning(&inv, "a@b.example", "c@d.example");
        }
    }

    #[test]
    fn mutated_fixtures_read_without_panic(
        pick in any::<prop::sample::Index>(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..24),
        cut in any::<prop::sample::Index>(),
    ) {
        let all = all_fixtures();
        prop_assume!(!all.is_empty());
        let mut raw = all[pick.index(all.len())].clone();
        for (at, byte) in edits {
            let i = at.index(raw.len().max(1));
            if i < raw.len() {
                raw[i] = byte;
            }
        }
        raw.truncate(cut.index(raw.len() + 1).max(raw.len() / 2));
        if let Some(inv) = read(&raw) {
            let _ = meaning(&inv, "dana@northwind.example", REP);
        }
    }
}

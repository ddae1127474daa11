//! The inbox: what a message that arrives in a rep's mailbox means. [`parse`] reads the raw
//! bytes (threading ids, automation headers, bounce reports, the visible reply) and
//! [`classify`] decides: bounce (hard or soft), auto-reply, unsubscribe request, "contact me
//! later", or a human reply. Pure functions, no I/O: the IMAP watcher ([`watch`], over
//! [`imap`]) and `drumbeat classify` sit on top.
//!
//! Neither panics on any input (property-tested here, fuzzed in `fuzz/`).

pub mod calendar;
pub mod classify;
mod dates;
pub mod drafts;
pub mod imap;
mod look;
mod machine;
mod meetings;
pub mod parse;
mod reply_text;
pub mod sent_copies;
pub mod watch;
mod words;

pub use classify::{Classification, Kind, classify};
pub use parse::{Inbound, ParseError, parse};

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn received() -> chrono::NaiveDate {
        chrono::NaiveDate::from_ymd_opt(2026, 3, 2).expect("a valid date")
    }

    fn fixtures() -> Vec<Vec<u8>> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mail");
        let mut out: Vec<Vec<u8>> = std::fs::read_dir(&dir)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                    .filter_map(|p| std::fs::read(p).ok())
                    .collect()
            })
            .unwrap_or_default();
        out.sort();
        // Without the corpus (a packaged crate), mutate a small bounce instead.
        out.push(SAMPLE.to_vec());
        out
    }

    const SAMPLE: &[u8] =
        b"From: MAILER-DAEMON@example.org\r\nSubject: Undelivered Mail Returned to Sender\r\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n--b\r\n\
Content-Type: text/plain\r\n\r\nI'm sorry. <ann@example.net>: 550 5.1.1 unknown\r\n--b\r\n\
Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; example.org\r\n\r\n\
Final-Recipient: rfc822; ann@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\n--b--\r\n";

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn any_bytes_parse_and_classify_without_panic(raw in proptest::collection::vec(any::<u8>(), 0..2048)) {
            if let Ok(mail) = parse(&raw) {
                let _ = classify(&mail, received());
            }
        }

        #[test]
        fn header_like_text_parses_and_classifies_without_panic(
            raw in "(From|To|Subject|Content-Type|Auto-Submitted|X-Failed-Recipients|Message-ID|In-Reply-To): [ -~]{0,60}\r?\n(.{0,80}\r?\n){0,6}\r?\n[ -~\n]{0,400}"
        ) {
            if let Ok(mail) = parse(raw.as_bytes()) {
                let _ = classify(&mail, received());
            }
        }

        #[test]
        fn mutated_fixtures_parse_and_classify_without_panic(
            pick in any::<prop::sample::Index>(),
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..24),
            cut in any::<prop::sample::Index>(),
        ) {
            let all = fixtures();
            let mut raw = all[pick.index(all.len())].clone();
            for (at, byte) in edits {
                let i = at.index(raw.len().max(1));
                if i < raw.len() {
                    raw[i] = byte;
                }
            }
            let keep = cut.index(raw.len() + 1);
            raw.truncate(keep.max(raw.len() / 2));
            if let Ok(mail) = parse(&raw) {
                let _ = classify(&mail, received());
            }
        }
    }
}

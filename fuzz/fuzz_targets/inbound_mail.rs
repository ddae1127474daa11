//! Any bytes as an inbound message (what an IMAP server hands the inbox watcher): parsing and
//! classifying never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(mail) = drumbeat::inbox::parse(data) {
        let received = chrono::NaiveDate::from_ymd_opt(2026, 3, 2).expect("a valid date");
        let _ = drumbeat::inbox::classify(&mail, received);
    }
});

//! A vCard contact export (Apple Contacts, Google Contacts, Outlook, Thunderbird) with any
//! bytes: splitting it into cards and reading each card's fields never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(reader) = drumbeat::lead::vcard::CardReader::from_bytes("fuzz.vcf", data) {
        for row in reader.take(10_000) {
            let _ = row;
        }
    }
});

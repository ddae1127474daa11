//! Any bytes as calendar mail (iMIP, RFC 6047) or a bare iCalendar object: finding the
//! scheduling object, reading it and deciding what it means never panic.
#![no_main]
use drumbeat::inbox::calendar;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(inv) = calendar::read(data) {
        let _ = calendar::meaning(&inv, "dana@northwind.example", "rep@example.com");
    }
    if let Some(inv) = calendar::parse_ics(&String::from_utf8_lossy(data)) {
        let _ = calendar::meaning(&inv, "lee@fabrikam.example", "rep@example.com");
    }
});

//! Waits and window hours with any text: parsing never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = text.parse::<drumbeat::schedule::Wait>();
        let _ = drumbeat::schedule::SendWindow::parse_hours(text);
        let items: Vec<String> = text.split(',').map(str::to_string).collect();
        let _ = drumbeat::schedule::Weekdays::parse_list(&items);
    }
});

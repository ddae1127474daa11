//! A spreadsheet export with any bytes: reading every row never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let cursor = std::io::Cursor::new(data.to_vec());
    if let Ok(reader) = drumbeat::lead::SheetReader::from_reader("fuzz.csv", cursor, None) {
        for row in reader.take(10_000) {
            let _ = row;
        }
    }
    let _ = drumbeat::lead::Email::parse(&String::from_utf8_lossy(data));
});

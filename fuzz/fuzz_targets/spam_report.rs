//! Any bytes as what `spamassassin -t` printed (`validate --spam` reads it): parsing never
//! panics.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = drumbeat::spam::parse(&String::from_utf8_lossy(data));
});

//! config.toml with any text: loading never panics and never echoes a secret.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = drumbeat::config::Config::parse(
            text,
            "config.toml",
            std::path::Path::new("config.toml"),
            std::path::Path::new("."),
        );
    }
});

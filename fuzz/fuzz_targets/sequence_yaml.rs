//! A sequence file with any bytes: parsing never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let config = drumbeat::config::Config::parse(
            "[[mailbox]]\nname = \"ana\"\nfrom = \"ana@example.com\"\noutbox = \"o\"\n",
            "config.toml",
            std::path::Path::new("config.toml"),
            std::path::Path::new("."),
        )
        .expect("the fixed config parses");
        let _ = drumbeat::catalog::sequence::parse(text, "fuzz.yaml", &config);
    }
});

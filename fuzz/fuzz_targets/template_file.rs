//! A template file with any text: parsing, compiling and rendering never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = drumbeat::catalog::no_ask::find_asks(text);
    let _ = drumbeat::render::spintax::expand(text, 42);
    if let Ok(t) = drumbeat::catalog::template::parse("fuzz", "templates/fuzz.txt", text) {
        let (renderer, _) = drumbeat::render::Renderer::compile(&[t], &[]);
        let _ = renderer.has_template("fuzz");
    }
});

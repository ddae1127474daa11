//! The report as one self-contained HTML page (no scripts, fonts or images from elsewhere).

use super::Dashboard;

/// Escapes text for HTML.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The page.
pub fn render(d: &Dashboard) -> String {
    let mut out = String::new();
    out.push_str("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>drumbeat report</title></head><body>");
    out.push_str(&format!(
        "<h1>drumbeat report: {}</h1><table>",
        esc(&d.title)
    ));
    for r in &d.sequences {
        out.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&r.key),
            r.sent,
            r.replied
        ));
    }
    out.push_str("</table></body></html>\n");
    out
}

//! The daemon's links in an email: the one-click unsubscribe URL, tracked links and the open
//! pixel. Every one is `BASE/<kind>/TOKEN` with a token signed for this email's Message-ID
//! (see `http::tokens`); a tracked link's token also carries the URL it stands for.
//!
//! Links are rewritten in the HTML part (`<a href="http…">`, and `<area>`), and in the text
//! part only when `[tracking] text_clicks` asks for it. `mailto:`, `tel:`, anchors, the
//! unsubscribe URL itself and links longer than the token can carry stay as they are.

use super::tokens::{MAX_URL, TokenKey, TokenKind};
use crate::catalog::Sequence;
use crate::config::Tracking;
use crate::render::{RenderedEmail, TemplateLink};

/// Makes the daemon's URLs for one email.
pub struct Links<'a> {
    key: &'a TokenKey,
    base: &'a str,
    message_id: &'a str,
}

impl<'a> Links<'a> {
    /// URLs under `base` (no trailing `/`) for the email `message_id`.
    pub fn new(key: &'a TokenKey, base: &'a str, message_id: &'a str) -> Links<'a> {
        Links {
            key,
            base,
            message_id,
        }
    }

    /// The one-click unsubscribe URL (RFC 8058).
    pub fn unsubscribe(&self) -> String {
        format!(
            "{}/u/{}",
            self.base,
            self.key.sign(self.message_id, &TokenKind::Unsubscribe)
        )
    }

    /// The open pixel's URL.
    pub fn open_pixel(&self) -> String {
        format!(
            "{}/o/{}.gif",
            self.base,
            self.key.sign(self.message_id, &TokenKind::Open)
        )
    }

    /// The tracked form of link number `index`, pointing at `url`.
    pub fn click(&self, index: u16, url: &str) -> String {
        format!(
            "{}/c/{}",
            self.base,
            self.key
                .sign(self.message_id, &TokenKind::Click(index, url.to_string()))
        )
    }

    /// Whether `url` is one of the daemon's own (never tracked again).
    fn is_ours(&self, url: &str) -> bool {
        url.starts_with(&format!("{}/", self.base))
    }

    fn trackable(&self, url: &str, written: &[TemplateLink]) -> bool {
        let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
        (lower.starts_with("http://") || lower.starts_with("https://"))
            && url.len() <= MAX_URL
            && !self.is_ours(url)
            && written_in_template(url, written)
    }

    /// The HTML with each trackable `href` of `<a>` and `<area>` replaced by its tracked URL,
    /// numbering links from `*next` on.
    pub fn rewrite_html(&self, html: &str, written: &[TemplateLink], next: &mut u16) -> String {
        let mut out = String::with_capacity(html.len() + 256);
        let mut i = 0;
        while i < html.len() {
            let Some(lt) = html[i..].find('<').map(|p| p + i) else {
                out.push_str(&html[i..]);
                break;
            };
            out.push_str(&html[i..lt]);
            let Some(gt) = html[lt..].find('>').map(|p| p + lt) else {
                out.push_str(&html[lt..]);
                break;
            };
            let tag = &html[lt..=gt];
            let name_end = tag[1..]
                .find(|c: char| c.is_ascii_whitespace() || c == '>' || c == '/')
                .map_or(tag.len(), |p| p + 1);
            let name = tag[1..name_end].to_ascii_lowercase();
            if (name == "a" || name == "area") && *next < u16::MAX {
                out.push_str(&self.rewrite_tag(tag, written, next));
            } else {
                out.push_str(tag);
            }
            i = gt + 1;
        }
        out
    }

    /// One `<a …>` tag with its href rewritten (when trackable).
    fn rewrite_tag(&self, tag: &str, written: &[TemplateLink], next: &mut u16) -> String {
        let lower = tag.to_ascii_lowercase();
        let mut from = 0;
        while let Some(p) = lower[from..].find("href").map(|p| p + from) {
            // A whole attribute name: preceded by whitespace, followed by `=`.
            let before_ok = p > 0 && lower.as_bytes()[p - 1].is_ascii_whitespace();
            let rest = &tag[p + 4..];
            let eq = rest.len() - rest.trim_start().len();
            if !before_ok || !rest[eq..].starts_with('=') {
                from = p + 4;
                continue;
            }
            let value_start = p + 4 + eq + 1;
            let after = &tag[value_start..];
            let ws = after.len() - after.trim_start().len();
            let value_start = value_start + ws;
            let (start, end) = match tag[value_start..].chars().next() {
                Some(q @ ('"' | '\'')) => {
                    let Some(close) = tag[value_start + 1..].find(q) else {
                        return tag.to_string();
                    };
                    (value_start + 1, value_start + 1 + close)
                }
                Some(_) => {
                    let len = tag[value_start..]
                        .find(|c: char| c.is_ascii_whitespace() || c == '>')
                        .unwrap_or(tag.len() - value_start);
                    (value_start, value_start + len)
                }
                None => return tag.to_string(),
            };
            let url = decode_entities(tag[start..end].trim());
            if !self.trackable(&url, written) {
                return tag.to_string();
            }
            let tracked = self.click(*next, &url);
            *next += 1;
            let quoted = start > 0 && matches!(tag.as_bytes()[start - 1], b'"' | b'\'');
            let value = if quoted {
                tracked
            } else {
                format!("\"{tracked}\"")
            };
            return format!("{}{}{}", &tag[..start], value, &tag[end..]);
        }
        tag.to_string()
    }

    /// The text with each bare `http(s)://` URL replaced by its tracked URL.
    pub fn rewrite_text(&self, text: &str, written: &[TemplateLink], next: &mut u16) -> String {
        let mut out = String::with_capacity(text.len() + 256);
        let mut rest = text;
        loop {
            let found = ["http://", "https://"]
                .iter()
                .filter_map(|s| find_ascii_ci(rest, s))
                .min();
            let Some(start) = found else {
                out.push_str(rest);
                return out;
            };
            let len = rest[start..]
                .find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"' | '\''))
                .unwrap_or(rest.len() - start);
            // Sentence punctuation and a closing bracket are not part of the URL.
            let url =
                rest[start..start + len].trim_end_matches(['.', ',', ';', ':', '!', '?', ')', ']']);
            out.push_str(&rest[..start]);
            if *next < u16::MAX && self.trackable(url, written) {
                out.push_str(&self.click(*next, url));
                *next += 1;
            } else {
                out.push_str(url);
            }
            rest = &rest[start + url.len()..];
        }
    }
}

/// Whether the template's author wrote `url`: it is one of the template's whole links, or
/// starts with the literal part of one whose host and the start of its path are literal
/// (`https://example.com/demo?ref={{ … }}`). A URL that came from lead data (a web form's
/// "website" field) is never tracked, so nobody can make the tracking domain redirect to a
/// site of their choosing.
fn written_in_template(url: &str, written: &[TemplateLink]) -> bool {
    written.iter().any(|w| {
        let literal = decode_entities(&w.literal);
        if w.whole {
            let literal = literal.trim_end_matches(['.', ',', ';', ':', '!', '?', ')', ']']);
            return url == literal;
        }
        // The host must be complete: a `/`, `?` or `#` after the scheme's `//`.
        let host_done = literal
            .split_once("://")
            .is_some_and(|(_, rest)| rest.contains(['/', '?', '#']));
        host_done && url.starts_with(literal.as_str())
    })
}

/// The first position of ASCII `needle` in `hay`, ignoring ASCII case.
fn find_ascii_ci(hay: &str, needle: &str) -> Option<usize> {
    hay.as_bytes()
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

/// `&amp;` and the other entities an href may hold, decoded (the URL a browser would open).
fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(p) = rest.find('&') {
        out.push_str(&rest[..p]);
        let tail = &rest[p..];
        let Some(semi) = tail[..tail.len().min(12)].find(';') else {
            out.push('&');
            rest = &tail[1..];
            continue;
        };
        let entity = &tail[1..semi];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            e if e.starts_with("#x") || e.starts_with("#X") => u32::from_str_radix(&e[2..], 16)
                .ok()
                .and_then(char::from_u32),
            e if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &tail[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// What the daemon adds to a rendered email before it is built: the sequence's one-line
/// unsubscribe footer, tracked links (config.toml's `[tracking]`, which the sequence's
/// `tracking:` overrides) and the open pixel. Returns how many links are tracked.
pub fn dress(
    email: &mut RenderedEmail,
    links: &Links<'_>,
    sequence: &Sequence,
    tracking: Tracking,
) -> u16 {
    if sequence.unsubscribe_footer {
        let url = links.unsubscribe();
        email.text = format!(
            "{}\n\nIf you'd rather not hear from me again, unsubscribe here: {url}",
            email.text.trim_end()
        );
        if let Some(html) = &email.html {
            let p = format!(
                "<p style=\"font-size:12px;color:#777\">If you'd rather not hear from me again, <a href=\"{url}\">unsubscribe here</a>.</p>"
            );
            email.html = Some(match find_ascii_ci(html, "</body") {
                Some(at) => format!("{}{p}{}", &html[..at], &html[at..]),
                None => format!("{html}{p}"),
            });
        }
    }
    let clicks = sequence.tracking.clicks.unwrap_or(tracking.clicks);
    let opens = sequence.tracking.opens.unwrap_or(tracking.opens);
    let mut next = 0;
    if clicks {
        if let Some(html) = &email.html {
            email.html = Some(links.rewrite_html(html, &email.written_links, &mut next));
        }
        if tracking.text_clicks {
            email.text = links.rewrite_text(&email.text, &email.written_links, &mut next);
        }
    }
    if opens && let Some(html) = &email.html {
        email.html = Some(add_pixel(html, &links.open_pixel()));
    }
    next
}

/// The HTML with the open pixel added at the end of its body.
pub fn add_pixel(html: &str, url: &str) -> String {
    let img = format!(
        "<img src=\"{url}\" width=\"1\" height=\"1\" alt=\"\" style=\"display:block;border:0;width:1px;height:1px\">"
    );
    match find_ascii_ci(html, "</body") {
        Some(p) => format!("{}{img}{}", &html[..p], &html[p..]),
        None => format!("{html}{img}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::send::tokens::Token;
    use proptest::prelude::*;

    const MID: &str = "<abc.def.db@example.com>";

    /// The links of `source`, as if it were the template it came from.
    fn written(source: &str) -> Vec<TemplateLink> {
        let mut out = Vec::new();
        crate::render::written_links(source, &mut out);
        out
    }

    fn key() -> TokenKey {
        TokenKey::new(b"0123456789abcdef0123456789abcdef")
    }

    /// The URL a tracked link stands for, read back through its token.
    fn target(key: &TokenKey, tracked: &str) -> (u16, String) {
        let token = tracked
            .strip_prefix("https://t.example.com/c/")
            .unwrap_or_else(|| panic!("not tracked: {tracked}"));
        match key.verify(token) {
            Ok(Token {
                kind: TokenKind::Click(i, url),
                message_id,
            }) => {
                assert_eq!(message_id, MID);
                (i, url)
            }
            other => panic!("{other:?}"),
        }
    }

    fn hrefs(html: &str) -> Vec<String> {
        html.replace("href = \"", "href=\"")
            .split("href=\"")
            .skip(1)
            .map(|s| s.split('"').next().unwrap_or_default().to_string())
            .collect::<Vec<_>>()
    }

    #[test]
    fn html_links_are_tracked_and_point_back_at_the_original() {
        let k = key();
        let links = Links::new(&k, "https://t.example.com", MID);
        let html = r##"<p>See <a class="x" href="https://example.com/a?b=1&amp;c=2">this</a>,
<A HREF='http://example.org/'>that</A>, <a href="mailto:ana@example.com">mail</a>,
<a href="#top">top</a>, <a href=https://example.net/u>bare</a>, <abbr>no</abbr>
<a data-href="x" href = "https://example.com/z">spaced</a></p>"##;
        let mut next = 0;
        let out = links.rewrite_html(html, &written(html), &mut next);
        assert_eq!(next, 4, "{out}");
        let tracked: Vec<_> = hrefs(&out)
            .into_iter()
            .filter(|h| h.starts_with("https://t.example.com/c/"))
            .map(|h| target(&k, &h))
            .collect();
        // The single-quoted one keeps its quotes, so hrefs() (double quotes) misses it.
        assert!(out.contains("HREF='https://t.example.com/c/"), "{out}");
        assert_eq!(
            tracked,
            vec![
                (0, "https://example.com/a?b=1&c=2".to_string()),
                (2, "https://example.net/u".to_string()),
                (3, "https://example.com/z".to_string()),
            ]
        );
        assert!(out.contains(r#"href="mailto:ana@example.com""#));
        assert!(out.contains(r##"href="#top""##));
        assert!(out.contains("<abbr>no</abbr>"));
        assert!(out.contains(r#"class="x""#) && out.contains(r#"data-href="x""#));
    }

    #[test]
    fn the_unsubscribe_link_and_overlong_links_stay() {
        let k = key();
        let links = Links::new(&k, "https://t.example.com", MID);
        let unsub = links.unsubscribe();
        let long = format!("https://example.com/{}", "x".repeat(MAX_URL));
        let html = format!(r#"<a href="{unsub}">unsubscribe</a> <a href="{long}">long</a>"#);
        let mut next = 0;
        assert_eq!(links.rewrite_html(&html, &written(&html), &mut next), html);
        assert_eq!(next, 0);
    }

    #[test]
    fn only_links_the_template_wrote_are_tracked_never_one_from_lead_data() {
        let k = key();
        let links = Links::new(&k, "https://t.example.com", MID);
        let template = "Demo: https://example.com/demo?ref={{ lead.company }}\n\
                        Site: {{ lead.website }}\nAlso https://{{ lead.domain }}/x and https://example.org/a";
        let rendered = "Demo: https://example.com/demo?ref=Acme\n\
                        Site: https://evil.example/phish\nAlso https://acme.example/x and https://example.org/a \
                        https://example.org/a.evil.example https://example.com.evil.example/demo?ref=";
        let mut next = 0;
        let out = links.rewrite_text(rendered, &written(template), &mut next);
        assert_eq!(next, 2, "{out}");
        let (_, first) = target(&k, out.split_whitespace().nth(1).expect("a word"));
        assert_eq!(first, "https://example.com/demo?ref=Acme");
        for untouched in [
            "https://evil.example/phish",
            "https://acme.example/x",
            "https://example.org/a.evil.example",
            "https://example.com.evil.example/demo?ref=",
        ] {
            assert!(out.contains(untouched), "{untouched} in {out}");
        }
        // The same in HTML: an href filled from lead data stays as it is.
        let html =
            "<a href=\"{{ lead.website }}\">site</a> <a href=\"https://example.org/a\">a</a>";
        let filled =
            "<a href=\"https://evil.example/\">site</a> <a href=\"https://example.org/a\">a</a>";
        let mut next = 0;
        let out = links.rewrite_html(filled, &written(html), &mut next);
        assert_eq!(next, 1, "{out}");
        assert!(out.contains("href=\"https://evil.example/\""), "{out}");
    }

    #[test]
    fn text_urls_are_tracked_without_their_punctuation() {
        let k = key();
        let links = Links::new(&k, "https://t.example.com", MID);
        let mut next = 0;
        let text = "Read https://example.com/report. Or (HTTPS://example.com/b), mailto:x@y.z";
        let out = links.rewrite_text(text, &written(text), &mut next);
        assert_eq!(next, 2);
        assert!(out.starts_with("Read https://t.example.com/c/"), "{out}");
        assert!(out.contains(". Or ("), "{out}");
        assert!(out.ends_with("), mailto:x@y.z"), "{out}");
        let urls: Vec<_> = out
            .split_whitespace()
            .filter_map(|w| w.find("https://t.example.com/c/").map(|p| &w[p..]))
            .map(|w| w.trim_end_matches(['.', ')', ',']))
            .map(|w| target(&k, w).1)
            .collect();
        assert_eq!(
            urls,
            ["https://example.com/report", "HTTPS://example.com/b"]
        );
    }

    #[test]
    fn the_pixel_goes_before_the_end_of_the_body() {
        assert_eq!(
            add_pixel("<html><body><p>x</p></BODY></html>", "U"),
            "<html><body><p>x</p><img src=\"U\" width=\"1\" height=\"1\" alt=\"\" style=\"display:block;border:0;width:1px;height:1px\"></BODY></html>"
        );
        assert!(add_pixel("<p>x</p>", "U").ends_with("<img src=\"U\" width=\"1\" height=\"1\" alt=\"\" style=\"display:block;border:0;width:1px;height:1px\">"));
    }

    proptest! {
        #[test]
        fn rewriting_never_panics_and_keeps_text_outside_links(s in "(?s).{0,400}") {
            let k = key();
            let links = Links::new(&k, "https://t.example.com", MID);
            let mut next = 0;
            let _ = links.rewrite_html(&s, &written(&s), &mut next);
            let mut next = 0;
            let out = links.rewrite_text(&s, &written(&s), &mut next);
            if next == 0 {
                prop_assert_eq!(out, s);
            }
        }
    }
}

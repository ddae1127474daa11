//! The visible part of a reply: what the sender wrote this time, without the quoted history
//! (Gmail's "On … wrote:", Outlook's header block and "-----Original Message-----", Apple
//! Mail's "> " lines, their German, French, Spanish, Portuguese and Dutch forms) and without
//! the signature ("-- " line, "Sent from my iPhone").

/// Most characters of visible text kept for display.
pub const TEXT_CHARS: usize = 500;

/// Lines that start quoted history in the languages we read (lowercase, trimmed).
const SEPARATORS: &[&str] = &[
    "-----original message-----",
    "----- original message -----",
    "-------- original message --------",
    "-----ursprüngliche nachricht-----",
    "----- ursprüngliche nachricht -----",
    "-----message d'origine-----",
    "----- message d'origine -----",
    "-------- message original --------",
    "-----mensaje original-----",
    "----- mensaje original -----",
    "-----mensagem original-----",
    "----- mensagem original -----",
    "-----oorspronkelijk bericht-----",
    "----- oorspronkelijk bericht -----",
    "---------- forwarded message ---------",
    "begin forwarded message:",
];

/// Attribution lines: "On … wrote:" and its translations (start word, verb).
const ATTRIBUTIONS: &[(&str, &str)] = &[
    ("on ", "wrote"),
    ("am ", "schrieb"),
    ("le ", "a écrit"),
    ("el ", "escribió"),
    ("em ", "escreveu"),
    ("op ", "schreef"),
];

/// Outlook's header block: a "From:" line (localized) followed by "Sent:"/"Date:"… lines.
const FROM_LABELS: &[&str] = &["from:", "von:", "de :", "de:", "van:", "da:"];
const BLOCK_LABELS: &[&str] = &[
    "sent:",
    "date:",
    "to:",
    "subject:",
    "cc:",
    "gesendet:",
    "datum:",
    "an:",
    "betreff:",
    "envoyé :",
    "envoyé:",
    "date :",
    "à :",
    "à:",
    "objet :",
    "objet:",
    "enviado:",
    "enviado el:",
    "fecha:",
    "para:",
    "asunto:",
    "assunto:",
    "verzonden:",
    "aan:",
    "onderwerp:",
];

/// Mobile signatures that end the visible text.
const DEVICE_SIGNATURES: &[&str] = &[
    "sent from my ",
    "sent from outlook",
    "get outlook for ",
    "von meinem ",
    "gesendet von ",
    "envoyé de mon ",
    "envoyé depuis ",
    "enviado desde mi ",
    "enviado do meu ",
    "enviado de meu ",
    "verzonden vanaf mijn ",
    "verstuurd vanaf mijn ",
];

/// The visible reply in `body` (plain text, LF line ends): history and signature removed,
/// blank runs collapsed, trimmed. Not shortened: see [`excerpt`].
pub fn visible(body: &str) -> String {
    let lines: Vec<&str> = body.lines().take(10_000).collect();
    let mut kept: Vec<&str> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim_end();
        let lower = line.trim().to_lowercase();
        if line == "--" || line == "-- " || line.trim() == "--" {
            break;
        }
        // "On … wrote:" before '>' lines may be followed by an answer below (bottom
        // posting): skip it and the quote, keep reading. Before unquoted history it ends
        // the reply.
        let attribution = attribution_lines(&lines, i);
        if attribution > 0 {
            if quoted_next(&lines, i + attribution) {
                i += attribution;
                continue;
            }
            break;
        }
        if SEPARATORS.iter().any(|s| lower.starts_with(s))
            || is_underscore_rule(&lower) && starts_header_block(&lines, i + 1)
            || starts_header_block(&lines, i)
            || DEVICE_SIGNATURES.iter().any(|s| lower.starts_with(s)) && lower.len() < 80
        {
            break;
        }
        if !line.trim_start().starts_with('>') && !is_quote_intro(&lines, i) {
            kept.push(line);
        }
        i += 1;
    }
    let mut out = String::new();
    let mut blank = false;
    for line in kept {
        if line.trim().is_empty() {
            blank = !out.is_empty();
            continue;
        }
        if blank {
            out.push('\n');
            blank = false;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(line.trim_end());
    }
    out.trim().to_string()
}

/// The first [`TEXT_CHARS`] characters of `text`, cut at a line or word end when one is near,
/// with "…" when shortened.
pub fn excerpt(text: &str) -> String {
    let Some((cut, _)) = text.char_indices().nth(TEXT_CHARS) else {
        return text.to_string();
    };
    let head = &text[..cut];
    let end = head
        .rfind('\n')
        .filter(|&n| n > cut / 2)
        .or_else(|| head.rfind(' ').filter(|&n| n > cut / 2))
        .unwrap_or(cut);
    format!("{}…", head[..end].trim_end())
}

/// "Ann <ann@example.net> writes:" right before quoted lines (interleaved replies).
fn is_quote_intro(lines: &[&str], i: usize) -> bool {
    let lower = lines[i].trim().to_lowercase();
    let intro = [
        "wrote:",
        "writes:",
        "schrieb:",
        "a écrit :",
        "a écrit:",
        "escribió:",
        "escreveu:",
        "schreef:",
    ]
    .iter()
    .any(|e| lower.ends_with(e));
    intro && quoted_next(lines, i + 1)
}

fn is_underscore_rule(lower: &str) -> bool {
    lower.len() >= 10 && lower.chars().all(|c| c == '_')
}

/// "On Mon, 2 Mar 2026 at 10:00, Ann <ann@example.com> wrote:" — on one line or wrapped
/// onto the next two.
/// How many lines the attribution starting at line i spans (0: none).
fn attribution_lines(lines: &[&str], i: usize) -> usize {
    let first = lines[i].trim().to_lowercase();
    let Some((_, verb)) = ATTRIBUTIONS
        .iter()
        .find(|(start, _)| first.starts_with(start))
    else {
        return 0;
    };
    let mut joined = first.clone();
    for k in 0..3 {
        if k > 0 {
            match lines.get(i + k) {
                Some(next) if !next.trim().is_empty() => {
                    joined.push(' ');
                    joined.push_str(&next.trim().to_lowercase());
                }
                _ => return 0,
            }
        }
        if joined.contains(verb) && joined.trim_end().ends_with(':') {
            return k + 1;
        }
    }
    0
}

/// The next non-blank line from i on is quoted with '>'.
fn quoted_next(lines: &[&str], i: usize) -> bool {
    lines
        .iter()
        .skip(i)
        .find(|l| !l.trim().is_empty())
        .is_some_and(|l| l.trim_start().starts_with('>'))
}

/// A "From:" line followed, within four lines, by two more header labels.
fn starts_header_block(lines: &[&str], i: usize) -> bool {
    let Some(first) = lines.get(i) else {
        return false;
    };
    let first = first.trim().trim_start_matches('*').to_lowercase();
    if !FROM_LABELS.iter().any(|l| first.starts_with(l)) {
        return false;
    }
    let labels = lines
        .iter()
        .skip(i + 1)
        .take(5)
        .filter(|l| {
            let l = l.trim().trim_start_matches('*').to_lowercase();
            BLOCK_LABELS.iter().any(|b| l.starts_with(b))
        })
        .count();
    labels >= 2
}

/// Converts an HTML body to text with the quoted history cut first: Gmail's `gmail_quote`,
/// `<blockquote>`, Outlook's `divRplyFwdMsg`/`appendonsend`, Thunderbird's `moz-cite-prefix`.
pub fn html_to_text(html: &str) -> String {
    let lower = html.to_ascii_lowercase();
    let cut = [
        "class=\"gmail_quote",
        "class=\"gmail_attr",
        "<blockquote",
        "id=\"divrplyfwdmsg\"",
        "id=\"appendonsend\"",
        "class=\"moz-cite-prefix\"",
        "class=\"yahoo_quoted\"",
    ]
    .iter()
    .filter_map(|m| lower.find(m))
    .min()
    .and_then(|at| lower[..at].rfind('<'))
    .unwrap_or(html.len());
    let head = html.get(..cut).unwrap_or(html);
    // mail-parser turns only <br> and </p> into line ends; blocks are lines too.
    let mut spaced = String::with_capacity(head.len() + 64);
    let lower_head = head.to_ascii_lowercase();
    let mut last = 0;
    for (at, _) in lower_head.match_indices('<') {
        let tag = &lower_head[at..];
        if [
            "<div", "</div", "<li", "<tr", "<hr", "<h1", "<h2", "<h3", "</h",
        ]
        .iter()
        .any(|t| tag.starts_with(t))
        {
            spaced.push_str(&head[last..at]);
            spaced.push_str("<br>");
            last = at;
        }
    }
    spaced.push_str(&head[last..]);
    mail_parser::decoders::html::html_to_text(&spaced)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gmail_attribution_wrapped_over_two_lines_ends_the_reply() {
        let body = "Sounds good, Tuesday works.\n\nOn Mon, Mar 2, 2026 at 10:00 AM Sam Rep <sam@example.com>\nwrote:\n> Hi Ann,\n";
        assert_eq!(visible(body), "Sounds good, Tuesday works.");
    }

    #[test]
    fn outlook_header_block_in_german_ends_the_reply() {
        let body = "Danke, passt.\n\nVon: Sam Rep <sam@example.com>\nGesendet: Montag, 2. März 2026 10:00\nAn: Ann <ann@example.net>\nBetreff: Kurze Frage\n\nHallo Ann,";
        assert_eq!(visible(body), "Danke, passt.");
    }

    #[test]
    fn interleaved_quotes_are_dropped_and_signature_cut() {
        let body = "> Do you use X?\nYes, since 2024.\n> Would a call help?\nSure.\n-- \nAnn\nCTO";
        assert_eq!(visible(body), "Yes, since 2024.\nSure.");
    }

    #[test]
    fn gmail_quote_in_html_is_cut() {
        let html = "<div dir=\"ltr\">Not now, thanks.<div>Ann</div></div><br><div class=\"gmail_quote\"><div class=\"gmail_attr\">On Mon wrote:</div><blockquote>Hi</blockquote></div>";
        assert_eq!(visible(&html_to_text(html)), "Not now, thanks.\nAnn");
    }

    #[test]
    fn bottom_posted_answer_below_the_attribution_is_kept() {
        let body = "On Mon, 2 Mar 2026 at 09:14, Sam Rep <sam@example.com> wrote:\n> Could a call help?\n\nYes, Thursday works.\n";
        assert_eq!(visible(body), "Yes, Thursday works.");
    }

    #[test]
    fn excerpt_shortens_at_a_word() {
        let long = "word ".repeat(200);
        let e = excerpt(&long);
        assert!(
            e.chars().count() <= TEXT_CHARS + 1 && e.ends_with("word…"),
            "{e}"
        );
    }
}

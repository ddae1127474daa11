//! The no-ask check: a follow-up marked `no_ask: true` gives value and asks for nothing. This
//! finds the lines of such a template that ask anyway (a question to the reader, a meeting or
//! call request, a calendar link), so `validate` can warn before a lead reads them.

/// Phrases that ask the reader for time or an answer.
const ASK_PHRASES: &[&str] = &[
    "book a",
    "schedule a",
    "set up a call",
    "set up a meeting",
    "hop on a call",
    "jump on a call",
    "quick call",
    "quick chat",
    "a call next week",
    "15 minutes",
    "15-minute",
    "15 min ",
    "30 minutes",
    "are you free",
    "are you available",
    "would you be open",
    "would you be interested",
    "open to a",
    "let me know if you",
    "let me know when",
    "let's talk",
    "let's chat",
    "let’s talk",
    "let’s chat",
    "find a time",
    "grab a time",
    "pick a time",
    "worth a conversation",
    "a meeting",
    "meet next week",
    "meet this week",
    "hit reply",
    "just reply",
    "reply with",
    "get back to me",
    "let me know your thoughts",
];

/// Hosts of scheduling links.
const CALENDAR_LINKS: &[&str] = &[
    "calendly.com",
    "cal.com/",
    "chilipiper.com",
    "meetings.hubspot.com",
    "hubspot.com/meetings",
    "savvycal.com",
    "zcal.co",
    "calendar.app.google",
    "calendar.google.com",
    "outlook.office365.com/owa/calendar",
    "outlook.office.com/bookwithme",
    "doodle.com",
    "tidycal.com",
];

/// One line that asks something: 1-based line within `text`, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ask {
    /// Line within the checked text.
    pub line: usize,
    /// What was found.
    pub reason: String,
}

/// Finds the lines of a template (or rendered text) that ask the reader for something. Template
/// tags are ignored; text inside them is not what the reader sees.
pub fn find_asks(text: &str) -> Vec<Ask> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = strip_tags(raw);
        let lower = line.to_lowercase();
        let trimmed = lower.trim_start();
        // Quoted history and signatures are not what this email asks.
        if trimmed.starts_with('>') || trimmed == "--" {
            continue;
        }
        let reason = if let Some(link) = CALENDAR_LINKS.iter().find(|l| lower.contains(*l)) {
            Some(format!("links to a calendar ({link})"))
        } else if has_question(&line) {
            Some("asks a question".to_string())
        } else {
            ASK_PHRASES
                .iter()
                .find(|p| contains_phrase(&lower, p))
                .map(|p| format!("asks for time or an answer (\"{}\")", p.trim()))
        };
        if let Some(reason) = reason {
            out.push(Ask {
                line: i + 1,
                reason,
            });
        }
    }
    out
}

/// A question mark that ends a sentence (not one inside a URL's query string).
fn has_question(line: &str) -> bool {
    let chars: Vec<char> = line.chars().collect();
    chars.iter().enumerate().any(|(i, c)| {
        (*c == '?' || *c == '？' || *c == '¿')
            && chars
                .get(i + 1)
                .is_none_or(|n| n.is_whitespace() || "\"'”’)]".contains(*n))
    })
}

fn contains_phrase(haystack: &str, phrase: &str) -> bool {
    haystack.match_indices(phrase).any(|(i, _)| {
        let before_ok = haystack[..i]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_alphanumeric());
        let after = &haystack[i + phrase.len()..];
        let after_ok =
            phrase.ends_with(' ') || after.chars().next().is_none_or(|c| !c.is_alphanumeric());
        before_ok && after_ok
    })
}

/// Removes `{{ … }}`, `{% … %}` and `{# … #}` from a line.
fn strip_tags(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(start) = rest.find('{') {
        let closer = match rest[start..].chars().nth(1) {
            Some('{') => "}}",
            Some('%') => "%}",
            Some('#') => "#}",
            _ => {
                out.push_str(&rest[..=start]);
                rest = &rest[start + 1..];
                continue;
            }
        };
        out.push_str(&rest[..start]);
        match rest[start + 2..].find(closer) {
            Some(end) => rest = &rest[start + 2 + end + 2..],
            None => return out,
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_only_text_has_no_asks() {
        let text = "Hi {{ lead.first_name }},\n\nNo need to reply: here is the benchmark we promised.\nhttps://example.com/report?utm_source=drumbeat\n\n{{ sender.signature }}\n";
        assert_eq!(find_asks(text), vec![]);
    }

    #[test]
    fn questions_meetings_and_calendar_links_are_found_with_lines() {
        let text = "Thought you'd like this report.\nWorth a look?\nGrab a slot: https://calendly.com/ana/15min\nCould we set up a call next week.\n";
        let asks = find_asks(text);
        let lines: Vec<usize> = asks.iter().map(|a| a.line).collect();
        assert_eq!(lines, vec![2, 3, 4]);
        assert!(asks[1].reason.contains("calendly.com"));
    }

    #[test]
    fn question_marks_inside_tags_or_urls_do_not_count() {
        assert!(
            find_asks("{{ lead.company | default(value=\"your team?\") }} benchmark").is_empty()
        );
        assert!(find_asks("See https://example.com/?a=1").is_empty());
    }
}

//! Reading what `spamassassin -t` prints: the message with its `X-Spam-*` headers, then the
//! report, whose "Content analysis details" table lists each rule hit with its points and
//! description. Any text goes in and nothing panics: what cannot be read is `None`.

use serde::Serialize;

/// What SpamAssassin made of one message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpamReport {
    /// The total score, as SpamAssassin prints it (one decimal).
    pub score: f64,
    /// SpamAssassin's own threshold (`required`, 5.0 unless configured), for reference.
    pub required: Option<f64>,
    /// The rules hit, in the order SpamAssassin lists them.
    pub rules: Vec<RuleHit>,
    /// The version that scored it (`4.0.1`), when the report names it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// One rule a message hit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleHit {
    /// The rule's name (`SUBJ_ALL_CAPS`).
    pub name: String,
    /// What it added to the score (may be negative or 0).
    pub points: f64,
    /// SpamAssassin's description, on one line; empty when only the name is known.
    pub description: String,
}

/// Reads the report of `spamassassin -t` from its output. The table of the last "Content
/// analysis details" section (the one `-t` appends; a message may quote an earlier one) gives
/// the score and the rules; without it, the `X-Spam-Status` header gives the score and the
/// rule names. `None` when neither is there.
pub fn parse(output: &str) -> Option<SpamReport> {
    let version = checker_version(output);
    let from_table = details(output);
    let status = spam_status(output);
    let (score, required, rules) = match (from_table, status) {
        (Some((score, required, rules)), status) => (
            score,
            required.or(status.as_ref().and_then(|s| s.required)),
            rules,
        ),
        (None, Some(s)) => (s.score, s.required, s.rules),
        (None, None) => return None,
    };
    Some(SpamReport {
        score,
        required,
        rules,
        version,
    })
}

/// The score, threshold and rules of the last "Content analysis details" section.
fn details(output: &str) -> Option<(f64, Option<f64>, Vec<RuleHit>)> {
    const HEADING: &str = "Content analysis details:";
    let start = output.rfind(HEADING)?;
    let mut lines = output[start..].lines().map(|l| l.trim_end_matches('\r'));
    let heading = lines.next()?;
    // "Content analysis details:   (6.3 points, 5.0 required)"
    let inside = heading[HEADING.len()..]
        .trim()
        .trim_start_matches('(')
        .trim_end_matches(')');
    let mut parts = inside.split(',').map(str::trim);
    let score = parts
        .next()
        .and_then(|p| p.strip_suffix("points"))
        .and_then(|p| p.trim().parse::<f64>().ok())?;
    let required = parts
        .next()
        .and_then(|p| p.strip_suffix("required"))
        .and_then(|p| p.trim().parse::<f64>().ok());
    let rules = table(lines);
    Some((score, required, rules))
}

/// The rows of the table after the heading: ` 0.5 SUBJ_ALL_CAPS   Subject is all capitals`,
/// a long description going on in lines indented past the rule name, up to a blank line.
fn table<'a>(lines: impl Iterator<Item = &'a str>) -> Vec<RuleHit> {
    let mut rules: Vec<RuleHit> = Vec::new();
    let mut started = false;
    for line in lines {
        if line.starts_with("----") || line.trim_start().starts_with("pts rule name") {
            started = true;
            continue;
        }
        if !started {
            if line.trim().is_empty() {
                continue;
            }
            // Text other than the column heads before any row: not a table.
            break;
        }
        if line.trim().is_empty() {
            break;
        }
        if let Some(hit) = row(line) {
            rules.push(hit);
        } else if let Some(last) = rules.last_mut()
            && line.starts_with("     ")
        {
            if !last.description.is_empty() {
                last.description.push(' ');
            }
            last.description.push_str(line.trim());
        } else {
            break;
        }
    }
    rules
}

/// One row: points (within the 4-character column), rule name, description.
fn row(line: &str) -> Option<RuleHit> {
    let indent = line.len() - line.trim_start().len();
    if indent > 4 {
        return None;
    }
    let mut words = line.split_whitespace();
    let points = words
        .next()?
        .parse::<f64>()
        .ok()
        .filter(|p| p.is_finite())?;
    let name = words.next()?;
    if !is_rule_name(name) {
        return None;
    }
    Some(RuleHit {
        name: name.to_string(),
        points,
        description: words.collect::<Vec<_>>().join(" "),
    })
}

fn is_rule_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

/// What the `X-Spam-Status` header says.
struct Status {
    score: f64,
    required: Option<f64>,
    rules: Vec<RuleHit>,
}

/// `X-Spam-Status: No, score=1.3 required=5.0 tests=A,B autolearn=…`, unfolded.
fn spam_status(output: &str) -> Option<Status> {
    let value = header(output, "X-Spam-Status")?;
    let field = |key: &str| {
        value
            .split(|c: char| c.is_whitespace() || c == ',')
            .find_map(|w| w.strip_prefix(key))
    };
    let score = field("score=")?
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite())?;
    let required = field("required=").and_then(|r| r.parse::<f64>().ok());
    // tests= is a comma-separated list that folding may have split with spaces.
    let rules = value
        .split_once("tests=")
        .map(|(_, rest)| {
            rest.split(|c: char| c == ',' || c.is_whitespace())
                .take_while(|w| !w.contains('='))
                .filter(|w| is_rule_name(w) && *w != "none")
                .map(|name| RuleHit {
                    name: name.to_string(),
                    points: 0.0,
                    description: String::new(),
                })
                .collect()
        })
        .unwrap_or_default();
    Some(Status {
        score,
        required,
        rules,
    })
}

/// `X-Spam-Checker-Version: SpamAssassin 4.0.1 (2024-03-25) on host` → `4.0.1`.
fn checker_version(output: &str) -> Option<String> {
    let value = header(output, "X-Spam-Checker-Version")?;
    let mut words = value.split_whitespace();
    (words.next()? == "SpamAssassin").then_some(())?;
    words.next().map(str::to_string)
}

/// The first header `name` in the header block at the top of `output`, unfolded.
fn header(output: &str, name: &str) -> Option<String> {
    let mut value: Option<String> = None;
    for line in output.lines().map(|l| l.trim_end_matches('\r')) {
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some(v) = value.as_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
            continue;
        }
        if value.is_some() {
            break;
        }
        if let Some((key, rest)) = line.split_once(':')
            && key.eq_ignore_ascii_case(name)
        {
            value = Some(rest.trim().to_string());
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// `spamassassin -L -t` on a spammy message (score over its own 5.0: the original is
    /// attached under a report, and the report repeats at the end).
    const SPAM: &str = include_str!("testdata/spam.txt");
    /// A report whose descriptions go on over two lines.
    const WRAPPED: &str = include_str!("testdata/wrapped.txt");

    fn names(r: &SpamReport) -> Vec<&str> {
        r.rules.iter().map(|h| h.name.as_str()).collect()
    }

    #[test]
    fn spam_report_gives_score_rules_points_and_descriptions() {
        let r = parse(SPAM).expect("a report");
        assert_eq!(r.score, 6.3);
        assert_eq!(r.required, Some(5.0));
        assert_eq!(r.version.as_deref(), Some("4.0.1"));
        assert_eq!(
            names(&r),
            [
                "NO_RECEIVED",
                "NO_RELAYS",
                "SUBJ_ALL_CAPS",
                "US_DOLLARS_3",
                "GUARANTEED_100_PERCENT",
                "BAD_CREDIT",
                "LOTS_OF_MONEY",
                "MONEY_NOHTML",
                "TO_NO_BRKTS_PCNT",
            ]
        );
        let caps = &r.rules[2];
        assert_eq!(caps.points, 0.5);
        assert_eq!(caps.description, "Subject is all capitals");
        let guaranteed = &r.rules[4];
        assert_eq!(guaranteed.points, 2.7);
        assert_eq!(
            guaranteed.description,
            "BODY: One hundred percent guaranteed"
        );
        let dollars = &r.rules[3];
        assert_eq!(
            dollars.description,
            "BODY: Mentions millions of $ ($NN,NNN,NNN.NN)"
        );
        assert_eq!(r.rules[0].points, 0.0);
        assert!(
            r.rules[0].points.is_sign_negative(),
            "-0.0 is read as printed"
        );
    }

    #[test]
    fn wrapped_descriptions_are_joined_on_one_line() {
        let r = parse(WRAPPED).expect("a report");
        assert_eq!(r.score, 2.0);
        let replyto = r
            .rules
            .iter()
            .find(|h| h.name == "FREEMAIL_REPLYTO")
            .expect("FREEMAIL_REPLYTO");
        assert_eq!(
            replyto.description,
            "Reply-To/From or Reply-To/body contain different freemails"
        );
        let from = &r.rules[1];
        assert_eq!(from.name, "FREEMAIL_FROM");
        assert_eq!(
            from.description,
            "Sender email is commonly abused enduser mail provider [ana.lopez(at)gmail.com]"
        );
        assert_eq!(r.rules.len(), 5);
    }

    #[test]
    fn the_table_appended_last_wins_over_one_quoted_in_the_message() {
        let quoted = "Subject: fwd\n\nContent analysis details:   (9.9 points, 5.0 required)\n\n \
                      pts rule name   description\n---- ---- ----\n 9.9 FAKE_RULE   made up\n\n";
        let r = parse(&format!("{quoted}{WRAPPED}")).expect("a report");
        assert_eq!(r.score, 2.0);
        assert!(!names(&r).contains(&"FAKE_RULE"));
    }

    #[test]
    fn status_header_alone_gives_score_and_rule_names() {
        let only_headers = "X-Spam-Status: No, score=1.3 required=5.0 tests=HTML_MESSAGE,\r\n\
                            \tMIME_HTML_ONLY autolearn=disabled version=4.0.1\r\n\r\nbody\r\n";
        let r = parse(only_headers).expect("a report");
        assert_eq!(r.score, 1.3);
        assert_eq!(r.required, Some(5.0));
        assert_eq!(names(&r), ["HTML_MESSAGE", "MIME_HTML_ONLY"]);
        let none = parse("X-Spam-Status: No, score=0.0 required=5.0 tests=none\n\n").unwrap();
        assert!(none.rules.is_empty());
    }

    #[test]
    fn text_without_a_report_is_none() {
        assert_eq!(parse(""), None);
        assert_eq!(parse("Subject: hi\n\nhello\n"), None);
        assert_eq!(
            parse("Content analysis details:   (lots of points)\n"),
            None
        );
        assert_eq!(parse("X-Spam-Status: Yes, score=NaN\n"), None);
    }

    #[test]
    fn odd_table_rows_end_the_table_instead_of_misreading_it() {
        let text = "Content analysis details:   (1.0 points, 5.0 required)\n\n \
                    pts rule name   description\n---- ---- ----\n 1.0 GOOD_RULE   fine\n\
                    not a row at all\n 2.0 AFTER   ignored\n";
        let r = parse(text).expect("a report");
        assert_eq!(names(&r), ["GOOD_RULE"]);
    }

    proptest! {
        #[test]
        fn never_panics(text in "\\PC{0,400}") {
            let _ = parse(&text);
        }

        #[test]
        fn never_panics_on_a_cut_or_edited_report(
            cut in 0usize..4000,
            edits in proptest::collection::vec((0usize..4000, any::<char>()), 0..8),
        ) {
            let mut chars: Vec<char> = SPAM.chars().collect();
            for (at, c) in edits {
                let i = at % chars.len();
                chars[i] = c;
            }
            chars.truncate(cut % (chars.len() + 1));
            let text: String = chars.into_iter().collect();
            let _ = parse(&text);
        }
    }
}

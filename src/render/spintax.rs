//! Spintax: `{Hi|Hello|Hey}` picks one option, deterministically for a given seed, so a lead
//! always sees the same words in preview and in the sent email. Options may nest:
//! `{Hi|Hello{| there}}`. Text without braces passes through unchanged.

/// Why a spintax text cannot be spun: a prospect would read the braces.
pub fn check(text: &str) -> Result<(), String> {
    let mut open: Vec<usize> = Vec::new();
    for (i, c) in text.char_indices() {
        match c {
            '{' => open.push(i),
            '}' => match open.pop() {
                Some(start) if text[start + 1..i].is_empty() => {
                    return Err(format!(
                        "an empty group \"{{}}\" at character {}",
                        start + 1
                    ));
                }
                Some(_) => {}
                None => {
                    return Err(format!(
                        "a \"}}\" at character {} closes no group; write each group as {{a|b}}",
                        i + 1
                    ));
                }
            },
            _ => {}
        }
    }
    match open.first() {
        Some(start) => Err(format!(
            "the group opened at character {} is never closed with \"}}\"",
            start + 1
        )),
        None => Ok(()),
    }
}

/// Template syntax or a spintax group left in rendered text (a prospect would read it): the
/// first `{{`, `{%`, `{#` or `{a|b}` group, with a few characters around it.
pub fn leftover(text: &str) -> Option<String> {
    let at = ["{{", "{%", "{#"]
        .iter()
        .filter_map(|m| text.find(m))
        .chain(unspun_group(text))
        .min()?;
    let end = text[at..]
        .char_indices()
        .nth(40)
        .map_or(text.len(), |(i, _)| at + i);
    Some(text[at..end].lines().next().unwrap_or_default().to_string())
}

/// Where a `{a|b}` group (no braces inside) starts, if the text has one.
fn unspun_group(text: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(open) = text[from..].find('{').map(|i| from + i) {
        let inner = &text[open + 1..];
        match inner.find(['{', '}']) {
            Some(close) if inner.as_bytes()[close] == b'}' && inner[..close].contains('|') => {
                return Some(open);
            }
            _ => from = open + 1,
        }
    }
    None
}

/// Expands every `{a|b|c}` group in `text`, choosing with `seed`. Unbalanced braces are kept
/// as written (the `spin` filter refuses them first, see [`check`]). Never panics.
pub fn expand(text: &str, seed: u64) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rng = SplitMix(seed ^ super::fnv1a(text.as_bytes()));
    expand_into(text, &mut rng, &mut out);
    out
}

fn expand_into(text: &str, rng: &mut SplitMix, out: &mut String) {
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match matching_close(after) {
            Some(close) => {
                let options = split_top_level(&after[..close]);
                let pick = (rng.next() % options.len() as u64) as usize;
                expand_into(options[pick], rng, out);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
}

/// Byte index of the `}` that closes a group opened just before `s`.
fn matching_close(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return Some(i),
            '}' => depth -= 1,
            _ => {}
        }
    }
    None
}

/// Splits on `|` that are not inside nested groups.
fn split_top_level(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            '|' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

/// A tiny, stable PRNG (SplitMix64): the same seed gives the same choices on every platform
/// and release, which `rand`'s generators do not promise.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn same_seed_same_choice_and_all_options_reachable() {
        let t = "{Hi|Hello|Hey}";
        assert_eq!(expand(t, 7), expand(t, 7));
        let seen: std::collections::HashSet<String> = (0..200).map(|s| expand(t, s)).collect();
        assert_eq!(seen.len(), 3, "{seen:?}");
    }

    #[test]
    fn nested_groups_and_plain_text() {
        let out = expand("{Hi|Hello{| there}}, Ana", 3);
        assert!(
            ["Hi, Ana", "Hello, Ana", "Hello there, Ana"].contains(&out.as_str()),
            "{out}"
        );
        assert_eq!(expand("no groups here", 1), "no groups here");
    }

    #[test]
    fn unbalanced_braces_are_kept() {
        assert_eq!(expand("a { b", 1), "a { b");
        assert_eq!(expand("a } b", 1), "a } b");
    }

    #[test]
    fn broken_spintax_is_refused_with_where() {
        assert_eq!(check("{Hi|Hello} {there|you}"), Ok(()));
        assert_eq!(check("{Hi|Hello{| there}}"), Ok(()));
        assert_eq!(check("no groups"), Ok(()));
        let e = check("{Hi|Hello").expect_err("unclosed");
        assert!(e.contains("character 1 is never closed"), "{e}");
        let e = check("plain {x|y} text}").expect_err("stray close");
        assert!(e.contains("character 17 closes no group"), "{e}");
        let e = check("a {} b").expect_err("empty");
        assert!(e.contains("empty group"), "{e}");
    }

    #[test]
    fn leftover_syntax_is_found_and_plain_text_is_not() {
        assert_eq!(
            leftover("Hi Ana, {{ lead.company }} rocks"),
            Some("{{ lead.company }} rocks".into())
        );
        assert_eq!(leftover("x {% if a %}"), Some("{% if a %}".into()));
        assert_eq!(
            leftover("Hello {Ana|Bob}, how"),
            Some("{Ana|Bob}, how".into())
        );
        assert_eq!(leftover("a {b} c | d"), None);
        assert_eq!(leftover("p { color: red } and a | pipe"), None);
        assert_eq!(leftover("plain text"), None);
    }

    proptest! {
        #[test]
        fn expand_never_panics(s in ".*", seed in any::<u64>()) {
            let _ = expand(&s, seed);
        }

        #[test]
        fn check_and_leftover_never_panic(s in ".*") {
            let _ = check(&s);
            let _ = leftover(&s);
        }

        #[test]
        fn checked_spintax_spins_to_text_without_groups(
            parts in proptest::collection::vec("[a-z ]{0,5}", 1..4),
            seed in any::<u64>(),
        ) {
            let text = format!("{{{}}}", parts.join("|"));
            prop_assume!(text != "{}");
            prop_assert!(check(&text).is_ok());
            prop_assert!(unspun_group(&expand(&text, seed)).is_none());
        }
    }
}

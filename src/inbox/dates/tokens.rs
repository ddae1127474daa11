//! Free text as words, numbers and punctuation, each knowing whether white space came before
//! it.

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    Word(String),
    Num(u32, usize),
    Punct(char),
}

#[derive(Debug, Clone)]
pub(super) struct Token {
    pub(super) tok: Tok,
    /// White space comes right before it.
    spaced: bool,
}

/// Reads at most this much text for dates.
const MAX_CHARS: usize = 8_000;

pub(super) fn tokenize(text: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut chars = text.chars().take(MAX_CHARS).peekable();
    let mut spaced = true;
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            spaced = true;
            chars.next();
        } else if c.is_ascii_digit() {
            let mut s = String::new();
            while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                s.push(d);
                chars.next();
            }
            let n = if s.len() > 6 {
                u32::MAX
            } else {
                s.parse().unwrap_or(u32::MAX)
            };
            out.push(Token {
                tok: Tok::Num(n, s.len()),
                spaced,
            });
            spaced = false;
        } else if c.is_alphabetic() {
            let mut s = String::new();
            while let Some(&d) = chars.peek().filter(|d| d.is_alphabetic()) {
                s.extend(d.to_lowercase());
                chars.next();
            }
            out.push(Token {
                tok: Tok::Word(s),
                spaced,
            });
            spaced = false;
        } else {
            out.push(Token {
                tok: Tok::Punct(c),
                spaced,
            });
            chars.next();
            spaced = false;
        }
    }
    out
}

pub(super) fn word(tokens: &[Token], i: usize) -> Option<&str> {
    match tokens.get(i).map(|t| &t.tok) {
        Some(Tok::Word(w)) => Some(w),
        _ => None,
    }
}

pub(super) fn num(tokens: &[Token], i: usize) -> Option<(u32, usize)> {
    match tokens.get(i).map(|t| &t.tok) {
        Some(Tok::Num(n, len)) => Some((*n, *len)),
        _ => None,
    }
}

pub(super) fn punct(tokens: &[Token], i: usize) -> Option<char> {
    match tokens.get(i).map(|t| &t.tok) {
        Some(Tok::Punct(c)) => Some(*c),
        _ => None,
    }
}

/// Token i directly follows token i-1 (no space).
pub(super) fn tight(tokens: &[Token], i: usize) -> bool {
    tokens.get(i).is_some_and(|t| !t.spaced)
}

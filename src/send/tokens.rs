//! The tokens in unsubscribe, click and open URLs: which email (by its Message-ID) and, for a
//! click, which of its links, signed with HMAC-SHA256 so that nobody can make one up, change
//! the link it points at, or learn the lead's address from it.
//!
//! A token is `base64url(payload || tag)` without padding, where the payload is one version
//! byte, one kind byte, for a click the link's index (two bytes, big-endian) and its URL
//! (two bytes of length, then the URL), then the Message-ID without its angle brackets, and
//! the tag is the first 16 bytes of the HMAC of the payload. A click token carries the URL
//! that was in the email, signed: the redirect goes there and nowhere else, and nothing needs
//! storing per link. Tokens exist as soon as the Message-ID does (before the claim), and a retry keeps
//! the Message-ID, so every copy of an email carries the same links.

use aws_lc_rs::{constant_time, hmac};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

const VERSION: u8 = 1;
const TAG_LEN: usize = 16;
/// Longest Message-ID a token carries (RFC 5322 lines stop at 998 characters anyway).
const MAX_ID: usize = 255;
/// Longest URL a click token carries; longer links are left as they are.
pub const MAX_URL: usize = 2048;

/// What a token is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenKind {
    /// The one-click unsubscribe URL (`/u/TOKEN`).
    Unsubscribe,
    /// A tracked link (`/c/TOKEN`): the index of the link in the email, and its URL.
    Click(u16, String),
    /// The open pixel (`/o/TOKEN.gif`).
    Open,
}

/// A verified token: the email it belongs to, and what for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The email's Message-ID, with its angle brackets (`<id@domain>`), as stored.
    pub message_id: String,
    /// What the token is for.
    pub kind: TokenKind,
}

/// The key that signs and checks tokens.
#[derive(Clone)]
pub struct TokenKey(hmac::Key);

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(***)")
    }
}

/// Why a token was refused. Deliberately vague towards the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not base64url, too short, too long, or an unknown version or kind.
    #[error("the link is malformed")]
    Malformed,
    /// The signature does not match: forged, altered or signed with another key.
    #[error("the link is not valid")]
    BadSignature,
}

impl TokenKey {
    /// A key from secret bytes (at least 32 are expected).
    pub fn new(secret: &[u8]) -> TokenKey {
        TokenKey(hmac::Key::new(hmac::HMAC_SHA256, secret))
    }

    fn tag(&self, payload: &[u8]) -> [u8; TAG_LEN] {
        let full = hmac::sign(&self.0, payload);
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(&full.as_ref()[..TAG_LEN]);
        tag
    }

    /// The token for `kind` in the email `message_id` (`<id@domain>` or `id@domain`).
    pub fn sign(&self, message_id: &str, kind: &TokenKind) -> String {
        let id = message_id.trim_start_matches('<').trim_end_matches('>');
        let id = &id.as_bytes()[..id.len().min(MAX_ID)];
        let mut payload = Vec::with_capacity(4 + id.len() + TAG_LEN);
        payload.push(VERSION);
        match kind {
            TokenKind::Unsubscribe => payload.push(b'u'),
            TokenKind::Open => payload.push(b'o'),
            TokenKind::Click(link, url) => {
                payload.push(b'c');
                payload.extend_from_slice(&link.to_be_bytes());
                let url = &url.as_bytes()[..url.len().min(MAX_URL)];
                payload.extend_from_slice(&(url.len() as u16).to_be_bytes());
                payload.extend_from_slice(url);
            }
        }
        payload.extend_from_slice(id);
        let tag = self.tag(&payload);
        payload.extend_from_slice(&tag);
        URL_SAFE_NO_PAD.encode(payload)
    }

    /// Checks a token from a URL. Nothing in it is trusted before the signature is.
    pub fn verify(&self, token: &str) -> Result<Token, TokenError> {
        if token.len() > 2 * (MAX_ID + MAX_URL + 6 + TAG_LEN) {
            return Err(TokenError::Malformed);
        }
        let raw = URL_SAFE_NO_PAD
            .decode(token)
            .map_err(|_| TokenError::Malformed)?;
        if raw.len() < 2 + TAG_LEN + 1 {
            return Err(TokenError::Malformed);
        }
        let (payload, tag) = raw.split_at(raw.len() - TAG_LEN);
        if constant_time::verify_slices_are_equal(&self.tag(payload), tag).is_err() {
            return Err(TokenError::BadSignature);
        }
        if payload[0] != VERSION {
            return Err(TokenError::Malformed);
        }
        let (kind, id) = match payload[1] {
            b'u' => (TokenKind::Unsubscribe, &payload[2..]),
            b'o' => (TokenKind::Open, &payload[2..]),
            b'c' if payload.len() > 6 => {
                let link = u16::from_be_bytes([payload[2], payload[3]]);
                let len = usize::from(u16::from_be_bytes([payload[4], payload[5]]));
                let url = payload.get(6..6 + len).ok_or(TokenError::Malformed)?;
                let url = std::str::from_utf8(url).map_err(|_| TokenError::Malformed)?;
                (TokenKind::Click(link, url.to_string()), &payload[6 + len..])
            }
            _ => return Err(TokenError::Malformed),
        };
        let id = std::str::from_utf8(id).map_err(|_| TokenError::Malformed)?;
        if id.is_empty() {
            return Err(TokenError::Malformed);
        }
        Ok(Token {
            message_id: format!("<{id}>"),
            kind,
        })
    }
}

/// 32 random bytes, hex: a new token key.
pub fn new_key() -> String {
    let mut bytes = [0u8; 32];
    // The system's random source; failing it is failing to start.
    aws_lc_rs::rand::fill(&mut bytes).expect("the system random source works");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The setting that holds the token key the daemons made themselves.
const TOKEN_KEY_SETTING: &str = "token_key";

/// The token key: from config.toml, else the one the daemons share through the store (made
/// at the first start).
pub async fn key_from(
    config: &crate::config::Config,
    store: &crate::store::Store,
    now: i64,
) -> Result<TokenKey, String> {
    match &config.http.token_key {
        Some(source) => {
            let secret = source
                .resolve(&config.dir)
                .map_err(|e| format!("http.token_key: {e}"))?;
            if secret.expose().len() < 16 {
                return Err("http.token_key: the key is shorter than 16 characters".into());
            }
            Ok(TokenKey::new(secret.expose().as_bytes()))
        }
        None => {
            let key = store
                .setting_or_insert(TOKEN_KEY_SETTING, new_key, now)
                .await
                .map_err(|e| format!("cannot read the token key from the store: {e}"))?;
            Ok(TokenKey::new(key.as_bytes()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MID: &str = "<18a2b3c4d5e6f.0123456789abcdef.db@example.com>";

    #[test]
    fn tokens_round_trip_each_kind() {
        let key = TokenKey::new(b"0123456789abcdef0123456789abcdef");
        for kind in [
            TokenKind::Unsubscribe,
            TokenKind::Open,
            TokenKind::Click(0, "https://example.com/a?b=c#d".into()),
            TokenKind::Click(65535, String::new()),
        ] {
            let t = key.sign(MID, &kind);
            assert!(
                t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            );
            assert_eq!(
                key.verify(&t),
                Ok(Token {
                    message_id: MID.into(),
                    kind
                })
            );
        }
    }

    #[test]
    fn another_key_or_a_changed_byte_is_refused() {
        let key = TokenKey::new(b"0123456789abcdef0123456789abcdef");
        let other = TokenKey::new(b"fedcba9876543210fedcba9876543210");
        let t = key.sign(MID, &TokenKind::Click(3, "https://example.com/".into()));
        assert_eq!(other.verify(&t), Err(TokenError::BadSignature));
        // Point the click at another link: the tag no longer matches.
        let mut raw = URL_SAFE_NO_PAD.decode(&t).unwrap();
        raw[3] ^= 1;
        assert_eq!(
            key.verify(&URL_SAFE_NO_PAD.encode(&raw)),
            Err(TokenError::BadSignature)
        );
        // Truncated, padded, or not base64 at all.
        assert!(key.verify(&t[..t.len() - 4]).is_err());
        assert!(key.verify(&format!("{t}==")).is_err());
        assert_eq!(key.verify("%%%"), Err(TokenError::Malformed));
        assert_eq!(key.verify(""), Err(TokenError::Malformed));
    }

    proptest! {
        #[test]
        fn arbitrary_input_never_panics(s in ".{0,600}") {
            let key = TokenKey::new(b"k");
            let _ = key.verify(&s);
        }

        #[test]
        fn arbitrary_bytes_never_verify(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let key = TokenKey::new(b"k");
            prop_assert!(key.verify(&URL_SAFE_NO_PAD.encode(&bytes)).is_err());
        }
    }
}

//! DKIM (RFC 6376, RFC 8463): the public half of the mailbox's configured private key, the
//! `TXT` record that publishes it, and whether a published record holds that key.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePublicKey};
use rsa::{RsaPrivateKey, RsaPublicKey};

use super::tags;
use crate::config::DkimAlgorithm;

/// The public half of a DKIM signing key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// An RSA key.
    Rsa(RsaPublicKey),
    /// An Ed25519 key (32 bytes).
    Ed25519([u8; 32]),
}

/// The public key of a configured private key (RSA PEM, PKCS#1 or PKCS#8; Ed25519 as the
/// base64 of its 32-byte seed, as the signer reads it). The error never quotes the key.
pub fn public_key(algorithm: DkimAlgorithm, private: &str) -> Result<PublicKey, String> {
    match algorithm {
        DkimAlgorithm::Rsa => RsaPrivateKey::from_pkcs1_pem(private.trim())
            .or_else(|_| RsaPrivateKey::from_pkcs8_pem(private.trim()))
            .map(|k| PublicKey::Rsa(k.to_public_key()))
            .map_err(|_| "not an RSA private key in PEM (PKCS#1 or PKCS#8)".to_string()),
        DkimAlgorithm::Ed25519 => {
            let seed: [u8; 32] = STANDARD
                .decode(private.split_whitespace().collect::<String>())
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| "not an Ed25519 key (the base64 of 32 bytes)".to_string())?;
            let key = ed25519_dalek::SigningKey::from_bytes(&seed);
            Ok(PublicKey::Ed25519(key.verifying_key().to_bytes()))
        }
    }
}

impl PublicKey {
    /// The `k=` tag's value.
    pub fn kind(&self) -> &'static str {
        match self {
            PublicKey::Rsa(_) => "rsa",
            PublicKey::Ed25519(_) => "ed25519",
        }
    }

    /// The `p=` value: the base64 of the SubjectPublicKeyInfo (RSA) or of the raw key (Ed25519).
    pub fn p(&self) -> String {
        match self {
            PublicKey::Rsa(k) => k
                .to_public_key_der()
                .map(|der| STANDARD.encode(der.as_bytes()))
                .unwrap_or_default(),
            PublicKey::Ed25519(k) => STANDARD.encode(k),
        }
    }

    /// The TXT record to publish at `SELECTOR._domainkey.DOMAIN`.
    pub fn record(&self) -> String {
        format!("v=DKIM1; k={}; p={}", self.kind(), self.p())
    }
}

/// How a published DKIM record compares with the configured key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyMatch {
    /// It publishes the public half of the configured key.
    Matches,
    /// It publishes another key, or one of another kind; says how it differs.
    Differs(String),
    /// Its `p=` is empty: the key was revoked.
    Revoked,
}

/// Compares one published record with the configured key.
pub fn compare(record: &str, key: &PublicKey) -> KeyMatch {
    let tags = tags(record);
    let get = |name: &str| {
        tags.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let kind = get("k").unwrap_or("rsa");
    if !kind.eq_ignore_ascii_case(key.kind()) {
        return KeyMatch::Differs(format!(
            "it publishes a k={kind} key, and the mailbox signs with {}",
            key.kind()
        ));
    }
    let Some(p) = get("p") else {
        return KeyMatch::Differs("it has no p= tag".to_string());
    };
    let p: String = p.split_whitespace().collect();
    if p.is_empty() {
        return KeyMatch::Revoked;
    }
    let Ok(bytes) = STANDARD.decode(&p) else {
        return KeyMatch::Differs("its p= is not base64".to_string());
    };
    let same = match key {
        PublicKey::Rsa(k) => RsaPublicKey::from_public_key_der(&bytes)
            .or_else(|_| RsaPublicKey::from_pkcs1_der(&bytes))
            .is_ok_and(|published| published == *k),
        PublicKey::Ed25519(k) => bytes == k,
    };
    if same {
        KeyMatch::Matches
    } else {
        KeyMatch::Differs(
            "its p= is another key than the public half of the configured private key".to_string(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> String {
        std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/dkim-test-rsa.pem"
        ))
        .unwrap()
    }

    #[test]
    fn the_rsa_record_publishes_the_public_half_and_matches_itself() {
        let key = public_key(DkimAlgorithm::Rsa, &fixture()).unwrap();
        let record = key.record();
        assert!(
            record.starts_with("v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCB"),
            "{record}"
        );
        assert!(!record.contains("PRIVATE"));
        assert_eq!(compare(&record, &key), KeyMatch::Matches);
        // Split into several strings by a DNS host, and without k= (rsa is the default).
        let spaced = record
            .replace("k=rsa; ", "")
            .replacen("p=MIGf", "p=MI Gf", 1);
        assert_eq!(compare(&spaced, &key), KeyMatch::Matches);
    }

    #[test]
    fn another_key_an_empty_p_or_another_kind_do_not_match() {
        let key = public_key(DkimAlgorithm::Rsa, &fixture()).unwrap();
        let ed = public_key(DkimAlgorithm::Ed25519, &STANDARD.encode([7u8; 32])).unwrap();
        assert!(
            matches!(compare(&ed.record(), &key), KeyMatch::Differs(ref w) if w.contains("k=ed25519"))
        );
        assert_eq!(compare("v=DKIM1; k=rsa; p=", &key), KeyMatch::Revoked);
        let other = ed.record().replace("k=ed25519", "k=rsa");
        assert!(matches!(compare(&other, &key), KeyMatch::Differs(_)));
    }

    #[test]
    fn an_ed25519_record_holds_the_raw_public_key() {
        let key = public_key(DkimAlgorithm::Ed25519, &STANDARD.encode([7u8; 32])).unwrap();
        let record = key.record();
        assert!(record.starts_with("v=DKIM1; k=ed25519; p="), "{record}");
        assert_eq!(STANDARD.decode(key.p()).unwrap().len(), 32);
        assert_eq!(compare(&record, &key), KeyMatch::Matches);
    }

    #[test]
    fn a_bad_private_key_is_refused_without_quoting_it() {
        let e = public_key(
            DkimAlgorithm::Rsa,
            "-----BEGIN RSA PRIVATE KEY-----\nsecret\n",
        )
        .unwrap_err();
        assert!(!e.contains("secret"), "{e}");
        assert!(public_key(DkimAlgorithm::Ed25519, "c2hvcnQ=").is_err());
    }
}

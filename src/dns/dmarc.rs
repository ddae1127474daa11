//! DMARC (RFC 7489): the record at `_dmarc.DOMAIN` and its policy.

use super::tags;

/// A DMARC record's policy for mail that fails authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dmarc {
    /// `none`, `quarantine` or `reject`.
    pub policy: String,
}

/// Whether a TXT record is a DMARC record (`v=DMARC1` first).
pub fn is_dmarc(txt: &str) -> bool {
    tags(txt)
        .first()
        .is_some_and(|(k, v)| k == "v" && v.eq_ignore_ascii_case("DMARC1"))
}

/// Parses a DMARC record; the error says what is wrong.
pub fn parse(txt: &str) -> Result<Dmarc, String> {
    if !is_dmarc(txt) {
        return Err("does not start with v=DMARC1".to_string());
    }
    let tags = tags(txt);
    let Some((_, p)) = tags.iter().find(|(k, _)| k.eq_ignore_ascii_case("p")) else {
        return Err("has no p= policy (none, quarantine or reject)".to_string());
    };
    let policy = p.to_ascii_lowercase();
    if !matches!(policy.as_str(), "none" | "quarantine" | "reject") {
        return Err(format!(
            "p={p} is not a policy (none, quarantine or reject)"
        ));
    }
    Ok(Dmarc { policy })
}

/// `record` with its policy set to `policy` (other tags kept), for the record to publish.
pub fn with_policy(record: &str, policy: &str) -> String {
    tags(record)
        .into_iter()
        .map(|(k, v)| {
            if k.eq_ignore_ascii_case("p") {
                format!("p={policy}")
            } else {
                format!("{k}={v}")
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_is_read_and_a_bad_one_named() {
        assert_eq!(
            parse("v=DMARC1; p=quarantine; rua=mailto:d@x.test")
                .unwrap()
                .policy,
            "quarantine"
        );
        assert_eq!(parse("v=DMARC1;p=None").unwrap().policy, "none");
        assert!(
            parse("v=DMARC1; rua=mailto:d@x.test")
                .unwrap_err()
                .contains("no p=")
        );
        assert!(parse("v=DMARC1; p=block").unwrap_err().contains("p=block"));
        assert!(!is_dmarc("p=reject; v=DMARC1"));
    }

    #[test]
    fn a_stricter_record_keeps_the_other_tags() {
        assert_eq!(
            with_policy("v=DMARC1; p=none; rua=mailto:d@x.test", "quarantine"),
            "v=DMARC1; p=quarantine; rua=mailto:d@x.test"
        );
    }
}

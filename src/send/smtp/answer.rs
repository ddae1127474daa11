//! What a server's answer that is not 2xx/3xx means for a message: try again later, or
//! refused, with the refusal's reason in the bounce taxonomy (`crate::bounce`).

use crate::bounce;
use crate::send::transport::Delivery;

/// An SMTP answer that is not 2xx/3xx.
pub(super) fn answer_delivery(what: &str, e: &lettre::transport::smtp::Error) -> Delivery {
    let text = e.to_string();
    if e.is_transient() {
        return Delivery::Retry {
            reason: format!("{what}: {text}"),
        };
    }
    let basic = e.status().map(|c| c.to_string()).unwrap_or_default();
    let enhanced = enhanced_code(&text);
    Delivery::Rejected {
        reason: format!("{what}: {text}"),
        code: Some(enhanced.unwrap_or(basic)),
        bounce: Some(bounce::reason_of_smtp(what, &text)),
    }
}

/// The first RFC 3463 enhanced status code (`5.1.1`) in a server's answer.
pub fn enhanced_code(text: &str) -> Option<String> {
    text.split(|c: char| c.is_whitespace() || "():,-;".contains(c))
        .find(|w| {
            let parts: Vec<&str> = w.split('.').collect();
            parts.len() == 3
                && matches!(parts[0], "2" | "4" | "5")
                && (1..=3).contains(&parts[1].len())
                && (1..=3).contains(&parts[2].len())
                && parts[1..]
                    .iter()
                    .all(|p| p.bytes().all(|b| b.is_ascii_digit()))
        })
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enhanced_codes_are_found_in_real_answers() {
        assert_eq!(
            enhanced_code(
                "permanent error (550): 5.1.1 <x@example.com>: Recipient address rejected: User unknown"
            ),
            Some("5.1.1".into())
        );
        assert_eq!(
            enhanced_code("550-5.1.1 The email account that you tried to reach does not exist."),
            Some("5.1.1".into())
        );
        assert_eq!(
            enhanced_code("451 4.7.1 Greylisted, try again"),
            Some("4.7.1".into())
        );
        assert_eq!(enhanced_code("554 Transaction failed"), None);
        assert_eq!(enhanced_code("version 1.2.3.4 here"), None);
    }
}

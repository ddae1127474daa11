//! RFC 3463 enhanced status codes (`class.subject.detail`) and the reasons they name, with
//! the later registrations of RFC 7372 (authentication, reverse DNS) and RFC 7505 (null MX).

use super::Reason;

/// The first enhanced status code (`5.1.1`) in `s`, skipping version numbers and IP
/// addresses (`10.4.5.6`, `1.2.3`).
pub fn enhanced_status(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if !matches!(b, b'2' | b'4' | b'5') || bytes.get(i + 1) != Some(&b'.') {
            continue;
        }
        if i > 0 && (bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'.') {
            continue;
        }
        let rest = &s[i + 2..];
        let subject: String = rest.chars().take_while(char::is_ascii_digit).collect();
        if subject.is_empty() || subject.len() > 3 {
            continue;
        }
        let rest = &rest[subject.len()..];
        let Some(rest) = rest.strip_prefix('.') else {
            continue;
        };
        let detail: String = rest.chars().take_while(char::is_ascii_digit).collect();
        if detail.is_empty() || detail.len() > 3 {
            continue;
        }
        let after = rest[detail.len()..].chars().next();
        if after.is_some_and(|c| {
            c.is_ascii_alphanumeric()
                || c == '.' && rest[detail.len() + 1..].starts_with(|c: char| c.is_ascii_digit())
        }) {
            continue;
        }
        return Some(format!("{}.{subject}.{detail}", b as char));
    }
    None
}

/// A code that names its reason whatever the text says.
pub(super) fn decisive(status: &str) -> Option<Reason> {
    let (class, rest) = status.split_once('.')?;
    if class != "5" && class != "4" {
        return None;
    }
    let reason = match rest {
        "1.1" | "1.3" => Reason::UserUnknown,
        "1.2" => Reason::HostUnknown,
        "1.6" => Reason::HasMoved,
        "2.2" => Reason::MailboxFull,
        "3.4" => Reason::MesgTooBig,
        "4.7" => Reason::Expired,
        "7.13" => Reason::Suspend,
        "7.20" | "7.21" | "7.22" | "7.23" | "7.24" | "7.26" => Reason::AuthFailure,
        "7.25" => Reason::RequirePtr,
        "7.28" => Reason::Speeding,
        _ => return None,
    };
    // A temporary "4.1.1" (a lookup that failed for now) is no proof the address is gone.
    (class == "5" || !reason.is_hard()).then_some(reason)
}

/// A code's usual reason, when the server's words named none.
pub(super) fn general(status: &str) -> Option<Reason> {
    let (class, rest) = status.split_once('.')?;
    if class != "5" && class != "4" {
        return None;
    }
    let (subject, detail) = rest.split_once('.')?;
    Some(match (subject, detail) {
        ("1", "4" | "5" | "0") => Reason::UserUnknown,
        // RFC 7505's null MX; Microsoft 365 also sends it for RecipientNotFound.
        ("1", "10") => Reason::NotAccept,
        ("1", "7" | "8") => Reason::Rejected,
        ("1", _) => return None,
        ("2", "1") => Reason::Suspend,
        ("2", "3") => Reason::ExceedLimit,
        ("2", "4") => Reason::SystemError,
        ("2", _) => Reason::Filtered,
        ("3", "1") => Reason::SystemFull,
        ("3", "2") => Reason::NotAccept,
        ("3", _) => Reason::SystemError,
        ("4", "4") => Reason::HostUnknown,
        ("4", "6") => Reason::NetworkError,
        ("4", "3" | "5") => Reason::SystemError,
        ("4", _) => Reason::NetworkError,
        ("5", "3") => Reason::ExceedLimit,
        ("5", _) => Reason::SyntaxError,
        ("6", _) => Reason::ContentError,
        ("7", "0") => return None,
        ("7", "2") => Reason::Filtered,
        ("7", "1") => Reason::SecurityError,
        ("7", _) => Reason::SecurityError,
        _ => return None,
    })
}

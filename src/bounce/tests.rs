use super::*;

fn smtp(text: &str) -> Reason {
    reason_of_smtp("RCPT TO", text)
}

#[test]
fn answers_that_say_the_address_is_gone_are_hard() {
    for (text, want) in [
        (
            "550-5.1.1 The email account that you tried to reach does not exist. Please try \
             double-checking the recipient's email address for typos",
            Reason::UserUnknown,
        ),
        (
            "550 5.1.1 <x@example.com>: Recipient address rejected: User unknown in virtual \
             mailbox table",
            Reason::UserUnknown,
        ),
        (
            "550 5.4.1 Recipient address rejected: Access denied. AS(201806281)",
            Reason::UserUnknown,
        ),
        ("550 No such user here", Reason::UserUnknown),
        (
            "553 5.1.2 We weren't able to find the recipient domain.",
            Reason::HostUnknown,
        ),
        (
            "551 5.1.6 User has moved; please try <b@example.org>",
            Reason::HasMoved,
        ),
        (
            "556 5.1.10 Recipient address has null MX",
            Reason::NotAccept,
        ),
    ] {
        let r = smtp(text);
        assert_eq!(r, want, "{text}");
        assert!(r.is_hard(), "{text}");
    }
}

#[test]
fn refusals_of_the_sender_are_the_senders_whatever_the_5xx() {
    for (text, want) in [
        (
            "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using \
             zen.spamhaus.org",
            Reason::Blocked,
        ),
        (
            "550-5.7.1 [192.0.2.1] Our system has detected that this message is likely \
             unsolicited mail.",
            Reason::SpamDetected,
        ),
        (
            "550-5.7.26 This mail has been blocked because the sender is unauthenticated. \
             Gmail requires all senders to authenticate with either SPF or DKIM.",
            Reason::AuthFailure,
        ),
        (
            "550 5.7.25 The IP address sending this message does not have a PTR record setup",
            Reason::RequirePtr,
        ),
        (
            "421 4.7.0 Too many connections from your host, try later",
            Reason::TooManyConn,
        ),
        ("550 too many connections", Reason::TooManyConn),
        (
            "550 5.7.1 Unfortunately, messages from [192.0.2.1] weren't sent. Please contact \
             your Internet service provider since part of their network is on our block list",
            Reason::Blocked,
        ),
        (
            "554 5.7.9 Message not accepted for policy reasons.",
            Reason::PolicyViolation,
        ),
        (
            "530 5.7.0 Must issue a STARTTLS command first",
            Reason::SecurityError,
        ),
        (
            "554 5.7.1 <x@example.com>: Relay access denied",
            Reason::NoRelaying,
        ),
        ("550 5.7.1 Message contains a virus", Reason::VirusDetected),
        (
            "550 5.4.5 Daily user sending quota exceeded.",
            Reason::Speeding,
        ),
    ] {
        let r = smtp(text);
        assert_eq!(r, want, "{text}");
        assert_eq!(r.side(), Side::Sender, "{text}");
    }
}

#[test]
fn the_leads_passing_troubles_are_soft() {
    for (text, want) in [
        (
            "552-5.2.2 The email account that you tried to reach is over quota.",
            Reason::MailboxFull,
        ),
        (
            "552 5.3.4 Message size exceeds fixed limit",
            Reason::MesgTooBig,
        ),
        (
            "550 5.2.1 The email account that you tried to reach is disabled.",
            Reason::Suspend,
        ),
        ("452 4.3.1 Insufficient system storage", Reason::SystemFull),
        ("550 Requested action aborted", Reason::Undefined),
    ] {
        let r = smtp(text);
        assert_eq!(r, want, "{text}");
        assert_eq!(r.side(), Side::LeadSoft, "{text}");
    }
}

#[test]
fn a_refused_envelope_sender_is_never_the_leads_fault() {
    assert_eq!(
        reason_of_smtp("MAIL FROM", "553 5.1.1 <rep@example.com>: sender unknown"),
        Reason::Rejected
    );
}

#[test]
fn a_temporary_user_lookup_failure_is_not_hard() {
    let r = reason_of(Answer {
        status: Some("4.1.1"),
        diagnostic: "450 4.1.1 <x@example.com>: Recipient address rejected: lookup failed",
        report: "",
        command: None,
    });
    assert!(!r.is_hard(), "{r}");
}

#[test]
fn the_report_prose_decides_only_when_the_diagnostic_says_nothing() {
    let r = reason_of(Answer {
        status: Some("5.0.0"),
        diagnostic: "",
        report: "the mail system: <x@example.com>: host mx.example.com said: mailbox is full",
        command: None,
    });
    assert_eq!(r, Reason::MailboxFull);
}

#[test]
fn every_reason_round_trips_its_name() {
    for r in Reason::ALL {
        assert_eq!(Reason::parse(r.as_str()), Some(r));
    }
}

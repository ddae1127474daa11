//! Bounce wording: what servers write when a message did not arrive, for good or for now, and
//! who writes it.

/// Subject lines of bounces (lowercase prefix or substring) and the server that writes them.
pub(in crate::inbox) const BOUNCE_SUBJECTS: &[(&str, &str)] = &[
    ("undelivered mail returned to sender", "Postfix"),
    ("delivery status notification (failure)", "Gmail"),
    ("delivery status notification (delay)", "Gmail"),
    ("delayed mail (still being retried)", "Postfix"),
    ("mail delivery failed", "Exim"),
    ("warning: message ", "Exim"),
    ("failure notice", "qmail/Yahoo"),
    ("returned mail:", "Sendmail"),
    ("warning: could not send message", "Sendmail"),
    ("undeliverable:", "Exchange"),
    ("undeliverable mail", "bounce"),
    ("unzustellbar:", "Exchange (de)"),
    ("non remis :", "Exchange (fr)"),
    ("non remis:", "Exchange (fr)"),
    ("no se puede entregar:", "Exchange (es)"),
    ("não é possível entregar:", "Exchange (pt)"),
    ("onbestelbaar:", "Exchange (nl)"),
    ("delivery failure", "bounce"),
    ("delivery has failed", "bounce"),
    ("message not delivered", "bounce"),
    ("mail delivery failure", "bounce"),
    ("mail system error - returned mail", "bounce"),
    ("non-delivery", "Exchange"),
    ("nondeliverable", "bounce"),
    ("undeliverable", "bounce"),
    ("undelivered mail", "bounce"),
    ("could not be delivered", "bounce"),
    ("couldn't be delivered", "bounce"),
    ("mail failure", "Exim"),
    ("mail failed", "bounce"),
    ("returned mail", "bounce"),
    ("returned to sender", "bounce"),
    ("mail delivery warning", "bounce"),
    ("delivery notification: delivery has failed", "Lotus Notes"),
    ("delivery status notification", "DSN"),
    ("non remis", "Exchange (fr)"),
];

/// Subject words that make a delivery notice a success report, not a bounce.
pub(in crate::inbox) const SUCCESS_SUBJECTS: &[&str] = &["(success)", "(relay)", "delivered:"];

/// Body lines that only bounces write.
pub(in crate::inbox) const BOUNCE_BODIES: &[(&str, &str)] = &[
    (
        "this message was created automatically by mail delivery software",
        "Exim bounce: created automatically by mail delivery software",
    ),
    (
        "hi. this is the qmail-send program",
        "qmail bounce: This is the qmail-send program",
    ),
    (
        "this is the mail system at host",
        "Postfix bounce: This is the mail system at host",
    ),
    (
        "delivery to the following recipient failed permanently",
        "Gmail bounce: Delivery to the following recipient failed permanently",
    ),
    (
        "delivery to the following recipients failed",
        "Gmail bounce: Delivery to the following recipients failed",
    ),
    (
        "delivery to the following recipient has been delayed",
        "Gmail bounce: Delivery to the following recipient has been delayed",
    ),
    (
        "there was a temporary problem delivering your message",
        "Gmail bounce: temporary problem delivering your message",
    ),
    (
        "delivery has failed to these recipients or groups",
        "Exchange bounce: Delivery has failed to these recipients or groups",
    ),
    (
        "your message to",
        "Exchange bounce: Your message couldn't be delivered",
    ),
    (
        "the following message to <",
        "Amazon SES bounce: The following message to <…> was undeliverable",
    ),
    (
        "an error occurred while trying to deliver the mail",
        "Amazon SES bounce: An error occurred while trying to deliver the mail",
    ),
    (
        "i'm sorry to have to inform you that your message could not",
        "Postfix bounce: I'm sorry to have to inform you",
    ),
    (
        "the following addresses had permanent fatal errors",
        "Sendmail bounce: The following addresses had permanent fatal errors",
    ),
    (
        "could not be delivered to one or more of its recipients",
        "bounce text: could not be delivered to one or more of its recipients",
    ),
];

/// Senders of bounces (local part).
pub(in crate::inbox) const BOUNCE_SENDERS: &[&str] = &[
    "mailer-daemon",
    "postmaster",
    "mail-daemon",
    "mailerdaemon",
    "mailer_daemon",
    "mdaemon",
    "mail.delivery.system",
    "mail-delivery-system",
    "mail-delivery-subsystem",
];

/// Display names of bounce senders (lowercase substrings).
pub(in crate::inbox) const BOUNCE_SENDER_NAMES: &[&str] = &[
    "mail delivery",
    "mailer-daemon",
    "mailer daemon",
    "postmaster",
    "mail administrator",
];

/// Words of a failed delivery, for mail from a null or unusual sender.
pub(in crate::inbox) const FAILURE_WORDS: &[&str] = &[
    "undeliver",
    "not delivered",
    "delivery failed",
    "could not be delivered",
    "couldn't be delivered",
    "not a valid user",
    "user unknown",
    "unknown user",
    "no such user",
    "does not exist",
    "mailbox unavailable",
    "returned mail",
];

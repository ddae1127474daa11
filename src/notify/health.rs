//! The rep's notice that their mailbox was paused for its health: which mailbox, why (with
//! the figures), what waits, and how to resume. Its words are fixed when the pause is
//! recorded, in the same transaction.

use chrono::{DateTime, Utc};

use crate::config::Mailbox;
use crate::send::message::new_message_id;
use crate::store::HealthNotice;

/// The notice of `mailbox`'s pause at `at` for `why`; None when the mailbox has no
/// `[mailbox.notify]`.
pub fn paused_notice(mailbox: &Mailbox, why: &str, at: DateTime<Utc>) -> Option<HealthNotice> {
    let tz = mailbox.notify.as_ref()?.timezone;
    let name = &mailbox.name;
    let when = at.with_timezone(&tz).format("%a %-d %b %Y %H:%M %Z");
    let body = format!(
        "drumbeat paused your mailbox {name} ({from}) at {when}: {why}.\n\n\
         It sends nothing until you resume it; its leads keep their place and wait.\n\
         Find the cause first (a list that bounces, a blocklist, SPF/DKIM/DMARC: \
         `drumbeat doctor`), then resume it with:\n\n    drumbeat mailbox resume {name}\n\n\
         `drumbeat mailbox list` shows every mailbox's health.\n",
        from = mailbox.from,
    );
    Some(HealthNotice {
        subject: format!("Mailbox {name} paused: {why}"),
        chat: crate::webhooks::slack_escape(&format!(
            "Mailbox {name} paused: {why}. Its leads wait. Resume with `drumbeat mailbox resume {name}`"
        )),
        body,
        message_id: new_message_id(mailbox),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_notice_says_which_mailbox_why_and_how_to_resume() {
        let config = crate::config::Config::parse(
            "[[mailbox]]\nname = \"ana\"\nfrom = \"Ana <ana@example.com>\"\noutbox = \"out\"\n\
             [mailbox.notify]\nemail = \"ana@example.com\"\ntimezone = \"Europe/Berlin\"\n",
            "config.toml",
            std::path::Path::new("config.toml"),
            std::path::Path::new("/srv"),
        )
        .map_err(|e| e.iter().map(ToString::to_string).collect::<Vec<_>>())
        .expect("config");
        let m = config.mailbox("ana").expect("ana");
        let at = DateTime::from_timestamp(1_796_220_000, 0).expect("an instant");
        let n = paused_notice(m, "hard bounces 4 of the last 100 sends (limit 3%)", at)
            .expect("a notice");
        assert_eq!(
            n.subject,
            "Mailbox ana paused: hard bounces 4 of the last 100 sends (limit 3%)"
        );
        assert!(n.body.contains("drumbeat mailbox resume ana"), "{}", n.body);
        assert!(n.body.contains("CET"), "{}", n.body);
        assert!(
            n.chat.contains("`drumbeat mailbox resume ana`"),
            "{}",
            n.chat
        );
        let mut without = m.clone();
        without.notify = None;
        assert!(paused_notice(&without, "x", at).is_none());
    }
}

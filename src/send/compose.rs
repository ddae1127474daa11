//! The one composer: a step of a sequence, for a lead, from a mailbox, given the touches the
//! enrollment already has, turned into the finished message. The daemon sends what it
//! returns; `preview` and `preview --raw` show it (DESIGN.md invariant 9), so a preview is
//! the message that goes out.

use chrono::{DateTime, Utc};

use super::links::{Links, dress};
use super::message::{Outgoing, build};
use super::tokens::TokenKey;
use crate::catalog::Catalog;
use crate::config::{Config, Mailbox};
use crate::domain::{PastTouch, TouchKind, fnv1a};
use crate::enrollment::TouchState;
use crate::lead::LeadRecord;
use crate::plan::{thread_of, thread_subject};
use crate::render::{RenderInput, RenderedEmail, SAMPLE_UNSUBSCRIBE_URL};
use crate::sequence::Sequence;

/// What one email step needs to become a message.
pub struct Draft<'a> {
    /// The sequence.
    pub sequence: &'a Sequence,
    /// The email step's position in it.
    pub index: usize,
    /// To whom.
    pub lead: &'a LeadRecord,
    /// From which mailbox.
    pub mailbox: &'a Mailbox,
    /// The enrollment's touches so far (from any mailbox): the thread and its subject come
    /// from them.
    pub past: &'a [PastTouch],
    /// The thread's subject as stored with the enrollment, when its first email is not among
    /// `past` (an edited sequence).
    pub stored_subject: Option<&'a str>,
    /// `<id@domain>`: the one the touch was claimed with.
    pub message_id: &'a str,
    /// The Date header.
    pub date: DateTime<Utc>,
    /// The A/B variant (its position in the step) to compose, whatever the lead's seed picks
    /// (`validate --spam` scores every variant); `None` for the lead's own.
    pub variant: Option<usize>,
}

/// A draft's text as the rep approves it: what the template said (or the rep's edit of it),
/// before the unsubscribe footer and tracked links go in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditedText {
    /// Subject, one line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body (an edit of the text drops it).
    pub html: Option<String>,
}

/// A finished message.
pub struct Composed {
    /// What the template said, with the unsubscribe footer and tracked links in.
    pub rendered: RenderedEmail,
    /// What the template said, before the footer and tracked links (a draft's text).
    pub plain: EditedText,
    /// The message, unsigned.
    pub message: lettre::Message,
    /// False for a reply in an existing thread.
    pub new_thread: bool,
    /// The thread's previous Message-ID (In-Reply-To), for a reply in an existing thread.
    pub in_reply_to: Option<String>,
}

/// Composes `draft` with the catalog's templates, config.toml's tracking and base URL, and the
/// link key (without one: no tracked links, the sample unsubscribe URL in the text and the
/// mailto: one in List-Unsubscribe).
pub fn compose(
    catalog: &Catalog,
    config: &Config,
    tokens: Option<&TokenKey>,
    draft: &Draft<'_>,
) -> Result<Composed, String> {
    compose_with(catalog, config, tokens, draft, None)
}

/// [`compose`], with the text of a reviewed draft (`edited`) in place of what the template
/// says: the same thread, headers, footer and tracked links.
pub fn compose_with(
    catalog: &Catalog,
    config: &Config,
    tokens: Option<&TokenKey>,
    draft: &Draft<'_>,
    edited: Option<&EditedText>,
) -> Result<Composed, String> {
    let (seq, index, mailbox) = (draft.sequence, draft.index, draft.mailbox);
    let threaded = seq.steps[index].email().is_some_and(|e| e.thread);
    let links = tokens.map(|key| Links::new(key, &config.http.base_url, draft.message_id));
    let unsubscribe_url = links.as_ref().map(Links::unsubscribe);
    let input = RenderInput {
        lead: draft.lead,
        sender: mailbox,
        unsubscribe_url: unsubscribe_url.as_deref().unwrap_or(SAMPLE_UNSUBSCRIBE_URL),
    };
    // A thread lives in one mailbox: emails another mailbox sent (before the lead changed
    // owner) are not in it, so this one starts a new thread, under the thread's subject
    // without "Re:".
    let mut moved = false;
    let (thread, root_subject) = if threaded {
        let ours: Vec<PastTouch> = draft
            .past
            .iter()
            .filter(|t| t.mailbox.as_deref().is_none_or(|m| m == mailbox.name))
            .cloned()
            .collect();
        let thread = thread_of(seq, index, &ours);
        moved = thread.is_empty() && !thread_of(seq, index, draft.past).is_empty();
        let subject = if moved {
            thread_subject(seq, index, draft.past)
        } else {
            thread_subject(seq, index, &ours).or_else(|| draft.stored_subject.map(str::to_string))
        };
        (thread, subject)
    } else {
        (Vec::new(), None)
    };
    let mut rendered = catalog
        .renderer
        .render_chosen(&input, seq, index, root_subject.as_deref(), draft.variant)
        .map_err(|e| e.to_string())?;
    if moved && let Some(fresh) = rendered.subject.strip_prefix("Re: ") {
        rendered.subject = fresh.to_string();
    }
    if let Some(e) = edited {
        rendered.subject = e.subject.clone();
        rendered.text = e.text.clone();
        rendered.html = e.html.clone();
    }
    let plain = EditedText {
        subject: rendered.subject.clone(),
        text: rendered.text.clone(),
        html: rendered.html.clone(),
    };
    if let Some(links) = &links {
        dress(&mut rendered, links, seq, config.http.tracking);
    }
    let message = build(&Outgoing {
        mailbox,
        lead: draft.lead,
        rendered: &rendered,
        message_id: draft.message_id,
        date: draft.date,
        thread: &thread,
        unsubscribe_url: unsubscribe_url.as_deref(),
    })
    .map_err(|e| e.to_string())?;
    Ok(Composed {
        rendered,
        plain,
        message,
        new_thread: !threaded || thread.is_empty(),
        in_reply_to: thread.last().cloned(),
    })
}

impl Composed {
    /// The touch this message becomes once sent at `at` from `mailbox`: what the steps after
    /// it thread on when they are composed before it went out (`preview`, `validate --spam`).
    pub fn as_sent(
        &self,
        step_id: &str,
        message_id: &str,
        mailbox: &Mailbox,
        at: DateTime<Utc>,
    ) -> PastTouch {
        PastTouch {
            id: i64::MAX,
            step_id: step_id.to_string(),
            kind: TouchKind::Email,
            state: TouchState::Sent,
            message_id: Some(message_id.to_string()),
            subject: Some(self.rendered.subject.clone()),
            sent_at: Some(at.timestamp()),
            attempt: 1,
            mailbox: Some(mailbox.name.clone()),
        }
    }
}

/// The Message-ID of a step composed on a fixed clock (`run --once --now`, `DRUMBEAT_NOW`
/// scratch runs) and of every `preview`: derived from the enrollment and the step, so a
/// preview shows the very message a fixed-clock run sends. A real clock uses
/// [`super::message::new_message_id`].
pub fn seeded_message_id(mailbox: &Mailbox, enrollment: i64, sequence: &str, step: &str) -> String {
    let h = fnv1a(format!("message-id:{enrollment}:{sequence}:{step}").as_bytes());
    format!("<{h:016x}.db@{}>", mailbox.from.domain())
}

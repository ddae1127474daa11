//! Calendar mail in the watcher (iMIP, RFC 6047): a lead's own invitation, or a lead's
//! acceptance of the rep's, is a meeting booked (source `imip`), recorded through the same
//! store call and policy decision as a scheduling tool's webhook; a decline or a tentative
//! answer is a person's reply for the rep; a lead's cancel goes in the timeline only; the rep's
//! own invitations are no lead's news. See [`super::calendar`] for the reading.

use serde_json::{Value, json};

use super::calendar::{self, Invitation, Meaning};
use super::classify::{Classification, Kind};
use super::parse::Inbound;
use crate::context::Context;
use crate::lead::Email;
use crate::store::{EventKind, NewEvent, StoreError, StoredLead};

/// Reads calendar mail from `inbound` (raw bytes `raw`) that arrived in `mailbox`. True when it
/// was handled here (the caller only moves the folder's read position); false when the
/// message goes on as any other mail, with `c` turned into a reply for an answer that is not
/// an acceptance.
pub(super) async fn handle(
    daemon: &Context,
    mailbox: &str,
    inbound: &Inbound,
    raw: &[u8],
    c: &mut Classification,
) -> Result<bool, StoreError> {
    let Some(invitation) = calendar::read(raw) else {
        return Ok(false);
    };
    let sender = inbound.from.as_deref().unwrap_or_default().to_lowercase();
    let ours = daemon
        .config()
        .mailboxes
        .iter()
        .find(|m| m.name == mailbox)
        .map(|m| m.from.as_str().to_lowercase())
        .unwrap_or_default();
    match calendar::meaning(&invitation, &sender, &ours) {
        Meaning::Unrelated => Ok(false),
        Meaning::Ours => {
            tracing::info!(mailbox, "the rep's own invitation in the inbox: ignored");
            Ok(true)
        }
        Meaning::Answered(answer) => {
            c.kind = Kind::Reply;
            c.rule = format!("calendar answer (iMIP): PARTSTAT={}", answer.as_str());
            if c.intent.is_none() {
                c.intent = Some(crate::intent::read_reply(
                    &inbound.visible_text,
                    &[sender.as_str()],
                ));
            }
            Ok(false)
        }
        Meaning::Booked => {
            let Some(lead) = lead_of(daemon, &sender).await? else {
                return Ok(false);
            };
            booked(daemon, mailbox, &lead, &invitation).await?;
            Ok(true)
        }
        Meaning::Cancelled => {
            let Some(lead) = lead_of(daemon, &sender).await? else {
                return Ok(false);
            };
            cancelled(daemon, mailbox, &lead, &invitation).await?;
            Ok(true)
        }
    }
}

async fn lead_of(daemon: &Context, sender: &str) -> Result<Option<StoredLead>, StoreError> {
    match Email::parse(sender) {
        Ok(email) => daemon.store().lead_by_email(&email).await,
        Err(_) => Ok(None),
    }
}

/// The event's data: source, the meeting's UID and, when known, its start.
fn data(invitation: &Invitation) -> Value {
    let mut data = json!({ "source": "imip", "booking": invitation.uid });
    if let (Some(at), Some(o)) = (invitation.start, data.as_object_mut()) {
        o.insert("at".into(), at.timestamp().into());
    }
    data
}

/// Whether the lead's timeline already holds an event of `kind` from calendar mail about this
/// meeting (an update of the invitation, the same message in another folder).
async fn seen(
    daemon: &Context,
    lead: &StoredLead,
    kind: EventKind,
    uid: &str,
) -> Result<bool, StoreError> {
    Ok(daemon
        .store()
        .events_for_lead(lead.id)
        .await?
        .iter()
        .any(|e| e.kind == kind.as_str() && e.data["source"] == "imip" && e.data["booking"] == uid))
}

/// A meeting booked with the lead: once per meeting (UID), through the same path as the
/// scheduling tools' webhooks (the policy stops every open enrollment, outcome
/// `meeting-booked`).
async fn booked(
    daemon: &Context,
    mailbox: &str,
    lead: &StoredLead,
    invitation: &Invitation,
) -> Result<(), StoreError> {
    if seen(daemon, lead, EventKind::MeetingBooked, &invitation.uid).await? {
        tracing::info!(mailbox, lead = lead.id.0, "meeting already recorded");
        return Ok(());
    }
    let now = daemon.now().timestamp();
    let done = daemon
        .store()
        .record_meeting_booked(lead.id, &data(invitation), now)
        .await?;
    tracing::info!(
        mailbox,
        lead = lead.id.0,
        source = "imip",
        stopped = done.stopped.len(),
        recorded = done.recorded,
        "meeting booked"
    );
    Ok(())
}

/// The lead called the meeting off: a line in the timeline, once; nothing restarts.
async fn cancelled(
    daemon: &Context,
    mailbox: &str,
    lead: &StoredLead,
    invitation: &Invitation,
) -> Result<(), StoreError> {
    if seen(daemon, lead, EventKind::MeetingCancelled, &invitation.uid).await? {
        return Ok(());
    }
    let mut ev = NewEvent::about(EventKind::MeetingCancelled, Some(lead.id));
    ev.mailbox = Some(mailbox);
    ev.data = data(invitation);
    daemon
        .store()
        .record_event(&ev, daemon.now().timestamp())
        .await?;
    tracing::info!(mailbox, lead = lead.id.0, "meeting cancelled by the lead");
    Ok(())
}

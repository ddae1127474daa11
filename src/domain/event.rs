//! The kinds of fact the event log holds.

use serde::Serialize;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    /// A new lead arrived (a CSV import or the API); `mailbox` is its owner then, `data.source` where
    /// it came from.
    Received,
    /// A lead got a new owner (`mailbox`; `data.from` the one before).
    Assigned,
    /// Lead put into a sequence.
    Enrolled,
    /// An email left (the server accepted it).
    Sent,
    /// A provider reported delivery.
    Delivered,
    /// Tracking pixel fetched.
    Opened,
    /// Tracked link followed.
    Clicked,
    /// The lead answered.
    Replied,
    /// An automatic answer (out of office).
    AutoReplied,
    /// A bounce.
    Bounced,
    /// The lead unsubscribed.
    Unsubscribed,
    /// A spam complaint.
    Complained,
    /// A meeting was booked.
    MeetingBooked,
    /// A meeting booked through calendar mail was called off by its organizer (`data.source`
    /// `imip`, `data.booking` the event's UID). Shown in the timeline; nothing restarts.
    MeetingCancelled,
    /// A manual task was created for the rep.
    TaskDue,
    /// A manual task was done.
    TaskDone,
    /// Enrollment paused.
    Paused,
    /// Enrollment resumed.
    Resumed,
    /// Enrollment stopped.
    Stopped,
    /// Enrollment finished its last step.
    Finished,
    /// A step failed.
    Failed,
    /// An address or domain was put on the suppression list.
    Suppressed,
    /// An address or domain was taken off it.
    Unsuppressed,
    /// The rep dealt with a reply (`data.outcome`: interested, referral, …).
    ReplyHandled,
    /// A sending mailbox was paused for its health (`mailbox`; `data.why` with the figures;
    /// no lead).
    MailboxPaused,
    /// A mailbox paused for its health was resumed (`drumbeat mailbox resume`).
    MailboxResumed,
    /// A lead's step waits for a planned pause: its mailbox's rep is away, or its sequence is
    /// paused (`drumbeat pause --mailbox|--sequence`; `data.until`, `data.reason`). Recorded
    /// once per lead and pause.
    Held,
}

impl EventKind {
    /// Every kind, in declaration order (for names in config.toml and did-you-mean).
    pub const ALL: [EventKind; 27] = [
        EventKind::Received,
        EventKind::Assigned,
        EventKind::Enrolled,
        EventKind::Sent,
        EventKind::Delivered,
        EventKind::Opened,
        EventKind::Clicked,
        EventKind::Replied,
        EventKind::AutoReplied,
        EventKind::Bounced,
        EventKind::Unsubscribed,
        EventKind::Complained,
        EventKind::MeetingBooked,
        EventKind::MeetingCancelled,
        EventKind::TaskDue,
        EventKind::TaskDone,
        EventKind::Paused,
        EventKind::Resumed,
        EventKind::Stopped,
        EventKind::Finished,
        EventKind::Failed,
        EventKind::Suppressed,
        EventKind::Unsuppressed,
        EventKind::ReplyHandled,
        EventKind::MailboxPaused,
        EventKind::MailboxResumed,
        EventKind::Held,
    ];

    /// The kind stored as `name` (see [`EventKind::as_str`]).
    pub fn parse(name: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Received => "received",
            EventKind::Assigned => "assigned",
            EventKind::Enrolled => "enrolled",
            EventKind::Sent => "sent",
            EventKind::Delivered => "delivered",
            EventKind::Opened => "opened",
            EventKind::Clicked => "clicked",
            EventKind::Replied => "replied",
            EventKind::AutoReplied => "auto-replied",
            EventKind::Bounced => "bounced",
            EventKind::Unsubscribed => "unsubscribed",
            EventKind::Complained => "complained",
            EventKind::MeetingBooked => "meeting-booked",
            EventKind::MeetingCancelled => "meeting-cancelled",
            EventKind::TaskDue => "task-due",
            EventKind::TaskDone => "task-done",
            EventKind::Paused => "paused",
            EventKind::Resumed => "resumed",
            EventKind::Stopped => "stopped",
            EventKind::Finished => "finished",
            EventKind::Failed => "failed",
            EventKind::Suppressed => "suppressed",
            EventKind::Unsuppressed => "unsuppressed",
            EventKind::ReplyHandled => "reply-handled",
            EventKind::MailboxPaused => "mailbox-paused",
            EventKind::MailboxResumed => "mailbox-resumed",
            EventKind::Held => "held",
        }
    }
}

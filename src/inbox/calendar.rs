//! Calendar mail (iMIP, RFC 6047): the iCalendar object (RFC 5545) a scheduling message carries,
//! read with `calcard`, and what it means for the person who sent it. Outlook/Exchange send
//! `text/calendar; method=REQUEST` beside the text; Google Calendar sends a
//! `multipart/alternative` with a `text/calendar` part and the same object again as an
//! `invite.ics` attachment (`application/ics`). Pure functions, no I/O; never panics on bytes.

use calcard::common::IanaString;
use calcard::common::timezone::Tz;
use calcard::icalendar::{
    ICalendar, ICalendarComponent, ICalendarComponentType, ICalendarEntry, ICalendarMethod,
    ICalendarParameterName, ICalendarParameterValue, ICalendarParticipationStatus,
    ICalendarProperty, ICalendarValue,
};
use chrono::{DateTime, Utc};
use mail_parser::{Message, MessageParser, MimeHeaders};

/// The largest calendar object read (a real invitation is a few KB; its VTIMEZONE blocks too).
const MAX_ICS_BYTES: usize = 256 * 1024;

/// What a scheduling message asks (RFC 5546 section 1.4), as far as drumbeat cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    /// An invitation (or an update of one) from the organizer.
    Request,
    /// An attendee's answer.
    Reply,
    /// The organizer called the meeting off.
    Cancel,
    /// PUBLISH, COUNTER, REFRESH…: nothing drumbeat acts on.
    Other(String),
}

/// An attendee's answer (`PARTSTAT`, RFC 5545 section 3.2.12).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartStat {
    /// No answer yet.
    NeedsAction,
    /// Will attend.
    Accepted,
    /// Will not attend.
    Declined,
    /// Might attend.
    Tentative,
    /// Passed the invitation on to someone else.
    Delegated,
    /// Anything else (to-do states, an unknown value).
    Other,
}

impl PartStat {
    /// The RFC 5545 name.
    pub fn as_str(self) -> &'static str {
        match self {
            PartStat::NeedsAction => "NEEDS-ACTION",
            PartStat::Accepted => "ACCEPTED",
            PartStat::Declined => "DECLINED",
            PartStat::Tentative => "TENTATIVE",
            PartStat::Delegated => "DELEGATED",
            PartStat::Other => "OTHER",
        }
    }
}

/// One attendee: address (lowercase, without `mailto:`) and answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attendee {
    /// The calendar address.
    pub email: String,
    /// The answer.
    pub partstat: PartStat,
}

/// The scheduling object a message carries: its method and its (first) event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    /// The method (the object's METHOD, else the MIME `method` parameter).
    pub method: Method,
    /// The event's UID: the same meeting across invitation, updates, replies and cancel.
    pub uid: String,
    /// The organizer's address, lowercase.
    pub organizer: Option<String>,
    /// The attendees named.
    pub attendees: Vec<Attendee>,
    /// The start in UTC: `Z` times as they are, `TZID` ones through the VTIMEZONE (or the
    /// zone's IANA or Windows name). `None` for a floating or all-day start, or an unknown zone.
    pub start: Option<DateTime<Utc>>,
    /// The event's title.
    pub summary: Option<String>,
}

/// What calendar mail means for the person who sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Meaning {
    /// A meeting with the sender is booked: their own invitation (they organize it), or their
    /// acceptance of one.
    Booked,
    /// The sender answered an invitation without accepting (declined, tentative…): a person's
    /// reply the rep must read.
    Answered(PartStat),
    /// The sender, who organized the meeting, called it off.
    Cancelled,
    /// The rep's own invitation seen in the inbox: nothing about a lead.
    Ours,
    /// Not a scheduling message about the sender: classify it as any other mail.
    Unrelated,
}

/// The scheduling object in raw mail, if any.
pub fn read(raw: &[u8]) -> Option<Invitation> {
    from_message(&MessageParser::default().parse(raw)?)
}

/// The scheduling object in a parsed message: the first calendar part (`text/calendar`,
/// `application/ics`, or an attachment named `*.ics`) that holds an event with a UID. A part
/// whose object names a method wins over one that does not (Google's attachment copy).
pub fn from_message(message: &Message<'_>) -> Option<Invitation> {
    let mut fallback = None;
    for part in &message.parts {
        let Some(ct) = part.content_type() else {
            continue;
        };
        let (main, sub) = (ct.ctype(), ct.subtype().unwrap_or_default());
        let named_ics = part
            .attachment_name()
            .is_some_and(|n| n.to_ascii_lowercase().ends_with(".ics"));
        let calendar = (main.eq_ignore_ascii_case("text") && sub.eq_ignore_ascii_case("calendar"))
            || (main.eq_ignore_ascii_case("application") && sub.eq_ignore_ascii_case("ics"))
            || named_ics;
        let bytes = part.contents();
        if !calendar || bytes.len() > MAX_ICS_BYTES {
            continue;
        }
        let text = String::from_utf8_lossy(bytes);
        let Some(mut inv) = parse_ics(&text) else {
            continue;
        };
        if let Method::Other(m) = &inv.method
            && m.is_empty()
        {
            let Some(from_mime) = ct.attribute("method") else {
                fallback = fallback.or(Some(inv));
                continue;
            };
            inv.method = method_named(from_mime);
        }
        return Some(inv);
    }
    fallback
}

/// Reads one iCalendar object: its METHOD and first event (the master, not a recurrence
/// override, when both are there). `None` when it is not iCalendar or has no event with a UID.
pub fn parse_ics(text: &str) -> Option<Invitation> {
    let ical = ICalendar::parse(text).ok()?;
    let method = ical
        .components
        .iter()
        .filter(|c| c.component_type == ICalendarComponentType::VCalendar)
        .flat_map(|c| c.entries.iter())
        .find(|e| e.name == ICalendarProperty::Method)
        .map_or(Method::Other(String::new()), |e| match e.values.first() {
            Some(ICalendarValue::Method(m)) => method_of(m),
            Some(v) => method_named(v.as_text().unwrap_or_default()),
            None => Method::Other(String::new()),
        });
    let events: Vec<&ICalendarComponent> = ical
        .components
        .iter()
        .filter(|c| c.component_type == ICalendarComponentType::VEvent)
        .collect();
    let event = events
        .iter()
        .find(|c| !c.has_property(&ICalendarProperty::RecurrenceId))
        .or(events.first())?;
    let uid = event.uid()?.trim().to_string();
    if uid.is_empty() {
        return None;
    }
    let text_of = |p: ICalendarProperty| {
        event
            .property(&p)
            .and_then(|e| e.values.first())
            .and_then(ICalendarValue::as_text)
            .map(|s| s.trim().to_string())
    };
    Some(Invitation {
        method,
        uid,
        organizer: event
            .property(&ICalendarProperty::Organizer)
            .and_then(address_of),
        attendees: event
            .properties(&ICalendarProperty::Attendee)
            .filter_map(|e| {
                Some(Attendee {
                    email: address_of(e)?,
                    partstat: partstat_of(e),
                })
            })
            .collect(),
        start: start_of(&ical, event),
        summary: text_of(ICalendarProperty::Summary),
    })
}

/// What `invitation`, found in mail from `sender` to the rep's mailbox `mailbox`, means
/// (both addresses lowercase). An invitation is a booking only from its organizer; an answer
/// only from the attendee it is about; a cancel only from its organizer.
pub fn meaning(invitation: &Invitation, sender: &str, mailbox: &str) -> Meaning {
    let organizer = invitation.organizer.as_deref();
    match invitation.method {
        Method::Request | Method::Cancel if organizer == Some(mailbox) => Meaning::Ours,
        Method::Request if organizer == Some(sender) => Meaning::Booked,
        Method::Cancel if organizer == Some(sender) => Meaning::Cancelled,
        Method::Reply => match invitation.attendees.iter().find(|a| a.email == sender) {
            Some(a) if a.partstat == PartStat::Accepted => Meaning::Booked,
            Some(a) => Meaning::Answered(a.partstat),
            None => Meaning::Unrelated,
        },
        _ => Meaning::Unrelated,
    }
}

fn method_of(m: &ICalendarMethod) -> Method {
    match m {
        ICalendarMethod::Request => Method::Request,
        ICalendarMethod::Reply => Method::Reply,
        ICalendarMethod::Cancel => Method::Cancel,
        other => Method::Other(other.as_str().to_string()),
    }
}

fn method_named(name: &str) -> Method {
    let name = name.trim().trim_matches('"');
    match name.to_ascii_uppercase().as_str() {
        "REQUEST" => Method::Request,
        "REPLY" => Method::Reply,
        "CANCEL" => Method::Cancel,
        other => Method::Other(other.chars().take(40).collect()),
    }
}

/// A calendar user address (`mailto:ann@example.com`, any case) as a lowercase address.
fn address_of(entry: &ICalendarEntry) -> Option<String> {
    let raw = entry.values.first()?.as_text()?.trim();
    let bare = match raw.get(..7) {
        Some(scheme) if scheme.eq_ignore_ascii_case("mailto:") => &raw[7..],
        _ => raw,
    };
    let bare = bare.trim();
    (bare.contains('@') && !bare.contains(char::is_whitespace)).then(|| bare.to_lowercase())
}

fn partstat_of(entry: &ICalendarEntry) -> PartStat {
    match entry.parameter(&ICalendarParameterName::Partstat) {
        // RFC 5545: an attendee without PARTSTAT has not answered.
        None => PartStat::NeedsAction,
        Some(ICalendarParameterValue::Partstat(p)) => match p {
            ICalendarParticipationStatus::NeedsAction => PartStat::NeedsAction,
            ICalendarParticipationStatus::Accepted => PartStat::Accepted,
            ICalendarParticipationStatus::Declined => PartStat::Declined,
            ICalendarParticipationStatus::Tentative => PartStat::Tentative,
            ICalendarParticipationStatus::Delegated => PartStat::Delegated,
            _ => PartStat::Other,
        },
        Some(other) => match other.as_text().map(str::to_ascii_uppercase).as_deref() {
            Some("ACCEPTED") => PartStat::Accepted,
            Some("DECLINED") => PartStat::Declined,
            Some("TENTATIVE") => PartStat::Tentative,
            _ => PartStat::Other,
        },
    }
}

/// DTSTART in UTC: with `Z` (or an offset) as written, with `TZID` through the object's
/// VTIMEZONE blocks or the zone's name; floating and date-only starts give `None`.
fn start_of(ical: &ICalendar, event: &ICalendarComponent) -> Option<DateTime<Utc>> {
    let entry = event.property(&ICalendarProperty::Dtstart)?;
    let when = entry.values.first()?.as_partial_date_time()?;
    when.hour?;
    let dt = when.to_date_time()?;
    let tz = if dt.offset.is_some() {
        Tz::UTC
    } else {
        ical.build_tz_resolver().resolve(entry.tz_id()?)?
    };
    if tz.is_floating() {
        return None;
    }
    Some(dt.to_date_time_with_tz(tz)?.with_timezone(&Utc))
}

#[cfg(test)]
#[path = "calendar_tests.rs"]
mod tests;

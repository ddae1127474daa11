//! vCard files (`.vcf`) as leads: RFC 6350's vCard 4.0, and the 3.0 and 2.1 that Google
//! Contacts, Apple Contacts (iCloud) and Outlook export, parsed by `calcard`. Each card gives
//! the named values a sheet row would (email, first and last name, company, title, phone, time
//! zone, and the card's other addresses as `other_emails`), so a card follows the same rules
//! and messages as a row of a CSV export. A card that cannot become a lead is a [`RowError`]
//! that names the line its `BEGIN:VCARD` is on; the cards after it still import.

use std::path::Path;

use calcard::vcard::{
    VCard, VCardEntry, VCardParameterName, VCardParameterValue, VCardProperty, VCardValue,
};

use super::sheet::{RowError, SheetError, SheetRow, lead_from_named};

/// A contact export bigger than this is refused: 100,000 contacts with photos stay below it.
const MAX_BYTES: u64 = 512 << 20;

/// The cards of one vCard file, read whole (contact exports are small), each with the line
/// its card starts on.
pub struct CardReader {
    path: String,
    cards: std::vec::IntoIter<(u64, Result<String, String>)>,
    bytes: u64,
}

impl CardReader {
    /// Reads the file at `path`; messages name it as `path` is written.
    pub fn open(path: &Path) -> Result<Self, SheetError> {
        let name = path.display().to_string();
        let open_error = |source| SheetError::Open {
            path: name.clone(),
            source,
        };
        let size = std::fs::metadata(path).map_err(open_error)?.len();
        if size > MAX_BYTES {
            return Err(SheetError::Refused {
                path: name,
                reason: format!("the file is larger than {} MiB", MAX_BYTES >> 20),
            });
        }
        let bytes = std::fs::read(path).map_err(open_error)?;
        Self::from_bytes(&name, &bytes)
    }

    /// The cards in `bytes`; `name` stands for the file in messages.
    pub fn from_bytes(name: &str, bytes: &[u8]) -> Result<Self, SheetError> {
        let text = String::from_utf8_lossy(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes));
        let cards = split_cards(&text);
        if cards.is_empty() {
            return Err(SheetError::NoCards {
                path: name.to_owned(),
            });
        }
        Ok(CardReader {
            path: name.to_owned(),
            cards: cards.into_iter(),
            bytes: bytes.len() as u64,
        })
    }

    /// The bytes read (all of the file: it is read when opened).
    pub fn bytes_read(&self) -> u64 {
        self.bytes
    }
}

impl Iterator for CardReader {
    type Item = Result<SheetRow, RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        let (line, card) = self.cards.next()?;
        let error = |reason: String| RowError {
            path: self.path.clone(),
            row: line,
            reason,
        };
        Some(
            card.map_err(&error)
                .and_then(|text| lead_of_card(&text).map_err(&error))
                .map(|lead| SheetRow {
                    row: line,
                    lead,
                    opted_out: None,
                }),
        )
    }
}

/// Each `BEGIN:VCARD` … `END:VCARD` with the line it begins on; a card never ended is an
/// error of its own. Lines outside cards are ignored.
fn split_cards(text: &str) -> Vec<(u64, Result<String, String>)> {
    let mut cards = Vec::new();
    let mut open: Option<(u64, String)> = None;
    for (i, raw) in text.split('\n').enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let at = i as u64 + 1;
        let word = line.trim();
        if word.eq_ignore_ascii_case("BEGIN:VCARD") {
            if let Some((start, _)) = open.take() {
                cards.push((start, Err(unended(at))));
            }
            open = Some((at, String::new()));
        }
        if let Some((_, card)) = &mut open {
            card.push_str(line);
            card.push_str("\r\n");
        }
        if word.eq_ignore_ascii_case("END:VCARD")
            && let Some((start, card)) = open.take()
        {
            cards.push((start, Ok(card)));
        }
    }
    if let Some((start, _)) = open {
        cards.push((
            start,
            Err("the card has no END:VCARD before the end of the file".into()),
        ));
    }
    cards
}

fn unended(next: u64) -> String {
    format!("the card has no END:VCARD before the next BEGIN:VCARD at line {next}")
}

/// The lead of one card.
fn lead_of_card(text: &str) -> Result<super::LeadRecord, String> {
    let card = VCard::parse(text).map_err(|_| "this card cannot be read as a vCard".to_string())?;
    let mut emails: Vec<(bool, String)> = card
        .entries
        .iter()
        .filter(|e| e.name == VCardProperty::Email)
        .filter_map(|e| Some((preferred(e), first_text(e)?)))
        .filter(|(_, address)| !address.is_empty())
        .collect();
    // The preferred address first, then the card's order.
    emails.sort_by_key(|(pref, _)| !pref);
    let shown = text_of(&card, VCardProperty::Fn);
    let Some((_, email)) = emails.first() else {
        return Err(match shown {
            Some(name) => format!("the card of {name:?} has no email address"),
            None => "the card has no email address".into(),
        });
    };
    let mut values = vec![("email".to_string(), email.clone())];
    let n = card.property(&VCardProperty::N).map(texts);
    let family = n
        .as_ref()
        .and_then(|n| n.first().cloned())
        .filter(|s| !s.is_empty());
    let given = n
        .as_ref()
        .and_then(|n| n.get(1).cloned())
        .filter(|s| !s.is_empty());
    match (given, family, shown) {
        (None, None, Some(full)) => values.push(("name".into(), full)),
        (given, family, _) => {
            values.extend(given.map(|g| ("first_name".to_string(), g)));
            values.extend(family.map(|f| ("last_name".to_string(), f)));
        }
    }
    let org = card
        .property(&VCardProperty::Org)
        .and_then(|o| texts(o).into_iter().find(|s| !s.is_empty()));
    values.extend(org.map(|o| ("company".to_string(), o)));
    values.extend(text_of(&card, VCardProperty::Title).map(|t| ("title".to_string(), t)));
    values.extend(text_of(&card, VCardProperty::Tel).map(|t| ("phone".to_string(), t)));
    // TZ may be an offset (-05:00) or an IANA name; only a name says where the person is.
    let zone = text_of(&card, VCardProperty::Tz).filter(|z| z.contains('/'));
    values.extend(zone.map(|z| ("timezone".to_string(), z)));
    let others: Vec<&str> = emails[1..].iter().map(|(_, a)| a.as_str()).collect();
    if !others.is_empty() {
        values.push(("other_emails".into(), others.join(", ")));
    }
    lead_from_named(&values)
        .map(|(lead, _)| lead)
        .map_err(|p| p.to_string())
}

/// Whether the property is marked preferred: `PREF=1` (4.0) or `TYPE=PREF` (3.0, 2.1).
fn preferred(e: &VCardEntry) -> bool {
    e.params.iter().any(|p| match (&p.name, &p.value) {
        (VCardParameterName::Pref, _) => true,
        (VCardParameterName::Type, VCardParameterValue::Text(t)) => t.eq_ignore_ascii_case("pref"),
        _ => false,
    })
}

/// The first non-empty text of the card's first `property`.
fn text_of(card: &VCard, property: VCardProperty) -> Option<String> {
    card.property(&property)
        .and_then(first_text)
        .filter(|s| !s.is_empty())
}

fn first_text(e: &VCardEntry) -> Option<String> {
    texts(e).into_iter().next().map(|s| s.trim().to_string())
}

/// The text values of a property, a structured value's components each on their own.
fn texts(e: &VCardEntry) -> Vec<String> {
    e.values
        .iter()
        .flat_map(|v| match v {
            VCardValue::Text(t) => vec![t.trim().to_string()],
            VCardValue::Component(parts) => parts.iter().map(|p| p.trim().to_string()).collect(),
            _ => Vec::new(),
        })
        .collect()
}

#[cfg(test)]
mod tests;

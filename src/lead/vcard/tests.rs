//! vCard files as the RFCs show them and as Google Contacts and Outlook export them.

use proptest::prelude::*;

use super::CardReader;
use crate::lead::{RowError, SheetRow};

fn read(name: &str, bytes: &[u8]) -> Vec<Result<SheetRow, RowError>> {
    CardReader::from_bytes(name, bytes)
        .unwrap_or_else(|e| panic!("{e}"))
        .collect()
}

fn lead(row: &Result<SheetRow, RowError>) -> &crate::lead::LeadRecord {
    &row.as_ref().unwrap_or_else(|e| panic!("{e}")).lead
}

#[test]
fn the_rfc_6350_example_card_is_a_lead() {
    let rows = read(
        "rfc6350.vcf",
        include_bytes!("../../../tests/fixtures/contacts/rfc6350.vcf"),
    );
    assert_eq!(rows.len(), 1);
    let l = lead(&rows[0]);
    assert_eq!(l.email.as_str(), "simon.perreault@viagenie.ca");
    assert_eq!(l.first_name.as_deref(), Some("Simon"));
    assert_eq!(l.last_name.as_deref(), Some("Perreault"));
    assert_eq!(l.company.as_deref(), Some("Viagenie"));
    // TZ:-0500 is an offset, not a place: no time zone.
    assert_eq!(l.timezone, None);
    assert_eq!(rows[0].as_ref().map(|r| r.row).ok(), Some(1));
}

#[test]
fn the_rfc_2426_cards_take_the_preferred_address_and_keep_the_other() {
    let rows = read(
        "rfc2426.vcf",
        include_bytes!("../../../tests/fixtures/contacts/rfc2426.vcf"),
    );
    assert_eq!(rows.len(), 2);
    let frank = lead(&rows[0]);
    assert_eq!(frank.email.as_str(), "frank_dawson@lotus.com");
    assert_eq!(frank.first_name.as_deref(), Some("Frank"));
    assert_eq!(frank.last_name.as_deref(), Some("Dawson"));
    assert_eq!(
        frank.company.as_deref(),
        Some("Lotus Development Corporation")
    );
    assert_eq!(
        frank.custom.get("other_emails").map(String::as_str),
        Some("fdawson@earthlink.net")
    );
    let tim = lead(&rows[1]);
    assert_eq!(tim.email.as_str(), "howes@netscape.com");
    assert_eq!(rows[1].as_ref().map(|r| r.row).ok(), Some(14));
}

#[test]
fn a_google_contacts_card_without_an_address_is_an_error_naming_its_line() {
    let rows = read(
        "google.vcf",
        include_bytes!("../../../tests/fixtures/contacts/google.vcf"),
    );
    let maria = lead(&rows[0]);
    assert_eq!(maria.email.as_str(), "maria.garcia@northwind.example");
    assert_eq!(maria.first_name.as_deref(), Some("Maria"));
    assert_eq!(maria.last_name.as_deref(), Some("García"));
    assert_eq!(maria.title.as_deref(), Some("VP Sales"));
    assert_eq!(maria.phone.as_deref(), Some("+1 312 555 0142"));
    let err = rows[1].as_ref().expect_err("no address");
    assert_eq!(
        err.to_string(),
        "google.vcf:14: the card of \"Only A Phone\" has no email address"
    );
}

#[test]
fn an_outlook_2_1_card_is_read() {
    let rows = read(
        "outlook.vcf",
        include_bytes!("../../../tests/fixtures/contacts/outlook.vcf"),
    );
    let tom = lead(&rows[0]);
    assert_eq!(tom.email.as_str(), "tom.becker@contoso.example");
    assert_eq!(tom.first_name.as_deref(), Some("Tom"));
    assert_eq!(tom.company.as_deref(), Some("Contoso GmbH"));
}

#[test]
fn a_card_never_ended_is_an_error_and_the_next_card_still_reads() {
    let text = "BEGIN:VCARD\r\nVERSION:3.0\r\nEMAIL:a@acme.example\r\n\
                BEGIN:VCARD\r\nVERSION:3.0\r\nEMAIL:b@acme.example\r\nEND:VCARD\r\n";
    let rows = read("x.vcf", text.as_bytes());
    assert_eq!(
        rows[0].as_ref().expect_err("unended").to_string(),
        "x.vcf:1: the card has no END:VCARD before the next BEGIN:VCARD at line 4"
    );
    assert_eq!(lead(&rows[1]).email.as_str(), "b@acme.example");
}

#[test]
fn a_file_without_a_card_is_refused() {
    let err = CardReader::from_bytes("notes.vcf", b"hello\n")
        .err()
        .expect("no card");
    assert_eq!(
        err.to_string(),
        "notes.vcf: no vCard in the file (expected BEGIN:VCARD … END:VCARD)"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn any_bytes_read_without_a_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let mut text = b"BEGIN:VCARD\r\n".to_vec();
        text.extend_from_slice(&bytes);
        if let Ok(r) = CardReader::from_bytes("f.vcf", &text) {
            for _ in r {}
        }
    }
}

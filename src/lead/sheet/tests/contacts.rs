//! [`SheetReader`] on contact-app and CRM exports: several email columns, notes lines before
//! the header, the `--map` hint, mappings and opt-out columns.

use super::*;

#[test]
fn several_email_columns_give_the_first_non_empty_and_keep_the_others() {
    let rows = leads(
        b"Email,Company,Work Email,Home Email\n\
          ,Acme,jane@acme.com,jane@home.example\n\
          al@beta.com,Beta,,\n",
    );
    assert_eq!(rows[0].lead.email.as_str(), "jane@acme.com");
    assert_eq!(
        rows[0].lead.custom.get("other_emails").map(String::as_str),
        Some("jane@home.example")
    );
    assert_eq!(rows[1].lead.email.as_str(), "al@beta.com");
    assert_eq!(rows[1].lead.custom.get("other_emails"), None);
}

#[test]
fn missing_email_column_names_the_columns_holding_addresses() {
    assert_eq!(
        header_error(b"Nombre,Kontakt,Notiz\nJane,jane@acme.com,x@y\nAl,al@beta.com,\n"),
        r#"leads.csv:1: no email column recognised (columns: Nombre, Kontakt, Notiz); the values of "Kontakt" look like email addresses: pass --map "Kontakt=email""#
    );
    assert!(
        header_error(b"Kontakt\njane@acme.com\nal@beta.com\n")
            .ends_with(r#"pass --map "Kontakt=email""#)
    );
}

fn mapped(bytes: &[u8], pairs: &[&str]) -> Result<SheetReader, SheetError> {
    let mut map = ColumnMap::default();
    for pair in pairs {
        map.add_pair(pair).unwrap();
    }
    SheetReader::from_reader_mapped("leads.csv", io::Cursor::new(bytes.to_vec()), None, &map)
}

#[test]
fn a_mapping_feeds_columns_to_fields_over_the_table() {
    let text = b"Kontakt,Firma,Email,Notiz\njane@acme.com,Acme,old@acme.com,hi\n";
    let reader = mapped(text, &["Kontakt=email", "Firma=company", "notiz=ignore"]).unwrap();
    assert_eq!(
        reader.columns(),
        [
            ("Kontakt".to_owned(), "email".to_owned()),
            ("Firma".to_owned(), "company".to_owned()),
            ("Email".to_owned(), "custom:email".to_owned()),
        ]
    );
    let rows: Vec<SheetRow> = reader.map(Result::unwrap).collect();
    assert_eq!(rows[0].lead.email.as_str(), "jane@acme.com");
    assert_eq!(rows[0].lead.company.as_deref(), Some("Acme"));
    let err = mapped(text, &["Correo=email"]).err().unwrap().to_string();
    assert_eq!(
        err,
        r#"leads.csv:1: the mapping names "Correo" but the header has no such column (columns: Kontakt, Firma, Email, Notiz)"#
    );
}

#[test]
fn notes_lines_before_the_header_are_skipped_with_row_numbers_kept() {
    let text = "Notes:\n\"When exporting your connection data, you may notice that some of the email addresses are missing.\"\n\nFirst Name,Last Name,URL,Email Address,Company,Position,Connected On\nJane,Doe,https://www.linkedin.com/in/jane,jane@acme.com,Acme,CTO,01 Dec 2026\n,,,,,,\nAl,Smith,https://www.linkedin.com/in/al,,Beta,CEO,02 Dec 2026\n";
    assert_eq!(
        outcomes(reader(text.as_bytes())),
        ["5: jane@acme.com", "leads.csv:7: email is empty"]
    );
    let rows = leads(&text.as_bytes()[..text.find(",,,").unwrap()]);
    assert_eq!(rows[0].lead.title.as_deref(), Some("CTO"));
    assert_eq!(rows[0].lead.company.as_deref(), Some("Acme"));
}

#[test]
fn opted_out_rows_name_the_column_that_says_so() {
    let rows = leads(
        b"Email,subscribed_to_emails,Do Not Email\n\
          a@acme.com,true,\n\
          b@acme.com,false,\n\
          c@acme.com,,Yes\n\
          d@acme.com,,\n",
    );
    let got: Vec<Option<&str>> = rows.iter().map(|r| r.opted_out.as_deref()).collect();
    assert_eq!(
        got,
        [
            None,
            Some("subscribed_to_emails"),
            Some("Do Not Email"),
            None
        ]
    );
    assert_eq!(rows[2].lead.custom["do_not_email"], "Yes");
}

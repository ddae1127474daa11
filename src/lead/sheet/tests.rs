//! Behaviour of [`SheetReader`] on the files real tools export.

use super::*;
use proptest::prelude::*;

mod contacts;

fn reader(bytes: &[u8]) -> SheetReader {
    reader_with(bytes, None)
}

fn reader_with(bytes: &[u8], encoding: Option<&'static Encoding>) -> SheetReader {
    match SheetReader::from_reader("leads.csv", io::Cursor::new(bytes.to_vec()), encoding) {
        Ok(reader) => reader,
        Err(err) => panic!("header should be accepted: {err}"),
    }
}

fn header_error(bytes: &[u8]) -> String {
    match SheetReader::from_reader("leads.csv", io::Cursor::new(bytes.to_vec()), None) {
        Ok(reader) => panic!("header should be rejected, got {:?}", reader.columns()),
        Err(err) => err.to_string(),
    }
}

/// Every item as `row: email` for leads and the full message for errors.
fn outcomes(reader: SheetReader) -> Vec<String> {
    reader
        .map(|item| match item {
            Ok(row) => format!("{}: {}", row.row, row.lead.email),
            Err(err) => err.to_string(),
        })
        .collect()
}

fn leads(bytes: &[u8]) -> Vec<SheetRow> {
    reader(bytes)
        .map(|item| item.unwrap_or_else(|err| panic!("unexpected row error: {err}")))
        .collect()
}

fn utf16(text: &str, big_endian: bool) -> Vec<u8> {
    let mut bytes = if big_endian {
        vec![0xFE, 0xFF]
    } else {
        vec![0xFF, 0xFE]
    };
    for unit in text.encode_utf16() {
        let pair = if big_endian {
            unit.to_be_bytes()
        } else {
            unit.to_le_bytes()
        };
        bytes.extend(pair);
    }
    bytes
}

#[test]
fn utf8_bom_is_stripped_before_the_first_header() {
    let rows = leads("\u{feff}Email,First Name\r\njane@acme.com,Jane\r\n".as_bytes());
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].lead.email.as_str(), "jane@acme.com");
    assert_eq!(rows[0].lead.first_name.as_deref(), Some("Jane"));
}

#[test]
fn semicolon_delimited_european_excel_export_is_read() {
    let text =
        "E-Mail-Adresse;Vorname;Nachname;Firma\r\nhans@firma.de;Hans;Müller;Firma GmbH, Köln\r\n";
    let rows = leads(text.as_bytes());
    let lead = &rows[0].lead;
    assert_eq!(lead.email.as_str(), "hans@firma.de");
    assert_eq!(lead.last_name.as_deref(), Some("Müller"));
    assert_eq!(lead.company.as_deref(), Some("Firma GmbH, Köln"));
}

#[test]
fn excel_sep_line_sets_the_delimiter_and_header_stays_row_1() {
    let reader = reader(b"sep=|\r\nEmail|Company\r\na@acme.com|Acme, Inc\r\njane@|X\r\n");
    assert_eq!(
        reader.columns(),
        [
            ("Email".to_owned(), "email".to_owned()),
            ("Company".to_owned(), "company".to_owned())
        ]
    );
    assert_eq!(
        outcomes(reader),
        [
            "2: a@acme.com",
            r#"leads.csv:3: "jane@" is not a valid email address (missing domain)"#
        ]
    );
}

#[test]
fn utf16le_tab_separated_unicode_text_is_transcoded() {
    let bytes = utf16(
        "Email\tFirst Name\tCompany\r\nzoë@acme.com\tZoë\t株式会社\r\n",
        false,
    );
    let rows = leads(&bytes);
    assert_eq!(rows[0].row, 2);
    assert_eq!(rows[0].lead.email.as_str(), "zoë@acme.com");
    assert_eq!(rows[0].lead.first_name.as_deref(), Some("Zoë"));
    assert_eq!(rows[0].lead.company.as_deref(), Some("株式会社"));
}

#[test]
fn utf16be_with_bom_is_transcoded() {
    let rows = leads(&utf16("Email\tName\nbo@acme.com\tBo Ek\n", true));
    assert_eq!(rows[0].lead.first_name.as_deref(), Some("Bo"));
    assert_eq!(rows[0].lead.last_name.as_deref(), Some("Ek"));
}

#[test]
fn quoted_newlines_stay_in_one_row_and_later_rows_keep_their_numbers() {
    let text = "Email,Notes\n\
        a@acme.com,\"first line\nsecond line\nthird\"\n\
        b@acme.com,\"say \"\"hi\"\"\"\n\
        bad,x\n";
    let reader = reader(text.as_bytes());
    let items: Vec<_> = reader.collect();
    let first = items[0].as_ref().unwrap();
    assert_eq!(first.row, 2);
    assert_eq!(first.lead.custom["notes"], "first line\nsecond line\nthird");
    let second = items[1].as_ref().unwrap();
    assert_eq!(second.row, 3);
    assert_eq!(second.lead.custom["notes"], "say \"hi\"");
    assert_eq!(
        items[2].as_ref().unwrap_err().to_string(),
        r#"leads.csv:4: "bad" is not a valid email address (missing "@")"#
    );
}

#[test]
fn crlf_lf_and_lone_cr_line_endings_all_split_rows() {
    for ending in ["\r\n", "\n", "\r"] {
        let text = ["Email,Company", "a@acme.com,Acme", "b@acme.com,Beta", ""].join(ending);
        let rows = leads(text.as_bytes());
        let got: Vec<_> = rows
            .iter()
            .map(|r| (r.row, r.lead.company.clone().unwrap()))
            .collect();
        assert_eq!(
            got,
            [(2, "Acme".to_owned()), (3, "Beta".to_owned())],
            "{ending:?}"
        );
    }
}

#[test]
fn invalid_utf8_row_is_reported_with_its_row_number_and_next_row_imports() {
    let mut bytes = b"Email,Company\n".to_vec();
    for i in 2..7 {
        bytes.extend(format!("p{i}@acme.com,Acme\n").as_bytes());
    }
    bytes.extend(b"caf\xC3\xA9@acme.com,Caf\xE9 Ltd\n");
    bytes.extend(b"next@acme.com,Next\n");
    let out = outcomes(reader(&bytes));
    assert_eq!(out.len(), 7);
    assert_eq!(
        out[5],
        "leads.csv:7: not valid UTF-8 (byte 0xE9 in column \"Company\"); if the file came from \
         Excel, re-export as \"CSV UTF-8\" or pass --encoding windows-1252"
    );
    assert_eq!(out[6], "8: next@acme.com");
}

#[test]
fn windows_1252_file_is_transcoded_with_explicit_encoding() {
    let (bytes, _, _) = encoding_rs::WINDOWS_1252
        .encode("Email;Nachname;Firma\r\nm@acme.de;Müller;Bäckerei Straße €\r\n");
    let rows: Vec<_> = reader_with(&bytes, Some(encoding_rs::WINDOWS_1252))
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows[0].lead.last_name.as_deref(), Some("Müller"));
    assert_eq!(rows[0].lead.company.as_deref(), Some("Bäckerei Straße €"));
}

#[test]
fn windows_1252_header_without_encoding_is_a_header_error() {
    let message = header_error(b"Email,Pr\xE9nom\n");
    assert_eq!(
        message,
        "leads.csv:1: header is not valid UTF-8 (byte 0xE9 in column B); if the file came \
         from Excel, re-export as \"CSV UTF-8\" or pass --encoding windows-1252"
    );
}

#[test]
fn ragged_rows_are_reported_and_trailing_empty_cells_are_fine() {
    let text = "Email,First,Last,Company,Title\n\
        a@acme.com,A,B,C,D\n\
        b@acme.com,A,B,C,D,,\n\
        c@acme.com,A,B\n\
        d@acme.com,A,B,C,D,E,F\n\
        e@acme.com,A,B,C,D\n";
    assert_eq!(
        outcomes(reader(text.as_bytes())),
        [
            "2: a@acme.com",
            "3: b@acme.com",
            "leads.csv:4: row has 3 cells but the header has 5",
            "leads.csv:5: row has 7 cells but the header has 5",
            "6: e@acme.com",
        ]
    );
}

#[test]
fn missing_email_column_is_a_header_error_listing_the_columns() {
    assert_eq!(
        header_error(b"Name,Company,Phone\nJane,Acme,123\n"),
        r#"leads.csv:1: no email column (columns: Name, Company, Phone); name one "email" or pass --map "COLUMN=email""#
    );
}

#[test]
fn empty_file_is_a_sheet_error() {
    assert_eq!(
        header_error(b""),
        r#"leads.csv: the file is empty; expected a header row with an "email" column"#
    );
    assert!(header_error(b"\xEF\xBB\xBF\r\n\r\n").contains("the file is empty"));
}

#[test]
fn missing_file_is_an_open_error_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nope.csv");
    let err = SheetReader::open(&path, None).err().unwrap();
    assert!(matches!(err, SheetError::Open { .. }));
    assert!(
        err.to_string()
            .starts_with(&format!("{}: cannot open: ", path.display())),
        "{err}"
    );
}

#[test]
fn open_reads_a_file_and_reports_bytes_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("leads.csv");
    let text = "Email\njane@acme.com\n";
    std::fs::write(&path, text).unwrap();
    let mut reader = SheetReader::open(&path, None).unwrap();
    let row = reader.next().unwrap().unwrap();
    assert_eq!(row.lead.email.as_str(), "jane@acme.com");
    assert!(reader.next().is_none());
    assert_eq!(reader.bytes_read(), text.len() as u64);
}

#[test]
fn bad_email_is_reported_with_row_number() {
    let text = "Email,Name\na@acme.com,A\nb@acme.com,B\njane@,Jane\n";
    assert_eq!(
        outcomes(reader(text.as_bytes()))[2],
        r#"leads.csv:4: "jane@" is not a valid email address (missing domain)"#
    );
}

#[test]
fn empty_email_cell_is_reported() {
    let text = "Email,Name\na@acme.com,A\nb@acme.com,B\n  ,Jane\n";
    assert_eq!(
        outcomes(reader(text.as_bytes()))[2],
        "leads.csv:4: email is empty"
    );
}

#[test]
fn bad_timezone_is_reported_with_an_example_and_close_ones_with_a_suggestion() {
    let text = "Email,Time Zone\n\
        a@acme.com,europe/berlin\n\
        b@acme.com,Mars/Base\n\
        c@acme.com,Europe/Berln\n\
        ,Mars/Base\n";
    let items: Vec<_> = reader(text.as_bytes()).collect();
    assert_eq!(
        items[0].as_ref().unwrap().lead.timezone.as_deref(),
        Some("Europe/Berlin")
    );
    let errors: Vec<String> = items[1..]
        .iter()
        .map(|item| item.as_ref().unwrap_err().to_string())
        .collect();
    assert_eq!(
        errors,
        [
            r#"leads.csv:3: timezone "Mars/Base" is not an IANA time zone (e.g. Europe/Berlin)"#,
            r#"leads.csv:4: timezone "Europe/Berln" is not an IANA time zone (e.g. Europe/Berlin); did you mean "Europe/Berlin"?"#,
            r#"leads.csv:5: email is empty; timezone "Mars/Base" is not an IANA time zone (e.g. Europe/Berlin)"#,
        ]
    );
}

#[test]
fn blank_rows_are_skipped_silently_but_still_count_as_rows() {
    let text = "Email,Name,Company,,\r\n\
        a@acme.com,A,Acme,,\r\n\
        ,,,,\r\n\
        \r\n\
        \u{a0} , ,\t,,\r\n\
        bad,B,Beta,,\r\n\
        ,,,,\r\n\
        ,,,,\r\n";
    assert_eq!(
        outcomes(reader(text.as_bytes())),
        [
            "2: a@acme.com",
            r#"leads.csv:6: "bad" is not a valid email address (missing "@")"#
        ]
    );
}

#[test]
fn full_name_column_is_split_into_first_and_last_name() {
    let rows = leads("Email,Full Name\na@acme.com,Jane van der Berg\nb@acme.com,Cher\n".as_bytes());
    assert_eq!(rows[0].lead.first_name.as_deref(), Some("Jane"));
    assert_eq!(rows[0].lead.last_name.as_deref(), Some("van der Berg"));
    assert_eq!(rows[1].lead.first_name.as_deref(), Some("Cher"));
    assert_eq!(rows[1].lead.last_name, None);
}

#[test]
fn name_column_stays_custom_when_first_name_exists() {
    let rows = leads(b"Email,First Name,Name\na@acme.com,Jane,Janey\n");
    assert_eq!(rows[0].lead.first_name.as_deref(), Some("Jane"));
    assert_eq!(rows[0].lead.custom["name"], "Janey");
}

#[test]
fn other_columns_become_custom_fields_with_snake_case_keys() {
    let text = "Email,Pain Point,Größe,Lifecycle Stage,,\n\
        a@acme.com,  Slow onboarding ,XL,,ignored,\n";
    let reader = reader(text.as_bytes());
    assert_eq!(
        reader.columns(),
        [
            ("Email".to_owned(), "email".to_owned()),
            ("Pain Point".to_owned(), "custom:pain_point".to_owned()),
            ("Größe".to_owned(), "custom:größe".to_owned()),
            (
                "Lifecycle Stage".to_owned(),
                "custom:lifecycle_stage".to_owned()
            ),
        ]
    );
    let rows: Vec<_> = reader.collect::<Result<_, _>>().unwrap();
    let custom: Vec<_> = rows[0]
        .lead
        .custom
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(custom, [("größe", "XL"), ("pain_point", "Slow onboarding")]);
}

#[test]
fn hubspot_style_export_maps_every_standard_field() {
    let text = "First Name,Last Name,Email,Company Name,Job Title,Phone Number,Contact owner,Time Zone,Lifecycle Stage\n\
        Jane,Doe,Jane.Doe@Acme.com,Acme,CTO,=\"0049123\",Sam Rep,America/New_York,Lead\n";
    let rows = leads(text.as_bytes());
    let expected = LeadRecord {
        email: Email::parse("jane.doe@acme.com").unwrap(),
        first_name: Some("Jane".into()),
        last_name: Some("Doe".into()),
        company: Some("Acme".into()),
        title: Some("CTO".into()),
        timezone: Some("America/New_York".into()),
        phone: Some("0049123".into()),
        owner: Some("Sam Rep".into()),
        custom: BTreeMap::from([("lifecycle_stage".into(), "Lead".into())]),
    };
    assert_eq!(
        rows,
        [SheetRow {
            row: 2,
            lead: expected,
            opted_out: None,
        }]
    );
}

#[test]
fn excel_text_formula_is_unwrapped_and_apostrophe_is_kept() {
    let rows = leads(b"Email,Zip,Code,Note\na@acme.com,=\"00123\",'0042,\"=\"\"a\"\"\"\"b\"\"\"\n");
    let custom = &rows[0].lead.custom;
    assert_eq!(custom["zip"], "00123");
    assert_eq!(custom["code"], "'0042");
    assert_eq!(custom["note"], "a\"b");
}

#[test]
fn cells_are_trimmed_of_whitespace_and_nbsp() {
    let rows = leads("Email,Company\n \u{a0}a@acme.com\u{a0} ,\u{a0} Acme Corp\t\n".as_bytes());
    assert_eq!(rows[0].lead.email.as_str(), "a@acme.com");
    assert_eq!(rows[0].lead.company.as_deref(), Some("Acme Corp"));
}

#[test]
fn free_mail_leads_have_no_account_domain() {
    let rows = leads(b"Email\njane@gmail.com\nbob@acme.com\n");
    assert_eq!(rows[0].lead.email.account_domain(), None);
    assert_eq!(rows[1].lead.email.account_domain(), Some("acme.com"));
}

#[test]
fn oversized_row_is_reported_and_following_rows_import() {
    let mut bytes = b"Email,Notes\na@acme.com,\"".to_vec();
    bytes.extend(std::iter::repeat_n(b'x', input::MAX_RECORD_BYTES + 1));
    bytes.extend(b"\"\nb@acme.com,ok\n");
    let out = outcomes(reader(&bytes));
    assert_eq!(out.len(), 2);
    assert!(
        out[0].starts_with("leads.csv:2: row is longer than 4 MiB"),
        "{}",
        out[0]
    );
    assert_eq!(out[1], "3: b@acme.com");
}

/// Yields its bytes, then fails instead of signalling end of file.
struct FailAtEnd(io::Cursor<Vec<u8>>);

impl Read for FailAtEnd {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.0.read(buf)? {
            0 => Err(io::Error::other("disk on fire")),
            n => Ok(n),
        }
    }
}

#[test]
fn read_error_in_header_is_a_sheet_error() {
    let source = FailAtEnd(io::Cursor::new(b"Email\na@acme.com\n".to_vec()));
    let err = SheetReader::from_reader("leads.csv", source, None)
        .err()
        .unwrap();
    assert_eq!(err.to_string(), "leads.csv: cannot read: disk on fire");
}

#[test]
fn read_error_mid_file_is_reported_once_and_iteration_ends() {
    let mut bytes = b"Email\n".to_vec();
    for i in 0..5000 {
        bytes.extend(format!("person{i}@acme.com\n").as_bytes());
    }
    let reader =
        SheetReader::from_reader("leads.csv", FailAtEnd(io::Cursor::new(bytes)), None).unwrap();
    let items: Vec<_> = reader.collect();
    let (last, good) = items.split_last().unwrap();
    assert!(good.len() > 1000 && good.iter().all(Result::is_ok));
    let err = last.as_ref().unwrap_err();
    assert_eq!(err.reason, "cannot read the rest of the file: disk on fire");
}

#[test]
fn rows_serialize_to_json_with_the_email_as_a_string() {
    let rows = leads(b"Email,Pain Point\nA@Acme.com,Churn\n");
    let json = serde_json::to_value(&rows[0]).unwrap();
    assert_eq!(json["row"], 2);
    assert_eq!(json["lead"]["email"], "a@acme.com");
    assert_eq!(json["lead"]["custom"]["pain_point"], "Churn");
}

fn drain(bytes: &[u8], encoding: Option<&'static Encoding>) {
    if let Ok(reader) =
        SheetReader::from_reader("fuzz.csv", io::Cursor::new(bytes.to_vec()), encoding)
    {
        let _ = reader.columns();
        let mut last = 1;
        for item in reader {
            let row = match item {
                Ok(row) => row.row,
                Err(err) => err.row,
            };
            assert!(row > last, "row numbers must increase: {row} after {last}");
            last = row;
        }
    }
}

proptest! {
    #[test]
    fn reader_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        drain(&bytes, None);
        drain(&bytes, Some(encoding_rs::WINDOWS_1252));
    }

    #[test]
    fn reader_never_panics_on_csv_shaped_text(
        header in "(\u{feff})?(sep=[;,|]\r?\n)?(email|E-Mail|Name|Full Name|TZ|Company|Pain Point| |)([,;\t|](email|Name|First Name|Last Name|Time Zone|Notes|x|))*(\r\n|\n|\r)",
        body in "([a-zA-Zé@.\"=' ,;\t|\u{a0}]|\r\n|\n|\r|Europe/Berlin|jane@acme.com|\"\"){0,200}",
    ) {
        let text = format!("{header}{body}");
        drain(text.as_bytes(), None);
        let utf16: Vec<u8> = [0xFF, 0xFE].into_iter()
            .chain(text.encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        drain(&utf16, None);
    }
}

#[test]
fn a_quote_left_open_is_reported_where_it_opened_with_what_it_swallowed() {
    let mut text = String::from("Email,First Name,Company\na@acme.com,Ann,\"Acme\n");
    for i in 0..1000 {
        text.push_str(&format!("lead{i}@corp{i}.com,Lead,Corp {i}\n"));
    }
    let out = outcomes(reader(text.as_bytes()));
    assert_eq!(
        out,
        vec![
            "leads.csv:2: a quote (\") opens a cell at line 2, column 16 and is never closed, \
             so the 1000 lines after it, to the end of the file, became part of this row; \
             close the quote or remove it"
        ]
    );
}

#[test]
fn a_quote_left_open_in_the_header_is_named() {
    let err = header_error(b"Email,\"First Name\nann@acme.com,Ann\n");
    assert!(
        err.starts_with("leads.csv:1: a quote (\") opens a cell at line 1, column 7"),
        "{err}"
    );
}

#[test]
fn quotes_inside_plain_or_closed_cells_are_not_taken_for_an_open_one() {
    let rows = leads(
        b"Email,Notes\na@acme.com,\"two\nlines, \"\"quoted\"\"\"\nb@acme.com,a 5\" screen\nc@acme.com,\"closed\"\"\"\n",
    );
    let emails: Vec<&str> = rows.iter().map(|r| r.lead.email.as_str()).collect();
    assert_eq!(emails, ["a@acme.com", "b@acme.com", "c@acme.com"]);
}

//! Mapping a header row, however a tool or locale spells it, to lead fields.

use std::fmt;

use super::columns;
use super::mapping::ColumnMap;

/// The lead field a column feeds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Field {
    Email,
    FirstName,
    LastName,
    Company,
    Title,
    Timezone,
    Phone,
    Owner,
    /// A column whose true value says the person opted out of email (`Do Not Email`).
    OptOut,
    /// A column whose false value says the person opted out of email (`subscribed_to_emails`).
    Subscribed,
    /// A single name column, split into first name (first word) and last name (the rest).
    FullName,
    /// Any other column, under its snake_case key.
    Custom(String),
}

impl fmt::Display for Field {
    /// The name `SheetReader::columns` reports: the field, or `custom:<key>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Field::Email => "email",
            Field::FirstName => "first_name",
            Field::LastName => "last_name",
            Field::Company => "company",
            Field::Title => "title",
            Field::Timezone => "timezone",
            Field::Phone => "phone",
            Field::Owner => "owner",
            Field::OptOut => "opt_out",
            Field::Subscribed => "subscribed",
            Field::FullName => "first_name+last_name",
            Field::Custom(key) => return write!(f, "custom:{key}"),
        };
        f.write_str(name)
    }
}

/// One named column of the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Column {
    /// Zero-based position in the row.
    pub index: usize,
    /// The header cell as written (trimmed).
    pub name: String,
    pub field: Field,
}

/// The header's columns, without the unnamed ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Header {
    pub columns: Vec<Column>,
    /// Cells a row must have: up to the last named column.
    pub width: usize,
    /// Cells in the header row, named or not; a row may have this many.
    pub len: usize,
}

/// Why a header row cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum HeaderError {
    /// No column maps to email; `names` lists the named columns as written.
    NoEmail { names: Vec<String> },
    /// A mapped column is not in the header; `names` lists the named columns as written.
    MappedMissing {
        mapped: Vec<String>,
        names: Vec<String>,
    },
    /// Two columns map to the same field.
    Duplicate {
        first: String,
        second: String,
        field: String,
    },
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderError::NoEmail { names } => f.write_str(&no_email_message(names, &[])),
            HeaderError::MappedMissing { mapped, names } => {
                f.write_str(&mapped_missing_message(mapped, names))
            }
            HeaderError::Duplicate {
                first,
                second,
                field,
            } => f.write_str(&duplicate_message(first, second, field)),
        }
    }
}

/// What to tell a rep whose header has no email column; `addresses` are the columns whose
/// values look like email addresses.
pub(super) fn no_email_message(names: &[String], addresses: &[String]) -> String {
    if names.is_empty() {
        return "no email column (the header row is empty); name one \"email\"".to_owned();
    }
    let columns = names.join(", ");
    match addresses {
        [] => format!(
            "no email column (columns: {columns}); name one \"email\" or pass \
             --map \"COLUMN=email\""
        ),
        [one] => format!(
            "no email column recognised (columns: {columns}); the values of \"{one}\" look like \
             email addresses: pass --map \"{one}=email\""
        ),
        [first, ..] => format!(
            "no email column recognised (columns: {columns}); the values of {} look like email \
             addresses: pass --map \"{first}=email\" (or another of them)",
            addresses
                .iter()
                .map(|a| format!("\"{a}\""))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// What to tell a rep who mapped columns the header does not have.
pub(super) fn mapped_missing_message(mapped: &[String], names: &[String]) -> String {
    let mapped: Vec<String> = mapped.iter().map(|m| format!("\"{m}\"")).collect();
    format!(
        "the mapping names {} but the header has no such column (columns: {})",
        mapped.join(", "),
        names.join(", ")
    )
}

/// What to tell a rep whose header has two columns for one field.
pub(super) fn duplicate_message(first: &str, second: &str, field: &str) -> String {
    format!("columns \"{first}\" and \"{second}\" both map to {field}; rename or remove one")
}

/// Maps header cells (already trimmed) to fields. Empty cells are skipped. Several email
/// columns all feed the email (the first non-empty one is the lead's, the others are kept).
/// Two columns that commonly sit side by side yield to the more specific one instead of
/// clashing: a name column is split only when there is no first- or last-name column, a
/// mobile column feeds the phone only when there is no other phone column (Salesforce exports
/// both), a weak name (Outlook's `Title` prefix) yields to a strong one (`Job Title`), and of
/// two columns left for one field the first feeds it and the later one is a custom field.
///
/// A column `map` names feeds the field it says (or nothing, when ignored), and any other
/// column for that field becomes a custom field.
pub(super) fn map_header(cells: &[String], map: &ColumnMap) -> Result<Header, HeaderError> {
    let missing = map.missing(cells);
    if !missing.is_empty() {
        return Err(HeaderError::MappedMissing {
            mapped: missing.into_iter().map(str::to_owned).collect(),
            names: cells.iter().filter(|c| !c.is_empty()).cloned().collect(),
        });
    }
    let mut weak = Vec::new();
    let mut mapped = Vec::new();
    let mut columns: Vec<Column> = Vec::new();
    for (index, name) in cells.iter().enumerate() {
        if name.is_empty() {
            continue;
        }
        let field = match map.target(name) {
            Some(None) => continue,
            Some(Some(field)) => {
                mapped.push(field.clone());
                weak.push(false);
                field
            }
            None => {
                let recognised = columns::recognise(name);
                weak.push(recognised.as_ref().is_some_and(|r| r.weak));
                recognised.map_or_else(|| Field::Custom(custom_key(name, index)), |r| r.field)
            }
        };
        columns.push(Column {
            index,
            name: name.clone(),
            field,
        });
    }
    for (column, weak) in columns.iter().zip(weak.iter_mut()) {
        // A column the person mapped wins over the table's guesses for the same field.
        if mapped.contains(&column.field) && map.target(&column.name).is_none() {
            *weak = true;
        }
    }
    demote_yielding(&mut columns, &weak);
    for (i, later) in columns.iter().enumerate() {
        if matches!(
            later.field,
            Field::Email | Field::OptOut | Field::Subscribed
        ) {
            continue;
        }
        if let Some(earlier) = columns[..i].iter().find(|c| c.field == later.field) {
            return Err(HeaderError::Duplicate {
                first: earlier.name.clone(),
                second: later.name.clone(),
                field: describe(&later.field),
            });
        }
    }
    if !columns.iter().any(|c| c.field == Field::Email) {
        return Err(HeaderError::NoEmail {
            names: columns.into_iter().map(|c| c.name).collect(),
        });
    }
    let width = columns.last().map_or(0, |c| c.index + 1);
    Ok(Header {
        columns,
        width,
        len: cells.len(),
    })
}

/// Turns into custom fields the columns that yield to another for the same field (see
/// [`map_header`]); `weak[i]` says whether column `i` has a weak name.
fn demote_yielding(columns: &mut [Column], weak: &[bool]) {
    let has_first_or_last = columns
        .iter()
        .any(|c| matches!(c.field, Field::FirstName | Field::LastName));
    let has_primary_phone = columns
        .iter()
        .any(|c| c.field == Field::Phone && !columns::is_mobile(&c.name));
    let strong: Vec<Field> = columns
        .iter()
        .zip(weak)
        .filter(|(_, w)| !**w)
        .map(|(c, _)| c.field.clone())
        .collect();
    for (i, column) in columns.iter_mut().enumerate() {
        let demoted = match column.field {
            Field::FullName => has_first_or_last,
            Field::Phone if has_primary_phone && columns::is_mobile(&column.name) => true,
            _ => weak[i] && strong.contains(&column.field),
        };
        if demoted {
            column.field = Field::Custom(custom_key(&column.name, column.index));
        }
    }
    for i in 0..columns.len() {
        let field = columns[i].field.clone();
        let several = matches!(field, Field::Email | Field::OptOut | Field::Subscribed);
        let standard = !several && !matches!(field, Field::Custom(_));
        if standard && columns[..i].iter().any(|c| c.field == field) {
            let column = &mut columns[i];
            column.field = Field::Custom(custom_key(&column.name, column.index));
        }
    }
}

fn describe(field: &Field) -> String {
    match field {
        Field::Custom(key) => format!("the custom field \"{key}\""),
        Field::FullName => "the name (first_name and last_name)".to_owned(),
        other => other.to_string(),
    }
}

/// The custom-field key for a header: lowercase, runs of anything but letters and digits made
/// one `_`, no `_` at either end (`Pain Point` → `pain_point`, `Größe` → `größe`). A header
/// with no letter or digit is keyed by its column letter (`#` in column C → `column_c`).
pub(super) fn custom_key(name: &str, index: usize) -> String {
    let mut key = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_alphanumeric() {
            key.extend(c.to_lowercase());
        } else if !key.is_empty() && !key.ends_with('_') {
            key.push('_');
        }
    }
    if key.ends_with('_') {
        key.pop();
    }
    if key.is_empty() {
        format!("column_{}", column_letter(index).to_lowercase())
    } else {
        key
    }
}

/// A zero-based column index as a spreadsheet labels it: 0 → `A`, 25 → `Z`, 26 → `AA`.
pub(super) fn column_letter(index: usize) -> String {
    let mut n = index + 1;
    let mut letters = Vec::new();
    while n > 0 {
        let rem = (n - 1) % 26;
        letters.push(char::from(b'A' + rem as u8));
        n = (n - 1) / 26;
    }
    letters.iter().rev().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(names: &[&str]) -> Result<Header, HeaderError> {
        let cells: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        map_header(&cells, &ColumnMap::default())
    }

    fn fields(names: &[&str]) -> Vec<String> {
        header(names)
            .unwrap()
            .columns
            .iter()
            .map(|c| c.field.to_string())
            .collect()
    }

    #[test]
    fn email_header_spellings_map_to_email() {
        for name in [
            "Email",
            "E-mail",
            "Email Address",
            "E-Mail-Adresse",
            "Work Email",
            "email_address",
            "Mail",
            "EMAIL:",
        ] {
            assert_eq!(fields(&[name]), ["email"], "{name}");
        }
    }

    #[test]
    fn standard_header_spellings_map_to_their_fields() {
        let cases = [
            (
                "first_name",
                &[
                    "First Name",
                    "Firstname",
                    "first_name",
                    "Given Name",
                    "Vorname",
                    "Prénom",
                ][..],
            ),
            (
                "last_name",
                &[
                    "Last Name",
                    "Lastname",
                    "Surname",
                    "Family Name",
                    "Nachname",
                    "Nom",
                ],
            ),
            (
                "company",
                &[
                    "Company",
                    "Company Name",
                    "Organization",
                    "Organisation",
                    "Account Name",
                    "Firma",
                ],
            ),
            ("title", &["Title", "Job Title", "Position", "Role"]),
            ("timezone", &["Timezone", "Time Zone", "TZ"]),
            ("phone", &["Phone", "Phone Number", "Mobile", "Telephone"]),
            ("owner", &["Owner", "Lead Owner", "Contact Owner"]),
        ];
        for (field, names) in cases {
            for name in names {
                assert_eq!(fields(&["email", name])[1], field, "{name}");
            }
        }
    }

    #[test]
    fn name_column_is_split_only_without_first_or_last_name() {
        assert_eq!(
            fields(&["Email", "Full Name"]),
            ["email", "first_name+last_name"]
        );
        assert_eq!(
            fields(&["Email", "Name", "Last Name"]),
            ["email", "custom:name", "last_name"]
        );
    }

    #[test]
    fn mobile_column_is_custom_when_a_phone_column_exists() {
        assert_eq!(
            fields(&["Email", "Mobile", "Phone"]),
            ["email", "custom:mobile", "phone"]
        );
        assert_eq!(fields(&["Email", "Mobile Phone"]), ["email", "phone"]);
    }

    #[test]
    fn other_headers_become_snake_case_custom_keys() {
        assert_eq!(
            fields(&[
                "Email",
                "Pain Point",
                "Größe",
                "  Deal -- Stage (2024) ",
                "#"
            ]),
            [
                "email",
                "custom:pain_point",
                "custom:größe",
                "custom:deal_stage_2024",
                "custom:column_e"
            ]
        );
    }

    #[test]
    fn empty_header_cells_are_ignored_and_do_not_widen_rows() {
        let header = header(&["", "Email", "", "Company", "", ""]).unwrap();
        let names: Vec<_> = header
            .columns
            .iter()
            .map(|c| (c.index, c.name.as_str()))
            .collect();
        assert_eq!(names, [(1, "Email"), (3, "Company")]);
        assert_eq!(header.width, 4);
        assert_eq!(header.len, 6);
    }

    #[test]
    fn several_email_columns_all_feed_the_email() {
        assert_eq!(
            fields(&["Email", "Company", "E-Mail"]),
            ["email", "company", "email"]
        );
    }

    #[test]
    fn outlook_title_prefix_yields_to_job_title() {
        assert_eq!(
            fields(&["Title", "First Name", "E-mail Address", "Job Title"]),
            ["custom:title", "first_name", "email", "title"]
        );
        assert_eq!(fields(&["Email", "Title"]), ["email", "title"]);
    }

    #[test]
    fn a_second_column_for_a_standard_field_is_a_custom_field() {
        assert_eq!(
            fields(&["Email", "Company", "Organization"]),
            ["email", "company", "custom:organization"]
        );
    }

    #[test]
    fn duplicate_custom_keys_name_both_columns() {
        let err = header(&["Email", "Pain Point", "pain_point"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"columns "Pain Point" and "pain_point" both map to the custom field "pain_point"; rename or remove one"#
        );
    }

    #[test]
    fn missing_email_lists_the_columns() {
        assert_eq!(
            header(&["Name", "Company", "", "Phone"])
                .unwrap_err()
                .to_string(),
            r#"no email column (columns: Name, Company, Phone); name one "email" or pass --map "COLUMN=email""#
        );
        assert!(
            header(&["", ""])
                .unwrap_err()
                .to_string()
                .contains("header row is empty")
        );
    }

    #[test]
    fn column_letters_follow_spreadsheet_labels() {
        assert_eq!(column_letter(0), "A");
        assert_eq!(column_letter(25), "Z");
        assert_eq!(column_letter(26), "AA");
        assert_eq!(column_letter(701), "ZZ");
        assert_eq!(column_letter(702), "AAA");
    }
}

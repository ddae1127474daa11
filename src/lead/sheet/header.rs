//! Mapping a header row, however a tool or locale spells it, to lead fields.

use std::fmt;

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
            HeaderError::NoEmail { names } => f.write_str(&no_email_message(names)),
            HeaderError::Duplicate {
                first,
                second,
                field,
            } => f.write_str(&duplicate_message(first, second, field)),
        }
    }
}

/// What to tell a rep whose header has no email column.
pub(super) fn no_email_message(names: &[String]) -> String {
    if names.is_empty() {
        "no email column (the header row is empty); name one \"email\"".to_owned()
    } else {
        format!(
            "no email column (columns: {}); name one \"email\"",
            names.join(", ")
        )
    }
}

/// What to tell a rep whose header has two columns for one field.
pub(super) fn duplicate_message(first: &str, second: &str, field: &str) -> String {
    format!("columns \"{first}\" and \"{second}\" both map to {field}; rename or remove one")
}

/// Maps header cells (already trimmed) to fields. Empty cells are skipped. Two columns that
/// commonly sit side by side yield to the more specific one instead of clashing: a name
/// column is split only when there is no first- or last-name column, and a mobile column
/// feeds the phone only when there is no other phone column (Salesforce exports both).
pub(super) fn map_header(cells: &[String]) -> Result<Header, HeaderError> {
    let mut columns: Vec<Column> = cells
        .iter()
        .enumerate()
        .filter(|(_, name)| !name.is_empty())
        .map(|(index, name)| Column {
            index,
            name: name.clone(),
            field: standard_field(&alias_key(name))
                .unwrap_or_else(|| Field::Custom(custom_key(name, index))),
        })
        .collect();
    let has_first_or_last = columns
        .iter()
        .any(|c| matches!(c.field, Field::FirstName | Field::LastName));
    let has_primary_phone = columns
        .iter()
        .any(|c| c.field == Field::Phone && !is_mobile(&c.name));
    for column in &mut columns {
        let demoted = match column.field {
            Field::FullName => has_first_or_last,
            Field::Phone => has_primary_phone && is_mobile(&column.name),
            _ => false,
        };
        if demoted {
            column.field = Field::Custom(custom_key(&column.name, column.index));
        }
    }
    for (i, later) in columns.iter().enumerate() {
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

fn describe(field: &Field) -> String {
    match field {
        Field::Custom(key) => format!("the custom field \"{key}\""),
        Field::FullName => "the name (first_name and last_name)".to_owned(),
        other => other.to_string(),
    }
}

/// Header text reduced to lowercase letters and digits, so `E-Mail`, `e_mail` and `EMAIL:` meet.
fn alias_key(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Whether a phone header names a mobile number.
fn is_mobile(name: &str) -> bool {
    alias_key(name).starts_with("mobile")
}

/// The standard field a header names, in the spellings exports and locales use.
fn standard_field(key: &str) -> Option<Field> {
    let field = match key {
        "email" | "emailaddress" | "emailadresse" | "workemail" | "businessemail"
        | "emailaddresse" | "mail" | "courriel" | "correo" | "correoelectronico" => Field::Email,
        "firstname" | "givenname" | "forename" | "vorname" | "prénom" | "prenom" => {
            Field::FirstName
        }
        "lastname" | "surname" | "familyname" | "nachname" | "nom" | "nomdefamille"
        | "apellido" | "apellidos" => Field::LastName,
        "company" | "companyname" | "organization" | "organisation" | "organizationname"
        | "organisationname" | "accountname" | "companyaccount" | "firma" | "unternehmen"
        | "entreprise" | "société" | "societe" | "empresa" => Field::Company,
        "title" | "jobtitle" | "position" | "role" | "jobrole" | "jobtitel" | "poste" | "cargo" => {
            Field::Title
        }
        "timezone" | "tz" | "zeitzone" | "fuseauhoraire" | "zonahoraria" => Field::Timezone,
        "phone" | "phonenumber" | "mobile" | "mobilephone" | "mobilenumber" | "telephone"
        | "telephonenumber" | "tel" | "telefon" | "telefonnummer" | "téléphone" | "telefono"
        | "teléfono" => Field::Phone,
        "owner" | "leadowner" | "contactowner" | "accountowner" | "recordowner" => Field::Owner,
        "name" | "fullname" | "contactname" | "leadname" => Field::FullName,
        _ => return None,
    };
    Some(field)
}

/// The custom-field key for a header: lowercase, runs of anything but letters and digits made
/// one `_`, no `_` at either end (`Pain Point` → `pain_point`, `Größe` → `größe`). A header
/// with no letter or digit is keyed by its column letter (`#` in column C → `column_c`).
fn custom_key(name: &str, index: usize) -> String {
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
        map_header(&cells)
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
    fn duplicate_fields_name_both_columns() {
        let err = header(&["Email", "Company", "E-Mail"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"columns "Email" and "E-Mail" both map to email; rename or remove one"#
        );
        let err = header(&["Email", "Pain Point", "pain_point"]).unwrap_err();
        assert!(
            err.to_string().contains(r#"the custom field "pain_point""#),
            "{err}"
        );
    }

    #[test]
    fn missing_email_lists_the_columns() {
        assert_eq!(
            header(&["Name", "Company", "", "Phone"])
                .unwrap_err()
                .to_string(),
            r#"no email column (columns: Name, Company, Phone); name one "email""#
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

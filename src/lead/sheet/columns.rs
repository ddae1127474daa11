//! The recognition table: which header, as contact apps, CRMs and locales spell it, names
//! which lead field.
//!
//! Exports recognised (their header rows are in `tests/fixtures/contacts/`): Google Contacts
//! (`E-mail 1 - Value`, `Organization 1 - Name`, `Organization 1 - Title`, `Given Name`),
//! Outlook (`E-mail Address`, `E-mail 2 Address`, `Company`, `Job Title`; its bare `Title` is
//! the Mr/Ms prefix and yields to `Job Title`), Thunderbird (`Primary Email`, `Secondary
//! Email`, `Display Name`), Apple Contacts as CSV tools write it (`Email (Work)`, `Work Email`),
//! HubSpot (`Email`, `Company Name`, `Job Title`), Pipedrive (`Person - Email`, `Person - Name`,
//! `Organization - Name`), Salesforce (`Email`, `Account Name`, `Title`,
//! `HasOptedOutOfEmail`), LinkedIn connections (`Email Address`, `Company`, `Position`).

use super::header::Field;

/// How a header names its field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Recognised {
    pub field: Field,
    /// A weak name (Outlook's bare `Title`, Pipedrive's `Person - Organization`) yields to a
    /// strong column for the same field instead of clashing with it.
    pub weak: bool,
}

/// Header text reduced to lowercase letters and digits, so `E-Mail`, `e_mail` and `EMAIL:` meet.
pub(super) fn alias_key(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Whether a phone header names a mobile number.
pub(super) fn is_mobile(name: &str) -> bool {
    alias_key(name).starts_with("mobile")
}

/// The field a header names, if it is one the table knows.
pub(super) fn recognise(name: &str) -> Option<Recognised> {
    // Pipedrive prefixes a person's columns with the entity: `Person - Email - Work`.
    let (name, pipedrive) = match strip_prefix_ci(name, "Person - ") {
        Some(rest) => (rest, true),
        None => (name, false),
    };
    let key = alias_key(name);
    let field = if is_email_key(&key) {
        Field::Email
    } else {
        standard_field(&key)?
    };
    let weak = key == "title" || (pipedrive && key == "organization");
    Some(Recognised { field, weak })
}

fn strip_prefix_ci<'a>(name: &'a str, prefix: &str) -> Option<&'a str> {
    let head = name.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| name[prefix.len()..].trim_start())
}

/// Whether an alias key names an email address column: the plain spellings, numbered ones
/// (`E-mail 1 - Value`, `E-mail 2 Address`, `Email 3`), and labelled ones (`Primary Email`,
/// `Email (Work)`, `Person - Email - Home`).
fn is_email_key(key: &str) -> bool {
    const PLAIN: &[&str] = &[
        "email",
        "emailaddress",
        "emailadresse",
        "emailaddresse",
        "mail",
        "courriel",
        "correo",
        "correoelectronico",
        "correoelectrónico",
        "adresseemail",
        "adressemail",
        "postaelettronica",
    ];
    const LABELS: &[&str] = &[
        "primary",
        "secondary",
        "work",
        "business",
        "home",
        "personal",
        "private",
        "other",
        "office",
    ];
    if PLAIN.contains(&key) {
        return true;
    }
    let Some((before, after)) = split_around_email(key) else {
        return false;
    };
    let after = after
        .strip_suffix("value")
        .or_else(|| after.strip_suffix("address"))
        .unwrap_or(after);
    let numbered = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    match (before, after) {
        ("", rest) => numbered(rest) || LABELS.contains(&rest),
        (label, "") => LABELS.contains(&label),
        _ => false,
    }
}

/// `workemail` → (`work`, ``), `email1value` → (``, `1value`).
fn split_around_email(key: &str) -> Option<(&str, &str)> {
    let at = key.find("email")?;
    Some((&key[..at], &key[at + "email".len()..]))
}

/// The standard field a header names, in the spellings exports and locales use.
fn standard_field(key: &str) -> Option<Field> {
    let field = match key {
        "firstname" | "givenname" | "forename" | "vorname" | "prénom" | "prenom" | "nombre" => {
            Field::FirstName
        }
        "lastname" | "surname" | "familyname" | "nachname" | "nom" | "nomdefamille"
        | "apellido" | "apellidos" => Field::LastName,
        "company" | "companyname" | "organization" | "organisation" | "organizationname"
        | "organisationname" | "organization1name" | "accountname" | "companyaccount" | "firma"
        | "unternehmen" | "entreprise" | "société" | "societe" | "empresa" => Field::Company,
        "title" | "jobtitle" | "position" | "role" | "jobrole" | "jobtitel" | "poste" | "cargo"
        | "organizationtitle" | "organization1title" => Field::Title,
        "timezone" | "tz" | "zeitzone" | "fuseauhoraire" | "zonahoraria" => Field::Timezone,
        "phone" | "phonenumber" | "mobile" | "mobilephone" | "mobilenumber" | "telephone"
        | "telephonenumber" | "tel" | "telefon" | "telefonnummer" | "téléphone" | "telefono"
        | "teléfono" | "businessphone" | "workphone" | "primaryphone" | "phone1value" => {
            Field::Phone
        }
        "owner" | "leadowner" | "contactowner" | "accountowner" | "recordowner" => Field::Owner,
        "name" | "fullname" | "contactname" | "leadname" | "displayname" => Field::FullName,
        "unsubscribed"
        | "emailunsubscribed"
        | "unsubscribedfromemails"
        | "unsubscribedfromemail"
        | "unsubscribedfromallemail"
        | "unsubscribedfromallemails"
        | "donotemail"
        | "emailoptout"
        | "hasoptedoutofemail"
        | "optedout"
        | "optout"
        | "emailoptedout"
        | "optedoutofemail"
        | "donotcontact"
        | "donotmail" => Field::OptOut,
        "subscribedtoemails"
        | "subscribedtoemail"
        | "subscribed"
        | "emailsubscribed"
        | "acceptsemailmarketing"
        | "emailmarketingconsent" => Field::Subscribed,
        _ => return None,
    };
    Some(field)
}

/// A yes/no cell as exports write it: `Some(true)` for yes, `Some(false)` for no, `None`
/// for anything else.
pub(super) fn flag(cell: &str) -> Option<bool> {
    match cell.trim().to_lowercase().as_str() {
        "true" | "yes" | "y" | "1" | "x" | "ja" | "oui" | "sí" | "si" | "unsubscribed"
        | "opted out" | "opted-out" => Some(true),
        "false" | "no" | "n" | "0" | "nein" | "non" | "subscribed" | "opted in" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(name: &str) -> Option<String> {
        recognise(name).map(|r| r.field.to_string())
    }

    #[test]
    fn email_columns_of_the_common_exports_are_email() {
        for name in [
            "Email",
            "E-mail Address",
            "E-mail 2 Address",
            "E-mail 3 Address",
            "E-mail 1 - Value",
            "E-mail 2 - Value",
            "Primary Email",
            "Secondary Email",
            "Email Address",
            "Person - Email",
            "Person - Email - Work",
            "Email (Work)",
            "Work Email",
            "Home Email",
            "Other Email",
            "Email 2",
            "Correo electrónico",
            "Adresse e-mail",
        ] {
            assert_eq!(field(name).as_deref(), Some("email"), "{name}");
        }
    }

    #[test]
    fn email_metadata_columns_are_not_email() {
        for name in [
            "E-mail Type",
            "E-mail Display Name",
            "E-mail 1 - Type",
            "E-mail 1 - Label",
            "Email Opt Out",
            "Email Domain",
            "Unsubscribed from emails",
        ] {
            assert_ne!(field(name).as_deref(), Some("email"), "{name}");
        }
    }

    #[test]
    fn name_company_and_title_columns_of_the_common_exports() {
        let cases = [
            (
                "first_name",
                &["Given Name", "First Name", "Person - First name"][..],
            ),
            (
                "last_name",
                &["Family Name", "Last Name", "Person - Last name"],
            ),
            (
                "first_name+last_name",
                &["Name", "Display Name", "Person - Name", "Full Name"],
            ),
            (
                "company",
                &[
                    "Organization 1 - Name",
                    "Organization Name",
                    "Organization - Name",
                    "Company",
                    "Company Name",
                    "Account Name",
                ],
            ),
            (
                "title",
                &[
                    "Organization 1 - Title",
                    "Organization Title",
                    "Job Title",
                    "Position",
                    "Person - Job title",
                    "Title",
                ],
            ),
            (
                "phone",
                &["Business Phone", "Work Phone", "Phone 1 - Value"],
            ),
        ];
        for (expected, names) in cases {
            for name in names {
                assert_eq!(field(name).as_deref(), Some(expected), "{name}");
            }
        }
    }

    #[test]
    fn opt_out_columns_of_the_common_exports() {
        for name in [
            "unsubscribed",
            "Do Not Email",
            "Email Opt Out",
            "HasOptedOutOfEmail",
            "Unsubscribed from emails",
            "Unsubscribed from all email",
        ] {
            assert_eq!(field(name).as_deref(), Some("opt_out"), "{name}");
        }
        for name in [
            "subscribed_to_emails",
            "Subscribed",
            "Accepts Email Marketing",
        ] {
            assert_eq!(field(name).as_deref(), Some("subscribed"), "{name}");
        }
    }

    #[test]
    fn yes_and_no_cells_are_read_in_the_usual_spellings() {
        for yes in [
            "true",
            "TRUE",
            "yes",
            "Y",
            "1",
            "x",
            "ja",
            "oui",
            "sí",
            "Unsubscribed",
        ] {
            assert_eq!(flag(yes), Some(true), "{yes}");
        }
        for no in ["false", "No", "N", "0", "nein", "Subscribed"] {
            assert_eq!(flag(no), Some(false), "{no}");
        }
        assert_eq!(flag("maybe"), None);
    }

    #[test]
    fn outlook_title_and_pipedrive_person_organization_are_weak() {
        assert!(recognise("Title").unwrap().weak);
        assert!(!recognise("Job Title").unwrap().weak);
        assert!(recognise("Person - Organization").unwrap().weak);
        assert!(!recognise("Organization - Name").unwrap().weak);
        assert!(!recognise("Organization").unwrap().weak);
    }

    #[test]
    fn unknown_headers_are_not_recognised() {
        for name in [
            "Pain Point",
            "Connected On",
            "URL",
            "Notes",
            "Labels",
            "Personal",
        ] {
            assert_eq!(field(name), None, "{name}");
        }
    }
}

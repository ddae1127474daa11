//! `drumbeat leads import` on contact exports laid out exactly as the apps and CRMs write
//! them (tests/fixtures/contacts/, header rows from each app's export; data rows invented):
//! the email, name, company and title columns are recognised, further email columns are
//! kept, `--map`/`--mapping` name the rest, and a file without an email column gets the
//! `--map` to use.

use crate::support::daemon::{at, run_once};
use crate::support::providers::{IMPORT_AT, SEND_AT, outbox};
use crate::support::{Project, repo};

/// A project holding the fixture `name` under the same name.
fn with_fixture(name: &str) -> Project {
    let p = Project::shipped();
    let bytes = std::fs::read(repo().join("tests/fixtures/contacts").join(name))
        .unwrap_or_else(|err| panic!("fixture {name}: {err}"));
    p.write(name, bytes);
    p
}

/// The stored lead as `leads show --json` gives it.
fn lead(p: &Project, email: &str) -> serde_json::Value {
    p.ok(&["leads", "show", email, "--json"]).json()["lead"].clone()
}

/// Asserts first name, last name, company and title of a stored lead.
fn assert_person(p: &Project, email: &str, want: [&str; 4]) {
    let lead = lead(p, email);
    let got = ["first_name", "last_name", "company", "title"].map(|k| match &lead[k] {
        serde_json::Value::String(s) => s.clone(),
        _ => String::new(),
    });
    assert_eq!(got, want.map(str::to_owned), "{email}: {lead}");
}

/// Imports `name` whose one opted-out row is in Salesforce's `Email Opt Out`.
fn import_all_noting_opt_outs(name: &str, new: usize) -> Project {
    let p = with_fixture(name);
    let run = p.ok(&["leads", "import", name]);
    assert_eq!(
        run.stdout,
        format!(
            "imported {name}: {new} new, 0 updated, 0 unchanged, 0 skipped\n\
             1 imported as suppressed (opted out in column \"Email Opt Out\")\n"
        )
    );
    p
}

fn import_all(name: &str, new: usize) -> Project {
    let p = with_fixture(name);
    let run = p.ok(&["leads", "import", name]);
    assert_eq!(
        run.stdout,
        format!("imported {name}: {new} new, 0 updated, 0 unchanged, 0 skipped\n")
    );
    assert_eq!(run.stderr, "");
    p
}

#[test]
fn google_contacts_export_imports_with_the_second_email_kept() {
    let p = import_all("google.csv", 2);
    assert_person(
        &p,
        "greta@nordhavn.example",
        [
            "Greta",
            "Lindqvist",
            "Nordhavn Logistics",
            "Head of Operations",
        ],
    );
    let greta = lead(&p, "greta@nordhavn.example");
    assert_eq!(greta["custom"]["other_emails"], "greta.l@mail.example");
    assert_eq!(greta["phone"], "+46 8 123 456");
    // Only the second address filled: it is the lead's.
    assert_person(
        &p,
        "tomas@berg.example",
        ["Tomas", "Berg", "Berg & Co", "Founder"],
    );
    let p = import_all("google-2024.csv", 1);
    assert_person(
        &p,
        "ines@atelier-moreau.example",
        ["Ines", "Moreau", "Atelier Moreau", "Directrice"],
    );
}

#[test]
fn outlook_export_takes_job_title_and_keeps_the_prefix_aside() {
    let p = import_all("outlook.csv", 2);
    assert_person(
        &p,
        "priya.raman@quillworks.example",
        ["Priya", "Raman", "Quillworks", "VP Engineering"],
    );
    let priya = lead(&p, "priya.raman@quillworks.example");
    assert_eq!(priya["custom"]["title"], "Ms.");
    assert_eq!(priya["custom"]["other_emails"], "priya@home.example");
    assert_person(
        &p,
        "owen.hale@halepartners.example",
        ["Owen", "Hale", "Hale Partners", "Managing Partner"],
    );
}

#[test]
fn thunderbird_apple_hubspot_pipedrive_salesforce_and_linkedin_exports_import() {
    let p = import_all("thunderbird.csv", 2);
    assert_person(
        &p,
        "lena.vogt@kieswerk.example",
        ["Lena", "Vogt", "Kieswerk GmbH", "CTO"],
    );
    assert_eq!(
        lead(&p, "lena.vogt@kieswerk.example")["custom"]["other_emails"],
        "lena@vogt.example"
    );
    assert_eq!(lead(&p, "marco.neri@neri.example")["company"], "Neri Srl");
    let p = import_all("apple.csv", 1);
    assert_person(
        &p,
        "sam@brightline.example",
        ["Sam", "Okafor", "Brightline Studio", "Producer"],
    );
    let p = import_all("hubspot.csv", 1);
    assert_person(
        &p,
        "aiko@sakuradesign.example",
        ["Aiko", "Tanaka", "Sakura Design", "Art Director"],
    );
    let p = import_all("pipedrive.csv", 1);
    assert_person(
        &p,
        "rui.costa@atlantico.example",
        ["Rui", "Costa", "Atlântico Frotas", "Fleet Manager"],
    );
    let p = import_all_noting_opt_outs("salesforce.csv", 2);
    assert_person(
        &p,
        "dana.whitfield@cobaltfreight.example",
        ["Dana", "Whitfield", "Cobalt Freight", "Director of IT"],
    );
}

#[test]
fn linkedin_connections_skip_the_notes_and_report_rows_without_address() {
    let p = with_fixture("linkedin.csv");
    let run = p.run(&["leads", "import", "linkedin.csv"]);
    run.code(1);
    assert_eq!(run.stderr, "linkedin.csv:6: email is empty\n");
    assert_eq!(
        run.stdout,
        "imported linkedin.csv: 1 new, 0 updated, 0 unchanged, 1 skipped\n"
    );
    assert_person(
        &p,
        "yusuf@demirtech.example",
        ["Yusuf", "Demir", "Demir Tech", "Head of Sales"],
    );
}

const SPANISH: &str = "Nombre,Dirección,Empresa,Cargo\n\
                       Lucía,lucia@olivar.example,Olivar SA,Gerente\n\
                       Pablo,pablo@sierra.example,Sierra SL,CEO\n";

#[test]
fn a_file_without_an_email_column_shows_the_map_to_use_and_the_map_works() {
    let p = Project::shipped();
    p.write("es.csv", SPANISH);
    let before = p.files();
    let run = p.run(&["leads", "import", "es.csv"]);
    run.code(1);
    assert_eq!(
        run.stderr,
        "drumbeat: es.csv:1: no email column recognised (columns: Nombre, Dirección, Empresa, \
         Cargo); the values of \"Dirección\" look like email addresses: pass --map \
         \"Dirección=email\"\n"
    );
    assert!(p.files() == before, "a refused import left files behind");
    let run = p.ok(&["leads", "import", "es.csv", "--map", "Dirección=email"]);
    assert_eq!(
        run.stdout,
        "imported es.csv: 2 new, 0 updated, 0 unchanged, 0 skipped\n"
    );
    assert_person(
        &p,
        "lucia@olivar.example",
        ["Lucía", "", "Olivar SA", "Gerente"],
    );
}

#[test]
fn a_mapping_file_names_the_columns_and_a_wrong_one_is_refused() {
    // The documented mapping file (docs/leads.md shows it); its "Notas" is not in this file.
    let p = with_fixture("es-mapping.toml");
    p.write("es.csv", SPANISH);
    p.ok(&["leads", "import", "es.csv", "--mapping", "es-mapping.toml"]);
    let pablo = lead(&p, "pablo@sierra.example");
    assert_eq!(pablo["first_name"], "Pablo");
    assert_eq!(pablo["title"], serde_json::Value::Null);
    assert_eq!(pablo["custom"]["cargo"], "CEO");
    let run = p.run(&["leads", "import", "es.csv", "--map", "Correo=email"]);
    run.code(1);
    assert_eq!(
        run.stderr,
        "drumbeat: es.csv:1: the mapping names \"Correo\" but the header has no such column \
         (columns: Nombre, Dirección, Empresa, Cargo)\n"
    );
    let run = p.run(&["leads", "import", "es.csv", "--map", "Dirección=correo"]);
    run.code(2);
    assert!(
        run.stderr
            .contains("--map \"Dirección=correo\": unknown field \"correo\""),
        "{}",
        run.stderr
    );
}

#[test]
fn a_file_without_any_address_lists_its_headers() {
    let p = Project::shipped();
    p.write("names.csv", "Nombre,Empresa\nLucía,Olivar SA\n");
    let run = p.run(&["leads", "import", "names.csv"]);
    run.code(1);
    assert_eq!(
        run.stderr,
        "drumbeat: names.csv:1: no email column (columns: Nombre, Empresa); name one \"email\" \
         or pass --map \"COLUMN=email\"\n"
    );
}

#[test]
fn an_opted_out_row_is_imported_suppressed_and_never_emailed() {
    let p = with_fixture("salesforce.csv");
    let run = at(
        &p,
        IMPORT_AT,
        &[
            "leads",
            "import",
            "salesforce.csv",
            "--sequence",
            "cold-outbound",
        ],
    );
    run.code(0);
    assert_eq!(
        run.stdout,
        "imported salesforce.csv: 2 new, 0 updated, 0 unchanged, 0 skipped; 1 enrolled in \
         cold-outbound (0 already in it, 1 suppressed)\n\
         1 imported as suppressed (opted out in column \"Email Opt Out\")\n"
    );
    let list = p.ok(&["suppressions", "--json"]).json();
    assert_eq!(list[0]["value"], "lee.park@cobaltfreight.example", "{list}");
    assert_eq!(list[0]["reason"], "unsubscribed");
    run_once(&p, SEND_AT);
    let sent = outbox(&p);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0].contains("dana.whitfield@cobaltfreight.example"));
    assert!(sent.iter().all(|m| !m.contains("lee.park@")), "{sent:?}");
}

#[test]
fn a_person_on_two_rows_is_reported_with_the_rows() {
    let p = Project::shipped();
    p.write(
        "dups.csv",
        "Email,First Name,Company\n\
         jane@acme.example,Jane,Acme\n\
         al@beta.example,Al,Beta\n\
         Jane@Acme.example,Janet,Acme Inc\n\
         jane@acme.example,Jane,Acme\n",
    );
    let run = p.ok(&["leads", "import", "dups.csv"]);
    assert_eq!(
        run.stderr,
        "warning: dups.csv: jane@acme.example is on rows 2, 4, 5; the later rows update the \
         lead of the first\n"
    );
    assert!(
        run.stdout.starts_with("imported dups.csv: 2 new,"),
        "{}",
        run.stdout
    );
    let json = p.ok(&["leads", "import", "dups.csv", "--json"]).json();
    assert_eq!(
        json["duplicates"],
        serde_json::json!([{ "email": "jane@acme.example", "rows": [2, 4, 5] }])
    );
}

#[test]
fn vcard_files_of_the_rfcs_and_of_outlook_import_their_people() {
    let p = import_all("rfc2426.vcf", 2);
    assert_person(
        &p,
        "frank_dawson@lotus.com",
        ["Frank", "Dawson", "Lotus Development Corporation", ""],
    );
    assert_eq!(
        lead(&p, "frank_dawson@lotus.com")["custom"]["other_emails"],
        "fdawson@earthlink.net"
    );
    assert_eq!(
        lead(&p, "howes@netscape.com")["company"],
        "Netscape Communications Corp."
    );
    let p = import_all("rfc6350.vcf", 1);
    assert_person(
        &p,
        "simon.perreault@viagenie.ca",
        ["Simon", "Perreault", "Viagenie", ""],
    );
    let p = import_all("outlook.vcf", 1);
    assert_person(
        &p,
        "tom.becker@contoso.example",
        [
            "Tom",
            "Becker",
            "Contoso GmbH",
            "Head of Revenue\r\nOperations",
        ],
    );
}

#[test]
fn a_google_contacts_vcard_imports_its_people_and_names_the_card_without_an_address() {
    let p = with_fixture("google.vcf");
    let run = p.run(&[
        "leads",
        "import",
        "google.vcf",
        "--sequence",
        "cold-outbound",
    ]);
    run.code(1);
    assert_eq!(
        run.stderr,
        "google.vcf:14: the card of \"Only A Phone\" has no email address\n"
    );
    assert!(
        run.stdout
            .starts_with("imported google.vcf: 1 new, 0 updated, 0 unchanged, 1 skipped"),
        "{}",
        run.stdout
    );
    assert_person(
        &p,
        "maria.garcia@northwind.example",
        ["Maria", "García", "Northwind Traders", "VP Sales"],
    );
    // A column mapping names spreadsheet columns: refused for a vCard file, nothing imported.
    let p = with_fixture("google.vcf");
    let before = p.snapshot();
    let run = p.run(&["leads", "import", "google.vcf", "--map", "X=email"]);
    run.code(1);
    assert_eq!(
        run.stderr,
        "drumbeat: google.vcf: --map and --mapping name spreadsheet columns; a vCard file has none\n"
    );
    assert_eq!(p.snapshot(), before);
}

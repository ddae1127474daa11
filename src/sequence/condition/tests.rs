use super::*;
use crate::lead::Email;

fn lead(phone: Option<&str>, title: Option<&str>) -> LeadRecord {
    LeadRecord {
        email: Email::parse("maria@acme.example").expect("an address"),
        first_name: Some("Maria".into()),
        last_name: None,
        company: Some("Acme".into()),
        title: title.map(str::to_string),
        timezone: None,
        phone: phone.map(str::to_string),
        owner: None,
        custom: [("country".to_string(), " de ".to_string())].into(),
    }
}

fn truth(cond: &str, l: &LeadRecord, e: Option<&Engagement>) -> Truth {
    let expr = parse(cond).unwrap_or_else(|e| panic!("{cond}: {e:?}"));
    expr.eval(Facts {
        lead: l,
        engagement: e,
    })
}

#[test]
fn field_tests_read_the_lead() {
    let with = lead(Some("+49 30 1234"), Some("Co-Founder & CEO"));
    let without = lead(Some("  "), None);
    assert_eq!(truth("lead.phone", &with, None), Truth::Yes);
    assert_eq!(
        truth("lead.phone", &without, None),
        Truth::No,
        "blank is missing"
    );
    assert_eq!(truth("not lead.phone", &without, None), Truth::Yes);
    assert_eq!(
        truth("lead.title contains \"founder\"", &with, None),
        Truth::Yes
    );
    assert_eq!(
        truth("lead.title matches '^co-?founder'", &with, None),
        Truth::Yes
    );
    assert_eq!(truth("lead.title matches \"^cto\"", &with, None), Truth::No);
    assert_eq!(truth("lead.country == \"DE\"", &with, None), Truth::Yes);
    assert_eq!(truth("lead.country==DE", &with, None), Truth::Yes);
    assert_eq!(truth("lead.country != \"DE\"", &with, None), Truth::No);
    assert_eq!(
        truth("lead.title != \"x\"", &without, None),
        Truth::Yes,
        "a missing field is not x"
    );
}

#[test]
fn and_binds_tighter_than_or() {
    let l = lead(None, Some("CEO"));
    assert_eq!(
        truth("lead.phone and lead.title or lead.company", &l, None),
        Truth::Yes
    );
    assert_eq!(
        truth("lead.phone or lead.title and not lead.company", &l, None),
        Truth::No
    );
}

#[test]
fn engagement_is_unknown_until_send_time() {
    let l = lead(None, None);
    assert_eq!(truth("clicked", &l, None), Truth::Unknown);
    assert_eq!(
        truth("not clicked or lead.company", &l, None),
        Truth::Yes,
        "known either way"
    );
    let mut e = Engagement::default();
    assert_eq!(truth("clicked", &l, Some(&e)), Truth::No);
    e.clicked.insert("intro".into());
    assert_eq!(truth("clicked", &l, Some(&e)), Truth::Yes);
    assert_eq!(truth("clicked intro", &l, Some(&e)), Truth::Yes);
    assert_eq!(truth("clicked bump", &l, Some(&e)), Truth::No);
    assert_eq!(
        truth("opened intro", &l, Some(&e)),
        Truth::Yes,
        "a click is an open"
    );
    assert_eq!(truth("not opened", &l, Some(&e)), Truth::No);
}

#[test]
fn mistakes_are_named_where_they_are() {
    let err = |c: &str| parse(c).expect_err(c);
    assert_eq!(err("lead.title contains").at, 19);
    assert!(
        err("lead.title contains")
            .message
            .contains("value after contains")
    );
    assert_eq!(err("lead.phone and clickd").at, 15);
    assert!(
        err("lead.phone and clickd")
            .message
            .contains("unknown test \"clickd\"")
    );
    assert_eq!(err("lead.Phone").at, 0);
    assert_eq!(err("lead.title == \"ceo").at, 14);
    assert!(
        err("lead.title matches \"(\"")
            .message
            .contains("regular expression")
    );
    assert!(
        err("not replied")
            .message
            .contains("a reply stops the lead")
    );
    assert!(err("  ").message.contains("empty"));
    assert_eq!(err("lead.phone lead.title").at, 11);
}

proptest::proptest! {
    #[test]
    fn any_text_parses_or_errs_inside_it(text in "\\PC{0,60}") {
        if let Err(e) = parse(&text) {
            proptest::prop_assert!(e.at <= text.chars().count());
        }
    }
}

use proptest::prelude::*;

use super::*;

fn wait(amount: u32, unit: WaitUnit) -> Wait {
    Wait { amount, unit }
}

fn error(input: &str) -> String {
    match input.parse::<Wait>() {
        Ok(parsed) => panic!("{input:?} parsed as {parsed:?}, expected an error"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn zero_alone_or_with_any_unit_is_zero() {
    for input in [
        "0",
        " 0 ",
        "0 minutes",
        "0 days",
        "00",
        "0 business days",
        "0w",
    ] {
        let parsed: Wait = input.parse().unwrap();
        assert_eq!(parsed, Wait::ZERO, "{input:?}");
        assert!(parsed.is_zero());
    }
}

#[test]
fn every_unit_spelling_parses() {
    let cases = [
        ("30 minutes", wait(30, WaitUnit::Minutes)),
        ("1 minute", wait(1, WaitUnit::Minutes)),
        ("5 min", wait(5, WaitUnit::Minutes)),
        ("5 mins", wait(5, WaitUnit::Minutes)),
        ("30m", wait(30, WaitUnit::Minutes)),
        ("2 hours", wait(2, WaitUnit::Hours)),
        ("1 hour", wait(1, WaitUnit::Hours)),
        ("2 hr", wait(2, WaitUnit::Hours)),
        ("2hrs", wait(2, WaitUnit::Hours)),
        ("2h", wait(2, WaitUnit::Hours)),
        ("1 day", wait(1, WaitUnit::Days)),
        ("3 days", wait(3, WaitUnit::Days)),
        ("3d", wait(3, WaitUnit::Days)),
        ("3 business days", wait(3, WaitUnit::BusinessDays)),
        ("1 business day", wait(1, WaitUnit::BusinessDays)),
        ("3 business-days", wait(3, WaitUnit::BusinessDays)),
        ("1 business-day", wait(1, WaitUnit::BusinessDays)),
        ("3 workdays", wait(3, WaitUnit::BusinessDays)),
        ("1 workday", wait(1, WaitUnit::BusinessDays)),
        ("3 working days", wait(3, WaitUnit::BusinessDays)),
        ("1 working day", wait(1, WaitUnit::BusinessDays)),
        ("3bd", wait(3, WaitUnit::BusinessDays)),
        ("1 week", wait(1, WaitUnit::Weeks)),
        ("2 weeks", wait(2, WaitUnit::Weeks)),
        ("1w", wait(1, WaitUnit::Weeks)),
        ("10000 minutes", wait(10_000, WaitUnit::Minutes)),
    ];
    for (input, expected) in cases {
        assert_eq!(input.parse::<Wait>(), Ok(expected), "{input:?}");
    }
}

#[test]
fn case_and_spacing_do_not_matter() {
    for input in [
        "3 Business Days",
        "  3   BUSINESS   days ",
        "3\tbusiness\nday",
        "3 Business-Day",
    ] {
        assert_eq!(
            input.parse(),
            Ok(wait(3, WaitUnit::BusinessDays)),
            "{input:?}"
        );
    }
}

#[test]
fn display_is_canonical() {
    let cases = [
        (Wait::ZERO, "0"),
        (wait(0, WaitUnit::Weeks), "0"),
        (wait(1, WaitUnit::Minutes), "1 minute"),
        (wait(30, WaitUnit::Minutes), "30 minutes"),
        (wait(2, WaitUnit::Hours), "2 hours"),
        (wait(1, WaitUnit::Days), "1 day"),
        (wait(1, WaitUnit::BusinessDays), "1 business day"),
        (wait(3, WaitUnit::BusinessDays), "3 business days"),
        (wait(1, WaitUnit::Weeks), "1 week"),
        (wait(2, WaitUnit::Weeks), "2 weeks"),
    ];
    for (value, text) in cases {
        assert_eq!(value.to_string(), text);
    }
}

#[test]
fn misspelled_unit_suggests_the_closest() {
    assert_eq!(
        error("3 bussiness days"),
        r#"unknown unit "bussiness days" (expected minutes, hours, days, business days, weeks); did you mean "business days"?"#
    );
    assert!(error("2 hourz").ends_with(r#"did you mean "hours"?"#));
    assert!(error("1 wek").ends_with(r#"did you mean "week"?"#));
    assert!(error("3 business").ends_with(r#"did you mean "business days"?"#));
    assert!(error("3 Dyas").starts_with(r#"unknown unit "Dyas""#));
}

#[test]
fn unrelated_unit_gets_no_suggestion() {
    assert_eq!(
        error("3 fortnights"),
        r#"unknown unit "fortnights" (expected minutes, hours, days, business days, weeks)"#
    );
}

#[test]
fn words_without_a_number_are_not_a_wait() {
    assert_eq!(
        error("soon"),
        r#""soon" is not a wait (write a number and a unit, e.g. "2 days" or "3 business days")"#
    );
    assert!(error("days").starts_with(r#""days" is not a wait"#));
}

#[test]
fn empty_wait_is_refused() {
    for input in ["", "   "] {
        assert!(error(input).starts_with("the wait is empty"), "{input:?}");
    }
}

#[test]
fn negative_wait_is_refused() {
    assert!(error("-3 days").contains("is negative"));
    assert!(error("- 1 hour").contains("is negative"));
}

#[test]
fn fractional_wait_suggests_a_smaller_unit() {
    assert_eq!(
        error("1.5 days"),
        r#""1.5 days" is not a whole number; write "36 hours" instead"#
    );
    assert!(error("0.5 hours").ends_with(r#"write "30 minutes" instead"#));
    assert!(error("1.5 weeks").ends_with(r#"write "252 hours" instead"#));
    assert!(error("2.0 days").ends_with(r#"write "2 days" instead"#));
    assert!(error(".25h").ends_with(r#"write "15 minutes" instead"#));
}

#[test]
fn fractional_wait_without_exact_smaller_unit_says_whole_units() {
    assert!(error("1.5 business days").contains("waits count whole units"));
    assert!(error("0.5 minutes").contains("waits count whole units"));
    assert!(error("1.5").contains("waits count whole units"));
}

#[test]
fn too_large_wait_is_refused() {
    assert!(error("10001 days").contains("at most 10000"));
    assert!(error("99999999999999999999999999 minutes").contains("at most 10000"));
}

#[test]
fn number_without_unit_is_refused_with_an_example() {
    assert_eq!(
        error("3"),
        r#""3" has no unit (write e.g. "3 days" or "3 business days")"#
    );
}

#[test]
fn months_seconds_and_compound_waits_explain_themselves() {
    assert!(error("1 month").contains("write weeks or days"));
    assert!(error("30 seconds").contains("whole minutes"));
    assert!(error("2 hours 30 minutes").contains("one number and one unit"));
    assert!(error("1,000 minutes").contains("comma"));
}

#[test]
fn serializes_as_canonical_text() {
    let json = serde_json::to_string(&wait(3, WaitUnit::BusinessDays)).unwrap();
    assert_eq!(json, r#""3 business days""#);
}

#[test]
fn deserializes_text_and_bare_zero() {
    let parsed: Wait = serde_json::from_str(r#""2h""#).unwrap();
    assert_eq!(parsed, wait(2, WaitUnit::Hours));
    let zero: Wait = serde_json::from_str("0").unwrap();
    assert_eq!(zero, Wait::ZERO);
}

#[test]
fn deserializing_a_bad_wait_carries_the_message() {
    let err = serde_json::from_str::<Wait>(r#""3 bussiness days""#).unwrap_err();
    assert!(
        err.to_string().contains(r#"did you mean "business days"?"#),
        "{err}"
    );
    let err = serde_json::from_str::<Wait>("3").unwrap_err();
    assert!(err.to_string().contains("has no unit"), "{err}");
    let err = serde_json::from_str::<Wait>("1.5").unwrap_err();
    assert!(err.to_string().contains("not a whole number"), "{err}");
}

fn any_unit() -> impl Strategy<Value = WaitUnit> {
    prop::sample::select(WaitUnit::ALL.to_vec())
}

proptest! {
    #[test]
    fn parse_never_panics(input in ".*") {
        let _ = input.parse::<Wait>();
    }

    #[test]
    fn parse_never_panics_on_wait_like_text(
        input in r"[ -]?[0-9]{0,12}([.,][0-9]{0,4})? ?(minutes?|hours?|h|m|d|days?|business[ -]days?|weeks?|w|bd|xyz|İ|ß)?[ 0-9a-z]{0,6}"
    ) {
        let _ = input.parse::<Wait>();
    }

    #[test]
    fn display_parses_back_to_the_same_wait(amount in 0..=MAX_AMOUNT, unit in any_unit()) {
        let original = wait(amount, unit);
        let parsed: Wait = original.to_string().parse().unwrap();
        if amount == 0 {
            prop_assert_eq!(parsed, Wait::ZERO);
        } else {
            prop_assert_eq!(parsed, original);
        }
    }

    #[test]
    fn serde_round_trips(amount in 1..=MAX_AMOUNT, unit in any_unit()) {
        let original = wait(amount, unit);
        let json = serde_json::to_string(&original).unwrap();
        prop_assert_eq!(serde_json::from_str::<Wait>(&json).unwrap(), original);
    }

    #[test]
    fn errors_are_never_empty(input in ".*") {
        if let Err(e) = input.parse::<Wait>() {
            prop_assert!(!e.message.is_empty());
        }
    }
}

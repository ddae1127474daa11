use chrono::{TimeDelta, TimeZone};
use chrono_tz::America::New_York;
use chrono_tz::Asia::Kolkata;
use chrono_tz::Europe::Berlin;
use chrono_tz::Pacific::Chatham;

use super::*;
use crate::schedule::wait::MAX_AMOUNT;

fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0)
        .single()
        .expect("test instants are valid")
}

/// The instant the wall clock in `tz` shows this time; it must exist exactly once.
fn wall(tz: Tz, y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    tz.with_ymd_and_hms(y, m, d, h, min, 0)
        .single()
        .expect("test wall-clock times are unambiguous")
        .to_utc()
}

pub(super) fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("test dates are valid")
}

fn window(days: Weekdays, hours: &str) -> SendWindow {
    let (start, end) = SendWindow::parse_hours(hours).expect("test hours are valid");
    SendWindow {
        days,
        start,
        end,
        ..SendWindow::business_hours()
    }
}

fn with_holidays(holidays: &[NaiveDate]) -> SendWindow {
    SendWindow {
        holidays: holidays.iter().copied().collect(),
        ..SendWindow::business_hours()
    }
}

pub(super) fn wait(amount: u32, unit: WaitUnit) -> Wait {
    Wait { amount, unit }
}

pub(super) fn days(items: &[&str]) -> Result<Weekdays, WindowError> {
    Weekdays::parse_list(&items.iter().map(|s| s.to_string()).collect::<Vec<_>>())
}

pub(super) const UTC: Tz = chrono_tz::UTC;

// 2026-03-13 is a Friday, 2026-03-16 a Monday.

#[test]
fn opening_skips_weekend_and_holiday() {
    let window = with_holidays(&[date(2026, 3, 16)]);
    let friday_evening = utc(2026, 3, 13, 17, 30);
    assert_eq!(
        window.next_opening(UTC, friday_evening),
        Some(utc(2026, 3, 17, 9, 0))
    );
}

#[test]
fn before_start_moves_to_start_same_day() {
    let window = SendWindow::business_hours();
    assert_eq!(
        window.next_opening(UTC, utc(2026, 3, 11, 7, 15)),
        Some(utc(2026, 3, 11, 9, 0))
    );
}

#[test]
fn after_end_moves_to_next_days_start() {
    let window = SendWindow::business_hours();
    for at in [utc(2026, 3, 11, 17, 0), utc(2026, 3, 11, 23, 59)] {
        assert_eq!(window.next_opening(UTC, at), Some(utc(2026, 3, 12, 9, 0)));
    }
}

#[test]
fn inside_the_window_opens_at_once() {
    let window = SendWindow::business_hours();
    let at = utc(2026, 3, 11, 12, 34) + TimeDelta::nanoseconds(5);
    assert!(window.is_open(UTC, at));
    assert_eq!(window.next_opening(UTC, at), Some(at));
}

#[test]
fn window_is_open_from_start_until_just_before_end() {
    let window = SendWindow::business_hours();
    assert!(window.is_open(UTC, utc(2026, 3, 11, 9, 0)));
    assert!(!window.is_open(UTC, utc(2026, 3, 11, 8, 59)));
    assert!(window.is_open(UTC, utc(2026, 3, 11, 16, 59)));
    assert!(!window.is_open(UTC, utc(2026, 3, 11, 17, 0)));
    assert!(!window.is_open(UTC, utc(2026, 3, 14, 12, 0)), "Saturday");
}

#[test]
fn spring_forward_keeps_the_local_start_in_new_york() {
    // New York moves from EST (-5) to EDT (-4) at 02:00 on Sunday 2026-03-08.
    let every_day = window(Weekdays::ALL, "09:00-17:00");
    assert_eq!(
        every_day.next_opening(New_York, utc(2026, 3, 7, 23, 0)),
        Some(utc(2026, 3, 8, 13, 0))
    );
    let weekdays = SendWindow::business_hours();
    assert_eq!(
        weekdays.next_opening(New_York, utc(2026, 3, 6, 11, 0)),
        Some(utc(2026, 3, 6, 14, 0)),
        "Friday before the change opens at 09:00 EST"
    );
    assert_eq!(
        weekdays.next_opening(New_York, utc(2026, 3, 7, 1, 0)),
        Some(utc(2026, 3, 9, 13, 0)),
        "Monday after the change opens at 09:00 EDT"
    );
}

#[test]
fn fall_back_keeps_the_local_start_in_berlin() {
    // Berlin moves from CEST (+2) to CET (+1) at 03:00 on Sunday 2026-10-25.
    let every_day = window(Weekdays::ALL, "09:00-17:00");
    assert_eq!(
        every_day.next_opening(Berlin, utc(2026, 10, 24, 5, 0)),
        Some(utc(2026, 10, 24, 7, 0))
    );
    assert_eq!(
        every_day.next_opening(Berlin, utc(2026, 10, 24, 16, 0)),
        Some(utc(2026, 10, 25, 8, 0))
    );
}

#[test]
fn start_skipped_by_spring_forward_opens_at_the_change() {
    let window = window(Weekdays::ALL, "02:30-05:00");
    assert_eq!(
        window.next_opening(New_York, utc(2026, 3, 7, 17, 0)),
        Some(utc(2026, 3, 8, 7, 0)),
        "03:00 EDT, the first instant after the gap"
    );
}

#[test]
fn start_repeated_by_fall_back_opens_at_its_first_occurrence() {
    let window = window(Weekdays::ALL, "02:30-05:00");
    assert_eq!(
        window.next_opening(Berlin, utc(2026, 10, 24, 10, 0)),
        Some(utc(2026, 10, 25, 0, 30)),
        "02:30 CEST"
    );
}

#[test]
fn clock_falling_back_into_the_window_reopens_it() {
    // 01:00-02:30 is open until 02:30 CEST, shut until 03:00 CEST, then the clock goes back to
    // 02:00 CET, inside the window again.
    let window = window(Weekdays::ALL, "01:00-02:30");
    let shut = utc(2026, 10, 25, 0, 45);
    assert!(!window.is_open(Berlin, shut));
    assert_eq!(
        window.next_opening(Berlin, shut),
        Some(utc(2026, 10, 25, 1, 0))
    );
}

#[test]
fn one_day_across_dst_keeps_local_time() {
    let window = SendWindow::business_hours();
    let saturday_10_est = wall(New_York, 2026, 3, 7, 10, 0);
    assert_eq!(
        window.apply_wait(New_York, saturday_10_est, wait(1, WaitUnit::Days)),
        wall(New_York, 2026, 3, 8, 10, 0)
    );
    assert_eq!(
        window.apply_wait(New_York, saturday_10_est, wait(24, WaitUnit::Hours)),
        wall(New_York, 2026, 3, 8, 11, 0),
        "hours are elapsed time"
    );
    let saturday_10_cest = wall(Berlin, 2026, 10, 24, 10, 0);
    assert_eq!(
        window.apply_wait(Berlin, saturday_10_cest, wait(1, WaitUnit::Days)),
        utc(2026, 10, 25, 9, 0)
    );
}

#[test]
fn one_day_onto_a_skipped_time_moves_to_the_end_of_the_gap() {
    let window = SendWindow::business_hours();
    let from = wall(New_York, 2026, 3, 7, 2, 30);
    assert_eq!(
        window.apply_wait(New_York, from, wait(1, WaitUnit::Days)),
        utc(2026, 3, 8, 7, 0)
    );
}

#[test]
fn one_week_keeps_local_time() {
    let window = SendWindow::business_hours();
    let from = wall(New_York, 2026, 3, 2, 10, 0);
    assert_eq!(
        window.apply_wait(New_York, from, wait(1, WaitUnit::Weeks)),
        wall(New_York, 2026, 3, 9, 10, 0)
    );
}

#[test]
fn minutes_and_hours_are_elapsed_time() {
    let window = SendWindow::business_hours();
    let from = utc(2026, 3, 11, 10, 0);
    assert_eq!(
        window.apply_wait(UTC, from, wait(30, WaitUnit::Minutes)),
        utc(2026, 3, 11, 10, 30)
    );
    assert_eq!(
        window.apply_wait(UTC, from, wait(2, WaitUnit::Hours)),
        utc(2026, 3, 11, 12, 0)
    );
}

#[test]
fn friday_plus_one_business_day_is_monday() {
    let window = SendWindow::business_hours();
    assert_eq!(
        window.apply_wait(
            UTC,
            utc(2026, 3, 13, 15, 0),
            wait(1, WaitUnit::BusinessDays)
        ),
        utc(2026, 3, 16, 15, 0)
    );
}

#[test]
fn weekend_plus_one_business_day_is_monday() {
    let window = SendWindow::business_hours();
    let one = wait(1, WaitUnit::BusinessDays);
    assert_eq!(
        window.apply_wait(UTC, utc(2026, 3, 14, 11, 0), one),
        utc(2026, 3, 16, 11, 0)
    );
    assert_eq!(
        window.apply_wait(UTC, utc(2026, 3, 15, 11, 0), one),
        utc(2026, 3, 16, 11, 0)
    );
    assert_eq!(
        window.apply_wait(
            UTC,
            utc(2026, 3, 14, 11, 0),
            wait(2, WaitUnit::BusinessDays)
        ),
        utc(2026, 3, 17, 11, 0)
    );
}

#[test]
fn business_days_skip_a_holiday() {
    let window = with_holidays(&[date(2026, 3, 16)]);
    assert_eq!(
        window.apply_wait(
            UTC,
            utc(2026, 3, 13, 15, 0),
            wait(1, WaitUnit::BusinessDays)
        ),
        utc(2026, 3, 17, 15, 0)
    );
}

#[test]
fn holiday_on_a_weekend_does_not_delay_business_days() {
    let window = with_holidays(&[date(2026, 3, 14)]);
    assert_eq!(
        window.apply_wait(
            UTC,
            utc(2026, 3, 13, 15, 0),
            wait(1, WaitUnit::BusinessDays)
        ),
        utc(2026, 3, 16, 15, 0)
    );
}

#[test]
fn five_business_days_is_one_week() {
    let window = SendWindow::business_hours();
    assert_eq!(
        window.apply_wait(UTC, utc(2026, 3, 11, 8, 0), wait(5, WaitUnit::BusinessDays)),
        utc(2026, 3, 18, 8, 0)
    );
}

#[test]
fn business_days_keep_local_time_across_dst() {
    let window = SendWindow::business_hours();
    let friday_15_est = wall(New_York, 2026, 3, 6, 15, 0);
    assert_eq!(
        window.apply_wait(New_York, friday_15_est, wait(1, WaitUnit::BusinessDays)),
        wall(New_York, 2026, 3, 9, 15, 0)
    );
}

#[test]
fn window_with_no_days_never_opens() {
    let window = SendWindow {
        days: Weekdays::NONE,
        ..SendWindow::business_hours()
    };
    assert_eq!(window.next_opening(UTC, utc(2026, 3, 11, 10, 0)), None);
    assert_eq!(
        window.due_at(UTC, utc(2026, 3, 11, 10, 0), wait(1, WaitUnit::Days)),
        None
    );
}

#[test]
fn window_with_only_holidays_for_three_years_never_opens() {
    let mondays = (0..=160).map(|week| date(2026, 3, 16) + Days::new(7 * week));
    let window = SendWindow {
        days: Weekdays::NONE.with(Weekday::Mon),
        holidays: mondays.collect(),
        ..SendWindow::business_hours()
    };
    assert_eq!(window.next_opening(UTC, utc(2026, 3, 11, 10, 0)), None);
}

#[test]
fn window_opens_after_a_long_run_of_holidays() {
    let mondays = (0..100).map(|week| date(2026, 3, 16) + Days::new(7 * week));
    let window = SendWindow {
        days: Weekdays::NONE.with(Weekday::Mon),
        holidays: mondays.collect(),
        ..SendWindow::business_hours()
    };
    let first_free_monday = date(2026, 3, 16) + Days::new(7 * 100);
    assert_eq!(
        window.next_opening(Berlin, utc(2026, 3, 11, 10, 0)),
        resolve(Berlin, first_free_monday.and_time(window.start))
    );
}

#[test]
fn kolkata_half_hour_offset_works() {
    // IST is +05:30 all year: 09:00 is 03:30 UTC.
    let window = SendWindow::business_hours();
    assert_eq!(
        window.next_opening(Kolkata, utc(2026, 3, 11, 0, 0)),
        Some(utc(2026, 3, 11, 3, 30))
    );
    assert!(!window.is_open(Kolkata, utc(2026, 3, 11, 3, 29)));
    assert!(window.is_open(Kolkata, utc(2026, 3, 11, 11, 29)));
    assert!(!window.is_open(Kolkata, utc(2026, 3, 11, 11, 30)));
}

#[test]
fn chatham_quarter_hour_offset_works() {
    // Chatham is +12:45 in the southern winter and +13:45 in summer.
    let window = SendWindow::business_hours();
    assert_eq!(
        window.next_opening(Chatham, utc(2026, 7, 14, 12, 0)),
        Some(utc(2026, 7, 14, 20, 15)),
        "Wednesday 2026-07-15 09:00 +12:45"
    );
    assert_eq!(
        window.next_opening(Chatham, utc(2026, 1, 13, 12, 0)),
        Some(utc(2026, 1, 13, 19, 15)),
        "Wednesday 2026-01-14 09:00 +13:45"
    );
}

#[test]
fn zone_for_prefers_lead_then_window_then_default() {
    let mut window = SendWindow::business_hours();
    assert_eq!(window.zone_for(None, UTC), UTC);
    window.timezone = Some(Berlin);
    assert_eq!(window.zone_for(None, UTC), Berlin);
    assert_eq!(window.zone_for(Some(Kolkata), UTC), Kolkata);
}

#[test]
fn due_at_applies_the_wait_then_waits_for_the_window() {
    let window = SendWindow::business_hours();
    let friday_1630 = wall(New_York, 2026, 3, 6, 16, 30);
    assert_eq!(
        window.due_at(New_York, friday_1630, wait(2, WaitUnit::Hours)),
        Some(wall(New_York, 2026, 3, 9, 9, 0))
    );
    assert_eq!(
        window.due_at(New_York, friday_1630, Wait::ZERO),
        Some(friday_1630)
    );
}

#[test]
fn extreme_instants_and_amounts_do_not_panic() {
    let window = with_holidays(&[date(2026, 3, 16), NaiveDate::MAX, NaiveDate::MIN]);
    let instants = [
        DateTime::<Utc>::MIN_UTC,
        DateTime::<Utc>::MAX_UTC,
        DateTime::<Utc>::MAX_UTC - TimeDelta::days(3),
        DateTime::<Utc>::MIN_UTC + TimeDelta::days(3),
    ];
    for tz in [
        UTC,
        Chatham,
        chrono_tz::Etc::GMTPlus12,
        chrono_tz::Pacific::Kiritimati,
    ] {
        for at in instants {
            for unit in WaitUnit::ALL {
                for amount in [0, 1, MAX_AMOUNT, u32::MAX] {
                    let _ = window.due_at(tz, at, wait(amount, unit));
                }
            }
            let _ = window.is_open(tz, at);
        }
    }
}

#[test]
fn huge_waits_saturate_instead_of_overflowing() {
    let window = with_holidays(&[date(2026, 3, 16)]);
    let from = utc(2026, 3, 11, 10, 0);
    for unit in WaitUnit::ALL {
        let moved = window.apply_wait(Berlin, from, wait(u32::MAX, unit));
        assert!(moved > from, "{unit:?}");
    }
    assert_eq!(
        window.apply_wait(Berlin, DateTime::<Utc>::MAX_UTC, wait(1, WaitUnit::Days)),
        DateTime::<Utc>::MAX_UTC
    );
}

#[test]
fn hours_parse_in_common_forms() {
    let time = |h, m| NaiveTime::from_hms_opt(h, m, 0).unwrap();
    let cases = [
        ("09:00-17:00", (time(9, 0), time(17, 0))),
        ("9:00 - 17:30", (time(9, 0), time(17, 30))),
        ("09-17", (time(9, 0), time(17, 0))),
        ("8.30\u{2013}18.00", (time(8, 30), time(18, 0))),
        ("9am-5pm", (time(9, 0), time(17, 0))),
        ("9:30 am to 12 pm", (time(9, 30), time(12, 0))),
        ("12am-1am", (time(0, 0), time(1, 0))),
        ("00:00-23:59", (time(0, 0), time(23, 59))),
    ];
    for (text, expected) in cases {
        assert_eq!(SendWindow::parse_hours(text), Ok(expected), "{text:?}");
    }
}

#[test]
fn hours_across_midnight_are_refused_with_the_reason() {
    let err = SendWindow::parse_hours("22:00-06:00").unwrap_err();
    assert!(err.message.contains("cannot run across midnight"), "{err}");
    let err = SendWindow::parse_hours("09:00-09:00").unwrap_err();
    assert!(err.message.contains("do not end after they start"), "{err}");
}

#[test]
fn bad_hours_say_what_is_wrong() {
    let err = SendWindow::parse_hours("0900").unwrap_err();
    assert_eq!(
        err.message,
        r#"send hours "0900" are not a range (write them as "09:00-17:00")"#
    );
    let err = SendWindow::parse_hours("09:00-25:00").unwrap_err();
    assert!(
        err.message.contains(r#""25:00" is not a time of day"#),
        "{err}"
    );
    let err = SendWindow::parse_hours("09:00-24:00").unwrap_err();
    assert!(
        err.message.contains(r#"end the window at "23:59""#),
        "{err}"
    );
    for bad in ["9:5-17", "9:60-17", "13pm-14pm", "-17", "nine-five", ""] {
        assert!(SendWindow::parse_hours(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn day_lists_parse_ranges_names_and_groups() {
    use Weekday::*;
    let set = |list: &[Weekday]| list.iter().copied().collect::<Weekdays>();
    assert_eq!(days(&["mon-fri"]), Ok(Weekdays::MON_FRI));
    assert_eq!(days(&["Mon", "Tue", "Thu"]), Ok(set(&[Mon, Tue, Thu])));
    assert_eq!(days(&["monday", "WEDNESDAY"]), Ok(set(&[Mon, Wed])));
    assert_eq!(days(&["sat-sun"]), Ok(set(&[Sat, Sun])));
    assert_eq!(days(&["fri-mon"]), Ok(set(&[Fri, Sat, Sun, Mon])));
    assert_eq!(days(&["mon, wed,fri"]), Ok(set(&[Mon, Wed, Fri])));
    assert_eq!(
        days(&["Monday \u{2013} Thursday"]),
        Ok(set(&[Mon, Tue, Wed, Thu]))
    );
    assert_eq!(days(&["weekdays"]), Ok(Weekdays::MON_FRI));
    assert_eq!(days(&["every day"]), Ok(Weekdays::ALL));
    assert_eq!(days(&["tues", "thurs."]), Ok(set(&[Tue, Thu])));
}

#[test]
fn day_numbers_are_refused_because_tools_disagree() {
    let err = days(&["1", "2"]).unwrap_err();
    assert!(err.message.contains("is a number"), "{err}");
    assert!(
        err.message.contains("tools number week days differently"),
        "{err}"
    );
    assert!(days(&["1-5"]).is_err());
}

#[test]
fn misspelled_day_suggests_the_closest() {
    let err = days(&["thrusday"]).unwrap_err();
    assert!(
        err.message.starts_with(r#"unknown day "thrusday""#),
        "{err}"
    );
    assert!(
        err.message.ends_with(r#"did you mean "thursday"?"#),
        "{err}"
    );
}

#[test]
fn empty_day_list_is_refused() {
    assert!(days(&[]).unwrap_err().message.contains("lists no days"));
    assert!(days(&["", " , "]).is_err());
}

#[test]
fn weekdays_display_compactly() {
    use Weekday::*;
    assert_eq!(Weekdays::MON_FRI.to_string(), "mon-fri");
    assert_eq!(Weekdays::ALL.to_string(), "mon-sun");
    assert_eq!(Weekdays::NONE.to_string(), "no days");
    let set = [Mon, Wed, Fri, Sat, Sun].into_iter().collect::<Weekdays>();
    assert_eq!(set.to_string(), "mon, wed, fri-sun");
}

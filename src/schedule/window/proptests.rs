//! Properties of send windows that must hold for every zone, instant and window.

use chrono::{TimeDelta, TimeZone};
use proptest::prelude::*;

use super::tests::{UTC, date, days, wait};
use super::*;
use crate::schedule::wait::MAX_AMOUNT;

fn any_tz() -> impl Strategy<Value = Tz> {
    prop::sample::select(chrono_tz::TZ_VARIANTS.to_vec())
}

/// Any instant from 1970 up to 2100, to the nanosecond.
fn any_instant() -> impl Strategy<Value = DateTime<Utc>> {
    (0i64..4_102_444_800, 0u32..1_000_000_000).prop_map(|(seconds, nanos)| {
        DateTime::from_timestamp(seconds, nanos).expect("1970..2100 is in range")
    })
}

fn any_window() -> impl Strategy<Value = SendWindow> {
    (
        1u8..=0b111_1111,
        0u32..1439,
        1u32..1440,
        prop::collection::btree_set(0u64..40, 0..6),
    )
        .prop_map(|(bits, start, length, holiday_offsets)| {
            let end = (start + length).min(1439).max(start + 1);
            let minute =
                |m: u32| NaiveTime::from_hms_opt(m / 60, m % 60, 0).expect("minute of day");
            SendWindow {
                days: Weekdays(bits),
                start: minute(start),
                end: minute(end),
                timezone: None,
                // Offsets from a fixed date; the tests below shift them next to their instant.
                holidays: holiday_offsets
                    .into_iter()
                    .map(|offset| date(2000, 1, 1) + Days::new(offset))
                    .collect(),
                countries: Vec::new(),
                lead_holidays: false,
            }
        })
}

/// `window` with its holidays moved to start on `at`'s UTC date, so they matter.
fn holidays_near(mut window: SendWindow, at: DateTime<Utc>) -> SendWindow {
    let shift = (at.date_naive() - date(2000, 1, 1)).num_days();
    window.holidays = window
        .holidays
        .iter()
        .filter_map(|holiday| holiday.checked_add_signed(TimeDelta::days(shift)))
        .collect();
    window
}

fn any_wait() -> impl Strategy<Value = Wait> {
    (
        prop_oneof![0u32..=MAX_AMOUNT, Just(u32::MAX)],
        prop::sample::select(WaitUnit::ALL.to_vec()),
    )
        .prop_map(|(amount, unit)| wait(amount, unit))
}

proptest! {
    #[test]
    fn next_opening_is_open_and_not_before_at(
        tz in any_tz(), at in any_instant(), window in any_window()
    ) {
        let window = holidays_near(window, at);
        let opening = window.next_opening(tz, at);
        prop_assert!(opening.is_some(), "a window with days opens within three years");
        let opening = opening.unwrap();
        prop_assert!(opening >= at);
        prop_assert!(window.is_open(tz, opening), "{opening} in {tz} is not open");
    }

    #[test]
    fn nothing_before_next_opening_is_open(
        tz in any_tz(), at in any_instant(), window in any_window()
    ) {
        let window = holidays_near(window, at);
        let opening = window.next_opening(tz, at).unwrap();
        let mut probe = at;
        while probe < opening {
            prop_assert!(!window.is_open(tz, probe), "{probe} is open before {opening}");
            probe += TimeDelta::minutes(7);
        }
        let just_before = opening - TimeDelta::seconds(1);
        prop_assert!(just_before < at || !window.is_open(tz, just_before));
    }

    #[test]
    fn due_at_never_panics(
        tz in any_tz(), at in any_instant(), window in any_window(), wait in any_wait()
    ) {
        let window = holidays_near(window, at);
        if let Some(due) = window.due_at(tz, at, wait) {
            prop_assert!(due >= at);
        }
    }

    #[test]
    fn apply_wait_never_goes_backward(
        tz in any_tz(), at in any_instant(), window in any_window(), wait in any_wait()
    ) {
        prop_assert!(window.apply_wait(tz, at, wait) >= at);
    }

    #[test]
    fn calendar_days_keep_the_local_time_when_it_exists(
        tz in any_tz(), at in any_instant(), amount in 1u32..400
    ) {
        let window = SendWindow::business_hours();
        let moved = window.apply_wait(tz, at, wait(amount, WaitUnit::Days));
        let local = to_local(tz, at).unwrap();
        let target = local.date() + Days::new(amount.into());
        if let chrono::MappedLocalTime::Single(_) = tz.from_local_datetime(&target.and_time(local.time())) {
            prop_assert_eq!(to_local(tz, moved).unwrap(), target.and_time(local.time()));
        }
    }

    #[test]
    fn business_days_match_counting_day_by_day(
        at in any_instant(), amount in 1u32..60, window in any_window()
    ) {
        let window = holidays_near(window, at);
        let moved = window.apply_wait(UTC, at, wait(amount, WaitUnit::BusinessDays));
        let mut day = at.date_naive();
        let mut left = amount;
        while left > 0 {
            day = day.succ_opt().unwrap();
            if Weekdays::MON_FRI.contains(day.weekday()) && !window.holidays.contains(&day) {
                left -= 1;
            }
        }
        prop_assert_eq!(moved, day.and_time(at.time()).and_utc());
    }

    #[test]
    fn weekdays_display_parses_back(bits in 1u8..=0b111_1111) {
        let original = Weekdays(bits);
        prop_assert_eq!(days(&[&original.to_string()]), Ok(original));
    }

    #[test]
    fn hour_and_day_parsers_never_panic(text in ".*", items in prop::collection::vec(".*", 0..4)) {
        let _ = SendWindow::parse_hours(&text);
        let _ = Weekdays::parse_list(&items);
    }

    #[test]
    fn parsed_hours_start_before_they_end(
        text in r"[0-9]{1,2}(:[0-9]{2})? ?(am|pm)? ?- ?[0-9]{1,2}(:[0-9]{2})? ?(am|pm)?"
    ) {
        if let Ok((start, end)) = SendWindow::parse_hours(&text) {
            prop_assert!(start < end);
        }
    }
}

/// A window of a few early-morning hours, where zones change their clocks.
fn any_night_window() -> impl Strategy<Value = SendWindow> {
    (1u8..=0b111_1111, 0u32..300, 1u32..240).prop_map(|(bits, start, length)| {
        let minute = |m: u32| NaiveTime::from_hms_opt(m / 60, m % 60, 0).expect("minute of day");
        SendWindow {
            days: Weekdays(bits),
            start: minute(start),
            end: minute(start + length),
            timezone: None,
            holidays: BTreeSet::new(),
            countries: Vec::new(),
            lead_holidays: false,
        }
    })
}

proptest! {
    #[test]
    fn next_opening_is_exact_around_clock_changes(
        tz in any_tz(),
        search_from in any_instant(),
        shift_seconds in -6 * 3600i64..6 * 3600,
        window in any_night_window(),
    ) {
        let horizon = search_from + TimeDelta::days(400);
        let Some(change) = super::super::local::next_transition(tz, search_from, horizon) else {
            return Ok(());
        };
        let at = change + TimeDelta::seconds(shift_seconds);
        let opening = window.next_opening(tz, at).unwrap();
        prop_assert!(opening >= at && window.is_open(tz, opening));
        let mut probe = at;
        while probe < opening {
            prop_assert!(!window.is_open(tz, probe), "{probe} is open before {opening}");
            probe += TimeDelta::minutes(1);
        }
    }
}

//! Between UTC instants and wall-clock time in a zone, without panicking near chrono's limits.
//!
//! chrono-tz does not expose a zone's transitions, so they are found by probing the offset: zones
//! change their offset at whole seconds and never twice within [`PROBE`], which the tz database
//! bears out.

use chrono::{DateTime, MappedLocalTime, NaiveDateTime, Offset, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;

/// The step at which offsets are sampled to find a transition; shorter than the shortest time a
/// zone keeps one offset.
const PROBE: TimeDelta = TimeDelta::hours(3);

/// The longest stretch of local time a zone skips (Samoa and Kwajalein skipped a whole day when
/// they crossed the date line), with a margin.
const LONGEST_GAP: TimeDelta = TimeDelta::hours(72);

/// The zone's offset from UTC at `at`.
pub(super) fn offset_at(tz: Tz, at: DateTime<Utc>) -> TimeDelta {
    let seconds = tz
        .offset_from_utc_datetime(&at.naive_utc())
        .fix()
        .local_minus_utc();
    TimeDelta::seconds(seconds.into())
}

/// The wall-clock time in `tz` at `at`, or `None` if it falls outside chrono's range.
pub(super) fn to_local(tz: Tz, at: DateTime<Utc>) -> Option<NaiveDateTime> {
    at.naive_utc().checked_add_signed(offset_at(tz, at))
}

/// The instant at which the wall clock in `tz` shows `local`.
///
/// A time skipped by a spring-forward change resolves to the first instant after the gap (the
/// moment of the change); a time repeated by a fall-back change resolves to its earlier
/// occurrence. Either way the result is the first instant at which the clock shows `local` or
/// later. `None` only outside chrono's range.
pub(super) fn resolve(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    earliest(tz, local).or_else(|| after_gap(tz, local))
}

fn earliest(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    match tz.from_local_datetime(&local) {
        MappedLocalTime::Single(at) => Some(at.to_utc()),
        MappedLocalTime::Ambiguous(first, second) => Some(first.min(second).to_utc()),
        MappedLocalTime::None => None,
    }
}

fn exists(tz: Tz, local: NaiveDateTime) -> bool {
    !matches!(tz.from_local_datetime(&local), MappedLocalTime::None)
}

/// The instant the clock jumps over `skipped`, a local time that does not exist in `tz`.
fn after_gap(tz: Tz, skipped: NaiveDateTime) -> Option<DateTime<Utc>> {
    // Whole seconds: the gap starts at one, so truncating stays inside it.
    let mut missing = skipped.checked_sub_signed(TimeDelta::nanoseconds(
        skipped.and_utc().timestamp_subsec_nanos().into(),
    ))?;
    let step = TimeDelta::minutes(30);
    let mut present = missing;
    let mut searched = TimeDelta::zero();
    while !exists(tz, present) {
        if searched >= LONGEST_GAP {
            return None;
        }
        present = present.checked_add_signed(step)?;
        searched += step;
    }
    // The gap ends at a whole second in (missing, present]; halve until it is found.
    while present - missing > TimeDelta::seconds(1) {
        let half = TimeDelta::seconds((present - missing).num_seconds() / 2);
        let middle = missing.checked_add_signed(half)?;
        if exists(tz, middle) {
            present = middle;
        } else {
            missing = middle;
        }
    }
    earliest(tz, present)
}

/// The first instant in `(from, until]` at which the zone's offset differs from its offset at
/// `from`, if there is one.
pub(super) fn next_transition(
    tz: Tz,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let offset = offset_at(tz, from);
    let mut before = from;
    while before < until {
        let probe = before
            .checked_add_signed(PROBE)
            .map_or(until, |probe| probe.min(until));
        if offset_at(tz, probe) != offset {
            return Some(transition_between(tz, before, probe, offset));
        }
        before = probe;
    }
    None
}

/// The transition in `(before, after]`, given that the offset at `before` is `offset` and at
/// `after` is not.
fn transition_between(
    tz: Tz,
    before: DateTime<Utc>,
    after: DateTime<Utc>,
    offset: TimeDelta,
) -> DateTime<Utc> {
    // Transitions happen at whole seconds, so flooring both ends keeps them on their sides.
    let mut low = before.timestamp();
    let mut high = after.timestamp();
    while high - low > 1 {
        let middle = low + (high - low) / 2;
        match DateTime::from_timestamp(middle, 0) {
            Some(at) if offset_at(tz, at) == offset => low = middle,
            Some(_) => high = middle,
            None => return after,
        }
    }
    DateTime::from_timestamp(high, 0).unwrap_or(after)
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    fn local(y: i32, m: u32, d: u32, h: u32, min: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .and_then(|date| date.and_hms_opt(h, min, 0))
            .expect("test dates are valid")
    }

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        local(y, m, d, h, min).and_utc()
    }

    #[test]
    fn skipped_time_resolves_to_the_end_of_the_gap() {
        // New York skips 02:00-03:00 on 2026-03-08; 03:00 EDT is 07:00 UTC.
        let at = resolve(chrono_tz::America::New_York, local(2026, 3, 8, 2, 30));
        assert_eq!(at, Some(utc(2026, 3, 8, 7, 0)));
    }

    #[test]
    fn repeated_time_resolves_to_the_earlier_instant() {
        // Berlin repeats 02:00-03:00 on 2026-10-25; the first 02:30 is CEST, 00:30 UTC.
        let at = resolve(chrono_tz::Europe::Berlin, local(2026, 10, 25, 2, 30));
        assert_eq!(at, Some(utc(2026, 10, 25, 0, 30)));
    }

    #[test]
    fn skipped_whole_day_resolves_to_the_next_midnight() {
        // Samoa skipped 2011-12-30 when it moved across the date line.
        let at = resolve(chrono_tz::Pacific::Apia, local(2011, 12, 30, 10, 0));
        assert_eq!(at, Some(utc(2011, 12, 30, 10, 0)));
        let shown = at.map(|at| at.with_timezone(&chrono_tz::Pacific::Apia).naive_local());
        assert_eq!(shown, Some(local(2011, 12, 31, 0, 0)));
    }

    #[test]
    fn transition_is_found_to_the_second() {
        let tz = chrono_tz::America::New_York;
        let found = next_transition(tz, utc(2026, 3, 1, 0, 0), utc(2026, 3, 20, 0, 0));
        assert_eq!(found, Some(utc(2026, 3, 8, 7, 0)));
        assert_eq!(
            next_transition(tz, utc(2026, 4, 1, 0, 0), utc(2026, 5, 1, 0, 0)),
            None
        );
    }

    #[test]
    fn extremes_do_not_panic() {
        for tz in [chrono_tz::Pacific::Kiritimati, chrono_tz::Etc::GMTPlus12] {
            for at in [DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC] {
                let _ = to_local(tz, at);
                let _ = resolve(tz, at.naive_utc());
            }
            let near_end = DateTime::<Utc>::MAX_UTC - TimeDelta::days(2);
            let _ = next_transition(tz, near_end, DateTime::<Utc>::MAX_UTC);
            let _ = next_transition(tz, DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MIN_UTC);
        }
    }
}

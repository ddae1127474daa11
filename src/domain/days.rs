//! Where a day starts in a time zone (daily caps, digests).

use chrono::{DateTime, Days, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

/// The start of the day containing `at` in `tz`, as unix seconds.
pub fn day_start(tz: Tz, at: DateTime<Utc>) -> i64 {
    let local = at.with_timezone(&tz).date_naive();
    tz.from_local_datetime(&local.and_time(NaiveTime::MIN))
        .earliest()
        .map_or(at.timestamp() - 86_400, |d| d.timestamp())
}

/// The start of the next day after `at` in `tz`.
pub fn next_day_start(tz: Tz, at: DateTime<Utc>) -> i64 {
    let local = at.with_timezone(&tz).date_naive();
    local
        .checked_add_days(Days::new(1))
        .and_then(|d| {
            tz.from_local_datetime(&d.and_time(NaiveTime::MIN))
                .earliest()
        })
        .map_or(at.timestamp() + 86_400, |d| d.timestamp())
}

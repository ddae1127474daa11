//! Pacing: when a mailbox may send its next email. Daily caps with a warm-up ramp, a minimum
//! gap between two sends from one mailbox, and an hourly limit per recipient domain. The
//! [`Pacer`] is filled from the store once per tick and then answers for each due email in
//! order, counting the sends it grants, so one tick never overshoots a limit.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::config::Mailbox;

/// What the pacer says about one email.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// Send now.
    Go,
    /// Not before this instant (unix seconds).
    NotBefore(i64),
}

/// Sends granted so far, per mailbox and per recipient domain.
#[derive(Debug, Clone, Default)]
pub struct Pacer {
    tz: Option<Tz>,
    /// Claims per mailbox today.
    pub today: HashMap<String, i64>,
    /// Each mailbox's last send (the gap counts from it).
    next_free: HashMap<String, i64>,
    /// First send per mailbox.
    first: HashMap<String, i64>,
    /// Claim times per recipient domain in the last hour, oldest first.
    domains: HashMap<String, Vec<i64>>,
    domain_hourly_limit: u32,
    /// Mailboxes paused for their health: nothing of theirs goes out.
    held: HashSet<String>,
}

/// How long a held mailbox's emails wait before they are looked at again.
const HELD_RECHECK: i64 = 3_600;

pub use crate::domain::{day_start, next_day_start};

impl Pacer {
    /// A pacer for a tick. `tz` is the zone whose days the daily caps count.
    pub fn new(
        tz: Tz,
        today: HashMap<String, i64>,
        last: HashMap<String, i64>,
        first: HashMap<String, i64>,
        domains: HashMap<String, Vec<i64>>,
        domain_hourly_limit: u32,
    ) -> Pacer {
        Pacer {
            tz: Some(tz),
            today,
            next_free: last,
            first,
            domains,
            domain_hourly_limit,
            held: HashSet::new(),
        }
    }

    /// Today's cap of a mailbox: its daily cap, or less while it warms up.
    pub fn cap(&self, m: &Mailbox, now: DateTime<Utc>) -> u32 {
        match (&m.pacing.warmup, self.first.get(&m.name)) {
            (Some(w), Some(first)) => {
                let tz = self.tz.unwrap_or(Tz::UTC);
                let days = (day_start(tz, now)
                    - day_start(tz, DateTime::from_timestamp(*first, 0).unwrap_or(now)))
                    / 86_400;
                w.cap_on_day(days, m.daily_cap)
            }
            (Some(w), None) => w.cap_on_day(0, m.daily_cap),
            (None, _) => m.daily_cap,
        }
    }

    /// May `m` send to `domain` now? When yes, the send is counted.
    pub fn ask(&mut self, m: &Mailbox, domain: Option<&str>, now: DateTime<Utc>) -> Pace {
        let t = now.timestamp();
        if self.held.contains(&m.name) {
            // Paused for its health: looked at again in an hour (or when resumed).
            return Pace::NotBefore(t + HELD_RECHECK);
        }
        let tz = self.tz.unwrap_or(Tz::UTC);
        let sent = self.today.get(&m.name).copied().unwrap_or(0);
        if sent >= i64::from(self.cap(m, now)) {
            return Pace::NotBefore(next_day_start(tz, now));
        }
        if m.pacing.min_gap > 0
            && let Some(last) = self.next_free.get(&m.name)
            && t < last + m.pacing.min_gap
        {
            return Pace::NotBefore(last + m.pacing.min_gap);
        }
        if self.domain_hourly_limit > 0
            && let Some(d) = domain
        {
            let times = self.domains.entry(d.to_string()).or_default();
            times.retain(|x| *x > t - 3600);
            if times.len() >= self.domain_hourly_limit as usize {
                return Pace::NotBefore(times[0] + 3600);
            }
        }
        *self.today.entry(m.name.clone()).or_insert(0) += 1;
        self.next_free.insert(m.name.clone(), t);
        if let Some(d) = domain {
            self.domains.entry(d.to_string()).or_default().push(t);
        }
        self.first.entry(m.name.clone()).or_insert(t);
        Pace::Go
    }

    /// A grant that was not used (the claim was lost): gives the slot back.
    /// Holds every email of mailbox `m` (paused for its health).
    pub fn hold(&mut self, m: &str) {
        self.held.insert(m.to_string());
    }

    pub fn give_back(&mut self, m: &str) {
        if let Some(n) = self.today.get_mut(m) {
            *n = (*n - 1).max(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Pacing, Transport, Warmup};
    use crate::lead::Email;

    fn mailbox(cap: u32, gap: i64, warmup: Option<Warmup>) -> Mailbox {
        Mailbox {
            name: "ana".into(),
            from: Email::parse("ana@example.com").unwrap(),
            display_name: None,
            signature: None,
            daily_cap: cap,
            transport: Transport::Outbox { dir: "o".into() },
            imap: None,
            pacing: Pacing {
                min_gap: gap,
                warmup,
                connections: 1,
            },
            dkim: None,
            provider: None,
            notify: None,
            timezone: chrono_tz::UTC,
            working_hours: Default::default(),
            bcc: None,
            oauth: None,
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn pacer(limit: u32) -> Pacer {
        Pacer::new(
            Tz::America__New_York,
            HashMap::new(),
            HashMap::new(),
            HashMap::new(),
            HashMap::new(),
            limit,
        )
    }

    #[test]
    fn daily_cap_defers_to_the_next_local_day() {
        let m = mailbox(2, 0, None);
        let mut p = pacer(0);
        let now = at("2026-03-02T15:00:00Z");
        assert_eq!(p.ask(&m, None, now), Pace::Go);
        assert_eq!(p.ask(&m, None, now), Pace::Go);
        // Midnight in New York is 05:00 UTC in March before DST.
        assert_eq!(
            p.ask(&m, None, now),
            Pace::NotBefore(at("2026-03-03T05:00:00Z").timestamp())
        );
    }

    #[test]
    fn minimum_gap_spaces_sends() {
        let m = mailbox(100, 120, None);
        let mut p = pacer(0);
        let now = at("2026-03-02T15:00:00Z");
        assert_eq!(p.ask(&m, None, now), Pace::Go);
        assert_eq!(p.ask(&m, None, now), Pace::NotBefore(now.timestamp() + 120));
        let later = now + chrono::TimeDelta::seconds(120);
        assert_eq!(p.ask(&m, None, later), Pace::Go);
    }

    #[test]
    fn domain_limit_counts_the_last_hour() {
        let m = mailbox(100, 0, None);
        let mut p = pacer(2);
        let now = at("2026-03-02T15:00:00Z");
        assert_eq!(p.ask(&m, Some("acme.com"), now), Pace::Go);
        assert_eq!(p.ask(&m, Some("acme.com"), now), Pace::Go);
        assert_eq!(
            p.ask(&m, Some("acme.com"), now),
            Pace::NotBefore(now.timestamp() + 3600)
        );
        assert_eq!(p.ask(&m, Some("other.com"), now), Pace::Go);
    }

    #[test]
    fn warmup_caps_a_new_mailbox() {
        let m = mailbox(
            50,
            0,
            Some(Warmup {
                start: 1,
                increase: 1,
            }),
        );
        let mut p = pacer(0);
        let day0 = at("2026-03-02T15:00:00Z");
        assert_eq!(p.ask(&m, None, day0), Pace::Go);
        assert!(matches!(p.ask(&m, None, day0), Pace::NotBefore(_)));
        let day2 = at("2026-03-04T15:00:00Z");
        p.today.clear();
        assert_eq!(p.cap(&m, day2), 3);
    }
}

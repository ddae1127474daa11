//! How mail leaves: the daemon-wide `[sending]` table, and each mailbox's pacing (warm-up
//! ramp, minimum gap between sends, parallel SMTP connections) and DKIM key.

use serde::Deserialize;
use toml::Spanned;

use super::SecretSource;
use super::problems::Problems;

/// `[sending]`: rules for the whole daemon.
#[derive(Debug, Clone)]
pub struct Sending {
    /// A due time that falls outside the send window moves to the next opening plus up to this
    /// many seconds (seeded by lead and step), so a batch does not leave at 09:00:00.
    pub jitter: i64,
    /// At most this many emails an hour to one recipient domain, across all mailboxes (0: no
    /// limit). Protects a prospect's company from a burst out of one sequence.
    pub domain_hourly_limit: u32,
    /// Waits between attempts after a temporary failure (4xx, server unreachable), in seconds;
    /// after the last one the touch fails.
    pub retry_schedule: Vec<i64>,
    /// A follow-up from a watched mailbox goes out only when the mailbox's inbox was read
    /// within this many seconds (and after the previous email); else it waits for a read.
    pub inbox_fresh: i64,
}

impl Default for Sending {
    fn default() -> Self {
        Sending {
            jitter: 20 * 60,
            domain_hourly_limit: 20,
            retry_schedule: DEFAULT_RETRIES.to_vec(),
            inbox_fresh: 5 * 60,
        }
    }
}

/// 1 min, 5 min, 15 min, 1 h, 3 h, 6 h, 12 h, 24 h: about two days of trying, like an MTA.
const DEFAULT_RETRIES: [i64; 8] = [60, 300, 900, 3600, 10_800, 21_600, 43_200, 86_400];

/// `[sending]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSending {
    jitter: Option<Spanned<String>>,
    domain_hourly_limit: Option<u32>,
    retry: Option<Vec<Spanned<String>>>,
    inbox_fresh: Option<Spanned<String>>,
}

/// A mailbox's pacing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pacing {
    /// Seconds between two sends from this mailbox (0: none).
    pub min_gap: i64,
    /// Ramp for a new mailbox: `start` a day, `increase` more each day, up to the daily cap.
    pub warmup: Option<Warmup>,
    /// SMTP connections used in parallel.
    pub connections: usize,
}

impl Default for Pacing {
    fn default() -> Self {
        Pacing {
            min_gap: 0,
            warmup: None,
            connections: 2,
        }
    }
}

/// A warm-up ramp.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Warmup {
    /// Emails on the first day.
    pub start: u32,
    /// Added each following day.
    pub increase: u32,
}

impl Warmup {
    /// The cap on day `day` (0 = the day of the first send), never above `cap`.
    pub fn cap_on_day(&self, day: i64, cap: u32) -> u32 {
        let day = u32::try_from(day.max(0)).unwrap_or(u32::MAX);
        self.start
            .saturating_add(self.increase.saturating_mul(day))
            .min(cap)
    }
}

/// DKIM signing for a mailbox's messages.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DkimSettings {
    /// The selector (`s1` in `s1._domainkey.example.com`).
    pub selector: String,
    /// The signing domain; defaults to the From address's domain.
    pub domain: Option<String>,
    /// The private key (PEM: PKCS#1 or PKCS#8 RSA, or an Ed25519 key as base64).
    pub key: SecretSource,
    /// `rsa` (default) or `ed25519`.
    #[serde(default)]
    pub algorithm: DkimAlgorithm,
}

/// DKIM key type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DkimAlgorithm {
    /// RSA-SHA256.
    #[default]
    Rsa,
    /// Ed25519-SHA256.
    Ed25519,
}

/// Parses a duration written for people: `0`, `90 seconds`, `2 minutes`, `1 hour`, `45s`,
/// `10m`, `2h`, `1 day`. Returns seconds.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    let t = s.trim();
    if t == "0" {
        return Ok(0);
    }
    let split = t
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("{s:?} needs a unit (seconds, minutes, hours, days)"))?;
    let (n, unit) = t.split_at(split);
    let n: i64 = n
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (e.g. \"90 seconds\", \"5 minutes\")"))?;
    let unit = unit.trim().to_ascii_lowercase();
    let per = match unit.as_str() {
        "s" | "sec" | "secs" | "second" | "seconds" => 1,
        "m" | "min" | "mins" | "minute" | "minutes" => 60,
        "h" | "hour" | "hours" => 3600,
        "d" | "day" | "days" => 86_400,
        _ => {
            return Err(format!(
                "{s:?}: unknown unit {unit:?} (expected seconds, minutes, hours or days)"
            ));
        }
    };
    n.checked_mul(per)
        .filter(|v| *v <= 365 * 86_400)
        .ok_or_else(|| format!("{s:?} is too long"))
}

impl RawSending {
    /// Checks the table; problems come back as (byte span, message).
    pub(super) fn resolve(self) -> Result<Sending, Problems> {
        let mut out = Sending::default();
        let mut problems = Vec::new();
        if let Some(j) = &self.jitter {
            match parse_duration(j.get_ref()) {
                Ok(v) => out.jitter = v,
                Err(e) => problems.push((Some(j.span()), format!("sending.jitter: {e}"))),
            }
        }
        if let Some(f) = &self.inbox_fresh {
            match parse_duration(f.get_ref()) {
                // The watcher reads at least every IDLE round (50 s) or poll (30 s).
                Ok(v) if v < 60 => problems.push((
                    Some(f.span()),
                    "sending.inbox_fresh: at least 1 minute (the watcher reads about once a minute)"
                        .to_string(),
                )),
                Ok(v) => out.inbox_fresh = v,
                Err(e) => problems.push((Some(f.span()), format!("sending.inbox_fresh: {e}"))),
            }
        }
        if let Some(l) = self.domain_hourly_limit {
            out.domain_hourly_limit = l;
        }
        if let Some(r) = &self.retry {
            let mut v = Vec::new();
            for item in r {
                match parse_duration(item.get_ref()) {
                    Ok(0) => problems.push((
                        Some(item.span()),
                        "sending.retry: a wait of 0 would hammer the server".to_string(),
                    )),
                    Ok(s) => v.push(s),
                    Err(e) => problems.push((Some(item.span()), format!("sending.retry: {e}"))),
                }
            }
            out.retry_schedule = v;
        }
        if problems.is_empty() {
            Ok(out)
        } else {
            Err(problems)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_people_write_them() {
        assert_eq!(parse_duration("0"), Ok(0));
        assert_eq!(parse_duration("90 seconds"), Ok(90));
        assert_eq!(parse_duration("2 minutes"), Ok(120));
        assert_eq!(parse_duration("10m"), Ok(600));
        assert_eq!(parse_duration("1 Hour"), Ok(3600));
        assert!(parse_duration("5").unwrap_err().contains("needs a unit"));
        assert!(
            parse_duration("5 fortnights")
                .unwrap_err()
                .contains("unknown unit")
        );
        assert!(parse_duration("99999999999999 days").is_err());
    }

    #[test]
    fn warmup_ramps_to_the_cap() {
        let w = Warmup {
            start: 10,
            increase: 5,
        };
        assert_eq!(w.cap_on_day(0, 50), 10);
        assert_eq!(w.cap_on_day(3, 50), 25);
        assert_eq!(w.cap_on_day(30, 50), 50);
    }
}

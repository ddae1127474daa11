//! `[enrollment]`: who may join a sequence. A lead is in one exclusive sequence at a time
//! (`exclusive`, which a sequence may turn off for itself), is not contacted by a new sequence
//! within `recontact_after` of the end of one that emailed them or anyone at their company,
//! and at most `max_active_per_account` leads of one company are in sequences at once. The
//! rules are decided by `policy::admit`; `--force` (the API's `force`) overrides them.

use serde::Deserialize;
use toml::Spanned;

use super::problems::Problems;
use super::sending::parse_duration;

/// The enrollment rules of config.toml.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Enrollment {
    /// Sequences are exclusive unless they say `exclusive: false`: a lead active (or paused)
    /// in one exclusive sequence is not enrolled into another.
    pub exclusive: bool,
    /// Seconds after the end of an enrollment that emailed the lead (or anyone at the same
    /// account) before a new sequence may enroll them; None: no interval.
    pub recontact_after: Option<i64>,
    /// The most leads of one account with an open enrollment; None: no cap.
    pub max_active_per_account: Option<u32>,
}

impl Default for Enrollment {
    fn default() -> Self {
        Enrollment {
            exclusive: true,
            recontact_after: None,
            max_active_per_account: None,
        }
    }
}

/// `[enrollment]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEnrollment {
    exclusive: Option<bool>,
    recontact_after: Option<Spanned<String>>,
    max_active_per_account: Option<Spanned<i64>>,
}

impl RawEnrollment {
    /// The rules, or what is wrong with them (each naming its key).
    pub(super) fn resolve(self) -> (Enrollment, Problems) {
        let mut out = Enrollment::default();
        let mut problems = Vec::new();
        if let Some(e) = self.exclusive {
            out.exclusive = e;
        }
        if let Some(r) = &self.recontact_after {
            match parse_duration(r.get_ref()) {
                Ok(0) => {}
                Ok(v) => out.recontact_after = Some(v),
                Err(e) => problems.push((
                    Some(r.span()),
                    format!("enrollment.recontact_after: {e}; e.g. \"30 days\""),
                )),
            }
        }
        if let Some(n) = &self.max_active_per_account {
            match u32::try_from(*n.get_ref()) {
                Ok(v) if (1..=1_000_000).contains(&v) => out.max_active_per_account = Some(v),
                _ => problems.push((
                    Some(n.span()),
                    format!(
                        "enrollment.max_active_per_account = {}: must be a whole number from 1 to 1000000",
                        n.get_ref()
                    ),
                )),
            }
        }
        (out, problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(text: &str) -> (Enrollment, Vec<String>) {
        let raw: RawEnrollment = toml::from_str(text).expect("toml");
        let (e, ps) = raw.resolve();
        (e, ps.into_iter().map(|(_, m)| m).collect())
    }

    #[test]
    fn defaults_are_exclusive_without_interval_or_cap() {
        assert_eq!(resolve("").0, Enrollment::default());
        assert!(Enrollment::default().exclusive);
    }

    #[test]
    fn values_are_read_and_bad_ones_named() {
        let (e, ps) =
            resolve("exclusive = false\nrecontact_after = \"30 days\"\nmax_active_per_account = 2");
        assert!(ps.is_empty(), "{ps:?}");
        assert!(!e.exclusive);
        assert_eq!(e.recontact_after, Some(30 * 86_400));
        assert_eq!(e.max_active_per_account, Some(2));
        let (_, ps) = resolve("recontact_after = \"30 dayz\"\nmax_active_per_account = 0");
        assert_eq!(ps.len(), 2, "{ps:?}");
        assert!(ps[0].starts_with("enrollment.recontact_after: "), "{ps:?}");
        assert!(ps[1].contains("from 1 to 1000000"), "{ps:?}");
    }
}

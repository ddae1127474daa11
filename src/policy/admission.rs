//! Who may join a sequence: config.toml's `[enrollment]` rules and the sequences' own
//! `exclusive:`, applied to what the store knows of a lead and its account. One pure function,
//! [`admit`], decides for every way a lead comes in (`enroll`, `leads import --sequence`, the
//! API, routing's intake); the store gathers the facts inside the enrolling transaction and
//! applies the answer.

use std::collections::BTreeMap;
use std::fmt;

use crate::catalog::Catalog;
use crate::config::Enrollment;

/// The rules in force for one enrollment run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrollRules {
    /// Whether a sequence that does not say is exclusive.
    pub default_exclusive: bool,
    /// Sequences that say `exclusive:` themselves.
    pub exclusive: BTreeMap<String, bool>,
    /// Seconds after a contacted enrollment ends before a new sequence may enroll the lead or
    /// anyone at its account.
    pub recontact_after: Option<i64>,
    /// The most leads of one account in open enrollments.
    pub max_active_per_account: Option<u32>,
}

impl EnrollRules {
    /// No rule at all: only suppression and "already in this sequence" hold a lead back.
    pub const OPEN: EnrollRules = EnrollRules {
        default_exclusive: false,
        exclusive: BTreeMap::new(),
        recontact_after: None,
        max_active_per_account: None,
    };

    /// The rules of config.toml with the catalog's sequences' own `exclusive:`.
    pub fn new(config: &Enrollment, catalog: &Catalog) -> EnrollRules {
        EnrollRules {
            default_exclusive: config.exclusive,
            exclusive: catalog
                .sequences
                .values()
                .filter_map(|s| Some((s.id.clone(), s.exclusive?)))
                .collect(),
            recontact_after: config.recontact_after,
            max_active_per_account: config.max_active_per_account,
        }
    }

    /// Whether `sequence` keeps its leads out of other exclusive sequences (a sequence gone
    /// from the catalog follows the default).
    pub fn is_exclusive(&self, sequence: &str) -> bool {
        self.exclusive
            .get(sequence)
            .copied()
            .unwrap_or(self.default_exclusive)
    }

    /// Whether any rule could refuse a lead (else the store gathers no facts).
    pub fn any(&self) -> bool {
        self.default_exclusive
            || self.exclusive.values().any(|e| *e)
            || self.recontact_after.is_some()
            || self.max_active_per_account.is_some()
    }

    /// Whether the rules need the lead's account (interval across it, or the cap).
    pub fn need_account(&self) -> bool {
        self.recontact_after.is_some() || self.max_active_per_account.is_some()
    }
}

/// What the store knows of one lead when it is about to be enrolled.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnrollFacts {
    /// The sequences of the lead's open (active or paused) enrollments.
    pub open: Vec<String>,
    /// The latest end of an enrollment of the lead that emailed them (unix seconds).
    pub lead_finished: Option<i64>,
    /// The lead's account (company domain); None for a free-mail address.
    pub account: Option<String>,
    /// The latest end of an enrollment of anyone at the account that emailed them.
    pub account_finished: Option<i64>,
    /// Other leads of the account in open enrollments (this batch's new ones included).
    pub account_active: u32,
}

/// Why a lead is not enrolled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The lead is active (or paused) in another exclusive sequence.
    AlreadyActive {
        /// That sequence.
        active_in: String,
    },
    /// The lead, or someone at its account, finished a sequence too recently.
    RecentlyContacted {
        /// When enrolling becomes possible (unix seconds).
        possible_from: i64,
        /// The account, when it was someone else there who was contacted.
        account: Option<String>,
    },
    /// The account has as many leads in sequences as the cap allows.
    AccountCap {
        /// The account.
        account: String,
        /// The cap.
        cap: u32,
    },
}

impl Refusal {
    /// Its name in output, counts and the API: `already-active`, `recently-contacted`,
    /// `account-cap`.
    pub fn name(&self) -> &'static str {
        match self {
            Refusal::AlreadyActive { .. } => "already-active",
            Refusal::RecentlyContacted { .. } => "recently-contacted",
            Refusal::AccountCap { .. } => "account-cap",
        }
    }

    /// The refusal as `enroll --json` and the API tell it: `result` (its [`name`]) and its
    /// detail (`active_in`; `possible_from` in RFC 3339 and the `account`; `account` and
    /// `cap`).
    ///
    /// [`name`]: Refusal::name
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::json!({ "result": self.name() });
        match self {
            Refusal::AlreadyActive { active_in } => v["active_in"] = active_in.as_str().into(),
            Refusal::RecentlyContacted {
                possible_from,
                account,
            } => {
                v["possible_from"] = rfc3339(*possible_from).into();
                if let Some(a) = account {
                    v["account"] = a.as_str().into();
                }
            }
            Refusal::AccountCap { account, cap } => {
                v["account"] = account.as_str().into();
                v["cap"] = (*cap).into();
            }
        }
        v
    }
}

/// Unix seconds as RFC 3339 UTC (`2025-11-08T08:53:20Z`).
fn rfc3339(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::AlreadyActive { active_in } => write!(f, "already active in {active_in}"),
            Refusal::RecentlyContacted {
                possible_from,
                account,
            } => {
                let when = chrono::DateTime::from_timestamp(*possible_from, 0)
                    .map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
                    .unwrap_or_default();
                match account {
                    Some(a) => write!(
                        f,
                        "someone at {a} was contacted recently; possible from {when}"
                    ),
                    None => write!(f, "contacted recently; possible from {when}"),
                }
            }
            Refusal::AccountCap { account, cap } => {
                write!(
                    f,
                    "{account} is at its cap of leads in sequences (max_active_per_account = {cap})"
                )
            }
        }
    }
}

/// Whether a lead with `facts` may be enrolled into `sequence` at `now` under `rules`; the
/// first rule that refuses says why, in this order: another exclusive sequence, the re-contact
/// interval (the lead's own, then its account's), the account's cap. A lead already counted
/// at its account (active in a non-exclusive sequence) does not count twice toward the cap.
pub fn admit(
    rules: &EnrollRules,
    sequence: &str,
    facts: &EnrollFacts,
    now: i64,
) -> Result<(), Refusal> {
    if rules.is_exclusive(sequence)
        && let Some(other) = facts
            .open
            .iter()
            .find(|s| *s != sequence && rules.is_exclusive(s))
    {
        return Err(Refusal::AlreadyActive {
            active_in: other.clone(),
        });
    }
    if let Some(after) = rules.recontact_after {
        let own = facts.lead_finished.map(|t| t.saturating_add(after));
        let account = facts.account_finished.map(|t| t.saturating_add(after));
        if let Some(from) = own.filter(|t| *t > now) {
            return Err(Refusal::RecentlyContacted {
                possible_from: from,
                account: None,
            });
        }
        if let Some(from) = account.filter(|t| *t > now) {
            return Err(Refusal::RecentlyContacted {
                possible_from: from,
                account: facts.account.clone(),
            });
        }
    }
    if let (Some(cap), Some(account)) = (rules.max_active_per_account, &facts.account)
        && facts.open.is_empty()
        && facts.account_active >= cap
    {
        return Err(Refusal::AccountCap {
            account: account.clone(),
            cap,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_760_000_000;
    const DAY: i64 = 86_400;

    fn rules() -> EnrollRules {
        EnrollRules {
            default_exclusive: true,
            exclusive: BTreeMap::from([("newsletter".to_string(), false)]),
            recontact_after: Some(30 * DAY),
            max_active_per_account: Some(2),
        }
    }

    fn open(seqs: &[&str]) -> EnrollFacts {
        EnrollFacts {
            open: seqs.iter().map(|s| s.to_string()).collect(),
            account: Some("acme.com".into()),
            ..EnrollFacts::default()
        }
    }

    #[test]
    fn an_exclusive_sequence_refuses_a_lead_active_in_another() {
        let r = admit(&rules(), "founders", &open(&["cold-outbound"]), NOW);
        assert_eq!(
            r,
            Err(Refusal::AlreadyActive {
                active_in: "cold-outbound".into()
            })
        );
        assert_eq!(r.unwrap_err().name(), "already-active");
    }

    #[test]
    fn a_non_exclusive_sequence_neither_blocks_nor_is_blocked() {
        assert_eq!(
            admit(&rules(), "newsletter", &open(&["cold-outbound"]), NOW),
            Ok(())
        );
        assert_eq!(
            admit(&rules(), "founders", &open(&["newsletter"]), NOW),
            Ok(())
        );
        assert_eq!(admit(&EnrollRules::OPEN, "a", &open(&["b"]), NOW), Ok(()));
    }

    #[test]
    fn the_interval_counts_from_the_lead_then_its_account() {
        let mut f = open(&[]);
        f.lead_finished = Some(NOW - 10 * DAY);
        assert_eq!(
            admit(&rules(), "founders", &f, NOW),
            Err(Refusal::RecentlyContacted {
                possible_from: NOW + 20 * DAY,
                account: None
            })
        );
        f.lead_finished = Some(NOW - 40 * DAY);
        f.account_finished = Some(NOW - 29 * DAY);
        assert_eq!(
            admit(&rules(), "founders", &f, NOW),
            Err(Refusal::RecentlyContacted {
                possible_from: NOW + DAY,
                account: Some("acme.com".into())
            })
        );
        f.account_finished = Some(NOW - 30 * DAY);
        assert_eq!(admit(&rules(), "founders", &f, NOW), Ok(()));
    }

    #[test]
    fn the_cap_counts_other_leads_of_the_account() {
        let mut f = open(&[]);
        f.account_active = 2;
        assert_eq!(
            admit(&rules(), "founders", &f, NOW),
            Err(Refusal::AccountCap {
                account: "acme.com".into(),
                cap: 2
            })
        );
        // Already counted there (in a non-exclusive sequence): not a new one.
        f.open = vec!["newsletter".into()];
        assert_eq!(admit(&rules(), "founders", &f, NOW), Ok(()));
        // Free-mail leads have no account.
        let mut f = open(&[]);
        f.account = None;
        f.account_active = 9;
        assert_eq!(admit(&rules(), "founders", &f, NOW), Ok(()));
    }

    #[test]
    fn refusals_tell_their_name_and_detail() {
        let r = Refusal::RecentlyContacted {
            possible_from: NOW,
            account: None,
        };
        assert_eq!(
            r.to_json(),
            serde_json::json!({"result": "recently-contacted", "possible_from": "2025-10-09T08:53:20Z"})
        );
        assert_eq!(
            r.to_string(),
            "contacted recently; possible from 2025-10-09 08:53 UTC"
        );
    }
}

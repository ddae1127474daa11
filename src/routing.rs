//! Lead routing: which rep owns a lead that arrives without one. The rules of config.toml
//! (`[[route]]`) are tried in order; the first that matches names a rep or a group, and a
//! group hands its leads out in turn (weighted, skipping reps at their `max_open` cap).
//!
//! The round robin's cursor lives in the store (`settings`, one counter per group, moved by
//! one atomic statement: [`Store::take_turns`]), so every daemon and CLI run continues the
//! same rotation: shares stay even across runs, and two processes routing at once never take
//! the same turn. A batch takes all its turns at once.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::config::{Condition, Config, Group, Routing, Rule, Target};
use crate::lead::LeadRecord;
use crate::store::{Store, StoreError};

/// What routing did with a batch of leads.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RouteSummary {
    /// Leads given an owner.
    pub routed: u64,
    /// Leads no rule matched (left without an owner).
    pub unmatched: u64,
    /// Leads whose group had every rep at their cap (left without an owner), by group.
    pub capped: BTreeMap<String, u64>,
}

impl RouteSummary {
    /// Whether no lead went through the rules.
    pub fn is_empty(&self) -> bool {
        self.routed == 0 && self.unmatched == 0 && self.capped.is_empty()
    }

    /// Adds another batch's counts.
    pub fn add(&mut self, other: RouteSummary) {
        self.routed += other.routed;
        self.unmatched += other.unmatched;
        for (g, n) in other.capped {
            *self.capped.entry(g).or_default() += n;
        }
    }
}

/// The value of `field` for a lead: a standard field, `domain` (of the address), or a custom
/// column.
fn field<'a>(lead: &'a LeadRecord, name: &str) -> Option<&'a str> {
    match name {
        "email" => Some(lead.email.as_str()),
        "domain" => lead.email.as_str().rsplit_once('@').map(|(_, d)| d),
        "first_name" => lead.first_name.as_deref(),
        "last_name" => lead.last_name.as_deref(),
        "company" => lead.company.as_deref(),
        "title" => lead.title.as_deref(),
        "timezone" => lead.timezone.as_deref(),
        "phone" => lead.phone.as_deref(),
        _ => lead.custom.get(name).map(String::as_str),
    }
}

impl Condition {
    /// Whether the lead's field equals one of the values (ignoring case and outer spaces).
    pub fn holds(&self, lead: &LeadRecord) -> bool {
        field(lead, &self.field)
            .map(|v| v.trim().to_lowercase())
            .is_some_and(|v| self.values.contains(&v))
    }
}

impl Rule {
    /// Whether every condition holds.
    pub fn matches(&self, lead: &LeadRecord) -> bool {
        self.conditions.iter().all(|c| c.holds(lead))
    }
}

impl Routing {
    /// The target of the first rule that matches the lead.
    pub fn target(&self, lead: &LeadRecord) -> Option<&Target> {
        self.rules
            .iter()
            .find(|r| r.matches(lead))
            .map(|r| &r.target)
    }
}

impl Group {
    /// One round of turns: member indexes, each `weight` times, interleaved (smooth weighted
    /// round robin) so that a weight-2 rep does not get two leads in a row when others wait.
    pub fn round(&self) -> Vec<usize> {
        let total: i64 = self.members.iter().map(|m| i64::from(m.weight)).sum();
        let mut current = vec![0i64; self.members.len()];
        let mut out = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
        for _ in 0..total {
            for (c, m) in current.iter_mut().zip(&self.members) {
                *c += i64::from(m.weight);
            }
            let Some(best) = (0..current.len()).max_by_key(|&i| (current[i], -(i as i64))) else {
                break;
            };
            current[best] -= total;
            out.push(best);
        }
        out
    }
}

/// Routes arriving leads (an import's batch, an API request) that come without an owner;
/// leads already stored with an owner keep it. See [`route`] for `enrolling` and `dry_run`.
pub async fn route_arrivals(
    store: &Store,
    config: &Config,
    records: &mut [LeadRecord],
    enrolling: bool,
    dry_run: bool,
    now: i64,
) -> Result<RouteSummary, StoreError> {
    if config.routing.rules.is_empty() {
        return Ok(RouteSummary::default());
    }
    let unowned: Vec<&crate::lead::Email> = records
        .iter()
        .filter(|l| l.owner.is_none())
        .map(|l| &l.email)
        .collect();
    if unowned.is_empty() {
        return Ok(RouteSummary::default());
    }
    let owned = store.owned_among(&unowned).await?;
    let mut to_route: Vec<&mut LeadRecord> = records
        .iter_mut()
        .filter(|l| l.owner.is_none() && !owned.contains(&l.email))
        .collect();
    route(store, config, &mut to_route, enrolling, dry_run, now).await
}

/// Gives an owner to each lead in `leads` whose `owner` is None, by the rules of config.toml.
/// `enrolling`: the leads are about to be enrolled, so each one routed counts toward its
/// rep's open workload for the caps of the rest of the batch. `dry_run`: the group cursors
/// are read, not moved.
pub async fn route(
    store: &Store,
    config: &Config,
    leads: &mut [&mut LeadRecord],
    enrolling: bool,
    dry_run: bool,
    now: i64,
) -> Result<RouteSummary, StoreError> {
    let routing = &config.routing;
    let mut summary = RouteSummary::default();
    let (pending, wanted) = apply_rules(routing, leads, &mut summary);
    if pending.is_empty() {
        return Ok(summary);
    }
    let capped_groups = wanted.keys().any(|g| {
        routing.groups[*g]
            .members
            .iter()
            .any(|m| m.max_open.is_some())
    });
    let mut workload = if capped_groups {
        store.open_workload().await?
    } else {
        HashMap::new()
    };
    let mut cursors: HashMap<&str, (u64, Vec<usize>)> = HashMap::new();
    for (g, n) in wanted {
        let first = if dry_run {
            store.peek_turns(g).await?
        } else {
            store.take_turns(g, n, now).await?
        };
        cursors.insert(g, (first, routing.groups[g].round()));
    }
    for (i, group) in pending {
        let (turn, round) = cursors
            .get_mut(group.name.as_str())
            .expect("a cursor was taken for every group a lead goes to");
        let start = *turn;
        *turn += 1;
        let len = round.len() as u64;
        // The rep whose turn it is, or the next one under their cap.
        let chosen = (0..len)
            .map(|k| &group.members[round[((start + k) % len) as usize]])
            .find(|m| {
                m.max_open
                    .is_none_or(|cap| workload.get(&m.rep).copied().unwrap_or(0) < u64::from(cap))
            });
        match chosen {
            Some(m) => {
                leads[i].owner = Some(m.rep.clone());
                summary.routed += 1;
                if enrolling {
                    *workload.entry(m.rep.clone()).or_default() += 1;
                }
            }
            None => *summary.capped.entry(group.name.clone()).or_default() += 1,
        }
    }
    Ok(summary)
}

/// Gives each unowned lead that a rule sends to a rep that rep, and counts the leads no rule
/// matches. Returns the leads a rule sends to a group (by index, with the group), and how many
/// turns each group needs.
fn apply_rules<'r>(
    routing: &'r Routing,
    leads: &mut [&mut LeadRecord],
    summary: &mut RouteSummary,
) -> (Vec<(usize, &'r Group)>, BTreeMap<&'r str, u64>) {
    let mut pending: Vec<(usize, &Group)> = Vec::new();
    let mut wanted: BTreeMap<&str, u64> = BTreeMap::new();
    for (i, lead) in leads.iter_mut().enumerate() {
        if lead.owner.is_some() {
            continue;
        }
        match routing.target(lead) {
            None => summary.unmatched += 1,
            Some(Target::Rep(rep)) => {
                lead.owner = Some(rep.clone());
                summary.routed += 1;
            }
            Some(Target::Group(g)) => {
                let Some(group) = routing.groups.get(g) else {
                    summary.unmatched += 1;
                    continue;
                };
                *wanted.entry(group.name.as_str()).or_default() += 1;
                pending.push((i, group));
            }
        }
    }
    (pending, wanted)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::lead::Email;

    fn config(routes: &str) -> Config {
        let text = format!(
            "[[mailbox]]\nname = \"ana\"\nfrom = \"ana@example.com\"\noutbox = \"o\"\n\
             [[mailbox]]\nname = \"ben\"\nfrom = \"ben@example.com\"\noutbox = \"o\"\n\
             [[mailbox]]\nname = \"cara\"\nfrom = \"cara@example.com\"\noutbox = \"o\"\n{routes}"
        );
        Config::parse(
            &text,
            "config.toml",
            Path::new("config.toml"),
            Path::new("/"),
        )
        .unwrap_or_else(|d| panic!("{d:?}"))
    }

    fn lead(custom: &[(&str, &str)]) -> LeadRecord {
        LeadRecord {
            email: Email::parse("x@acme.com").unwrap(),
            first_name: None,
            last_name: None,
            company: Some("Acme".into()),
            title: None,
            timezone: None,
            phone: None,
            owner: None,
            custom: custom
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    const RULES: &str = "[[route]]\nmatch = { territory = \"EMEA\" }\nto = \"ana\"\n\
         [[route]]\nmatch = { industry = [\"fintech\", \"banking\"], territory = \"NA\" }\ngroup = \"enterprise\"\n\
         [[route]]\ngroup = \"everyone\"\n\
         [groups]\nenterprise = [\"ben\", { rep = \"cara\", weight = 2 }]\neveryone = [\"ana\", \"ben\"]\n";

    #[test]
    fn a_rule_matches_a_custom_column_ignoring_case() {
        let c = config(RULES);
        let t = c.routing.target(&lead(&[("territory", " emea ")]));
        assert_eq!(t, Some(&Target::Rep("ana".into())));
    }

    #[test]
    fn every_key_of_a_match_must_hold_and_any_value_of_a_list_will_do() {
        let c = config(RULES);
        let both = lead(&[("territory", "NA"), ("industry", "Banking")]);
        assert_eq!(
            c.routing.target(&both),
            Some(&Target::Group("enterprise".into()))
        );
        let one = lead(&[("industry", "fintech")]);
        assert_eq!(
            c.routing.target(&one),
            Some(&Target::Group("everyone".into()))
        );
    }

    #[test]
    fn standard_fields_and_the_domain_can_be_matched() {
        let c = config(
            "[[route]]\nmatch = { company = \"ACME\", domain = \"acme.com\" }\nto = \"cara\"\n",
        );
        assert_eq!(
            c.routing.target(&lead(&[])),
            Some(&Target::Rep("cara".into()))
        );
        let mut other = lead(&[]);
        other.company = Some("Globex".into());
        assert_eq!(c.routing.target(&other), None);
    }

    #[test]
    fn a_weighted_round_interleaves_reps_in_proportion() {
        let c = config(RULES);
        let round = c.routing.groups["enterprise"].round();
        assert_eq!(round.len(), 3);
        assert_eq!(round.iter().filter(|&&i| i == 1).count(), 2);
        assert_eq!(round.iter().filter(|&&i| i == 0).count(), 1);
    }

    #[test]
    fn config_errors_name_the_line() {
        let text = "[[mailbox]]\nname = \"ana\"\nfrom = \"ana@example.com\"\noutbox = \"o\"\n\
             [[route]]\nto = \"anna\"\n\
             [[route]]\ngroup = \"sales\"\n\
             [groups]\nempty = []\nteam = [\"ana\", { rep = \"zed\" }, { rep = \"ana\", weight = 0 }]\n";
        let err = Config::parse(
            text,
            "config.toml",
            Path::new("config.toml"),
            Path::new("/"),
        )
        .unwrap_err();
        let all: Vec<String> = err.iter().map(ToString::to_string).collect();
        let has = |prefix: &str, text: &str| {
            all.iter()
                .any(|s| s.starts_with(prefix) && s.contains(text))
        };
        assert!(
            has("config.toml:6:", "\"anna\" is not a mailbox"),
            "{all:#?}"
        );
        assert!(has("config.toml:8:", "unknown group \"sales\""), "{all:#?}");
        assert!(
            has("config.toml:10:", "group \"empty\" is empty"),
            "{all:#?}"
        );
        assert!(
            has("config.toml:11:", "\"zed\" is not a mailbox"),
            "{all:#?}"
        );
        assert!(has("config.toml:11:", "weight must be"), "{all:#?}");
    }

    #[test]
    fn a_misspelt_member_key_names_the_group_line_and_the_keys() {
        let text = "[[mailbox]]\nname = \"ana\"\nfrom = \"ana@example.com\"\noutbox = \"o\"\n\
             [groups]\nteam = [\n  \"ana\",\n  { rep = \"ana\", wieght = 2 },\n]\n";
        let err = Config::parse(
            text,
            "config.toml",
            Path::new("config.toml"),
            Path::new("/"),
        )
        .unwrap_err();
        let s = err[0].to_string();
        // The line of the group (toml reports an untagged value at its list).
        assert!(s.starts_with("config.toml:6:"), "{s}");
        assert!(s.contains("keys: rep, weight, max_open"), "{s}");
    }
}

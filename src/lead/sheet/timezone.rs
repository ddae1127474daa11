//! Checking a lead's time zone against the IANA database, with a suggestion when it is close.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::LazyLock;

use chrono_tz::{TZ_VARIANTS, Tz};

/// Lowest similarity (normalized Damerau-Levenshtein, 0..=1) for a did-you-mean suggestion.
const SUGGEST_THRESHOLD: f64 = 0.8;

/// Zone names keyed by their lowercase spelling with spaces as underscores.
static BY_LOOSE_NAME: LazyLock<HashMap<String, &'static str>> = LazyLock::new(|| {
    TZ_VARIANTS
        .iter()
        .map(|tz| (loose(tz.name()), tz.name()))
        .collect()
});

/// Names people put in a time-zone column that are not IANA zones but have an obvious one:
/// US abbreviations and Windows (Outlook) zone names, keyed by their lowercase letters and
/// digits only.
const COMMON_NAMES: &[(&str, &str)] = &[
    ("pst", "America/Los_Angeles"),
    ("pdt", "America/Los_Angeles"),
    ("pacifictime", "America/Los_Angeles"),
    ("pacificstandardtime", "America/Los_Angeles"),
    ("edt", "America/New_York"),
    ("easterntime", "America/New_York"),
    ("easternstandardtime", "America/New_York"),
    ("cst", "America/Chicago"),
    ("cdt", "America/Chicago"),
    ("centraltime", "America/Chicago"),
    ("centralstandardtime", "America/Chicago"),
    ("mdt", "America/Denver"),
    ("mountaintime", "America/Denver"),
    ("mountainstandardtime", "America/Denver"),
    ("bst", "Europe/London"),
    ("gmtstandardtime", "Europe/London"),
    ("cest", "Europe/Berlin"),
    ("westeuropestandardtime", "Europe/Berlin"),
    ("centraleuropeanstandardtime", "Europe/Warsaw"),
    ("centraleuropestandardtime", "Europe/Budapest"),
    ("romancestandardtime", "Europe/Paris"),
    ("aest", "Australia/Sydney"),
    ("ausestandardtime", "Australia/Sydney"),
    ("jst", "Asia/Tokyo"),
    ("tokyostandardtime", "Asia/Tokyo"),
    ("indiastandardtime", "Asia/Kolkata"),
    ("chinastandardtime", "Asia/Shanghai"),
];

fn loose(name: &str) -> String {
    name.trim().to_lowercase().replace(' ', "_")
}

/// The canonical IANA name for `text` (`Europe/Berlin` for `europe/berlin` or `Europe/Berlin`),
/// or `None` when it names no zone.
pub(super) fn canonical_zone(text: &str) -> Option<&'static str> {
    if let Ok(tz) = Tz::from_str(text) {
        return Some(tz.name());
    }
    BY_LOOSE_NAME.get(&loose(text)).copied()
}

/// The zone the author of `text` most likely meant, if one is close enough to say so.
pub(super) fn suggest_zone(text: &str) -> Option<&'static str> {
    let letters: String = text
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect();
    if let Some((_, zone)) = COMMON_NAMES.iter().find(|(name, _)| *name == letters) {
        return Some(zone);
    }
    let wanted = loose(text);
    let city_only = !wanted.contains('/');
    let mut best: Option<(f64, &'static str)> = None;
    for (candidate, name) in BY_LOOSE_NAME.iter() {
        let mut score = strsim::normalized_damerau_levenshtein(&wanted, candidate);
        if city_only && let Some((_, city)) = candidate.rsplit_once('/') {
            score = score.max(strsim::normalized_damerau_levenshtein(&wanted, city));
        }
        let better = match best {
            None => true,
            Some((best_score, best_name)) => {
                score > best_score || (score == best_score && *name < best_name)
            }
        };
        if better {
            best = Some((score, name));
        }
    }
    best.filter(|(score, _)| *score >= SUGGEST_THRESHOLD)
        .map(|(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_and_case_insensitive_names_are_canonicalized() {
        assert_eq!(canonical_zone("Europe/Berlin"), Some("Europe/Berlin"));
        assert_eq!(canonical_zone("europe/berlin"), Some("Europe/Berlin"));
        assert_eq!(canonical_zone("AMERICA/NEW YORK"), Some("America/New_York"));
        assert_eq!(canonical_zone("UTC"), Some("UTC"));
    }

    #[test]
    fn non_zones_are_rejected() {
        assert_eq!(canonical_zone("Mars/Base"), None);
        assert_eq!(canonical_zone("PST"), None);
        assert_eq!(canonical_zone("+01:00"), None);
    }

    #[test]
    fn close_misspellings_get_a_suggestion() {
        assert_eq!(suggest_zone("Europe/Berln"), Some("Europe/Berlin"));
        assert_eq!(suggest_zone("America/NewYork"), Some("America/New_York"));
        assert_eq!(suggest_zone("Berlin"), Some("Europe/Berlin"));
        assert_eq!(suggest_zone("New York"), Some("America/New_York"));
        assert_eq!(suggest_zone("PST"), Some("America/Los_Angeles"));
        assert_eq!(
            suggest_zone("Pacific Standard Time"),
            Some("America/Los_Angeles")
        );
    }

    #[test]
    fn far_off_names_get_no_suggestion() {
        assert_eq!(suggest_zone("Mars/Base"), None);
        assert_eq!(suggest_zone("next tuesday"), None);
    }
}

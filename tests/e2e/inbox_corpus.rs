//! The classifier on the corpus of real machine mail in tests/fixtures/bounces (flufl.bounce,
//! Mail::DeliveryStatus::BounceParser, sisimai's set-of-emails; see SOURCES.md there), scored
//! against sisimai's answers (expected.json) as `scripts/bounce-score` does. The figures are
//! issue 15's goals: a bounce seen as a bounce ≥ 97%, hard vs soft right ≥ 90% (hard =
//! userunknown, hostunknown, hasmoved, notaccept), and mail that is no bounce (a delivery
//! report, a complaint, an auto-reply, a challenge) never taken for a bounce or a reply ≥ 90%.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde_json::Value;

use crate::support::repo;

const HARD: &[&str] = &["userunknown", "hostunknown", "hasmoved", "notaccept"];
const NOT_BOUNCE: &[&str] = &["delivered", "feedback", "vacation", "challenge"];

/// How many of how many.
#[derive(Default)]
struct Score {
    ok: usize,
    of: usize,
    misses: Vec<String>,
}

impl Score {
    fn count(&mut self, ok: bool, what: impl FnOnce() -> String) {
        self.of += 1;
        if ok {
            self.ok += 1;
        } else {
            self.misses.push(what());
        }
    }

    fn at_least(&self, name: &str, percent: usize) -> Option<String> {
        (self.ok * 100 < self.of * percent).then(|| {
            format!(
                "{name}: {}/{} is below {percent}%; missed:\n    {}",
                self.ok,
                self.of,
                self.misses.join("\n    ")
            )
        })
    }
}

/// `(kind, reason)` of a message of the corpus, classified through the library.
fn classify(raw: &[u8]) -> (String, String) {
    let Ok(mail) = drumbeat::inbox::parse(raw) else {
        return ("unparsed".into(), String::new());
    };
    let received = NaiveDate::from_ymd_opt(2026, 3, 2).expect("a valid date");
    let c = serde_json::to_value(drumbeat::inbox::classify(&mail, received))
        .expect("a classification serializes");
    let text = |k: &str| c[k].as_str().unwrap_or_default().to_string();
    (text("kind"), text("reason"))
}

#[test]
fn real_bounces_are_classified_as_sisimai_does_within_the_goals() {
    let dir = repo().join("tests/fixtures/bounces");
    let expected: BTreeMap<String, Value> = serde_json::from_str(
        &std::fs::read_to_string(dir.join("expected.json")).expect("expected.json"),
    )
    .expect("expected.json is JSON");
    let (mut seen, mut hard_soft, mut no_bounce) =
        (Score::default(), Score::default(), Score::default());
    for (file, want) in &expected {
        let Some(reason) = want["reason"].as_str() else {
            continue;
        };
        let raw = std::fs::read(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let (kind, got) = classify(&raw);
        let is_bounce = kind == "bounce-hard" || kind == "bounce-soft";
        let miss = || format!("{file}: sisimai {reason}, got {kind} {got}");
        if NOT_BOUNCE.contains(&reason) {
            no_bounce.count(!is_bounce && kind != "reply", miss);
            continue;
        }
        seen.count(is_bounce, miss);
        if is_bounce {
            let right = HARD.contains(&reason) == (kind == "bounce-hard");
            hard_soft.count(right, miss);
        }
    }
    assert!(seen.of >= 150, "the corpus holds {} bounces", seen.of);
    assert!(
        no_bounce.of >= 10,
        "the corpus holds {} others",
        no_bounce.of
    );
    let failures: Vec<String> = [
        seen.at_least("a bounce seen as a bounce", 97),
        hard_soft.at_least("hard vs soft right", 90),
        no_bounce.at_least("no bounce taken for a bounce or a reply", 90),
    ]
    .into_iter()
    .flatten()
    .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

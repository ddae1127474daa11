//! The classifier on the corpus of real machine mail in tests/fixtures/bounces (flufl.bounce,
//! Mail::DeliveryStatus::BounceParser, sisimai's set-of-emails; see SOURCES.md there), scored
//! against sisimai's answers (expected.json) as `scripts/bounce-score` does. The figures are
//! issue 15's goals: a bounce seen as a bounce ≥ 97%, hard vs soft right ≥ 90% (hard =
//! userunknown, hostunknown, hasmoved, notaccept), and mail that is no bounce (a delivery
//! report, a complaint, an auto-reply, a challenge) never taken for a bounce or a reply ≥ 90%.
//!
//! `golden.json` beside the corpus holds what `drumbeat classify --json` says of each message
//! (kind, reason, effect), so any change of a verdict shows here; after a deliberate change,
//! `DRUMBEAT_BLESS=1 cargo test --test e2e inbox_corpus` rewrites it (review its diff).

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
fn classify_json_of_every_corpus_message_matches_its_golden_verdict() {
    let dir = repo().join("tests/fixtures/bounces");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .expect("the corpus")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".eml"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 200,
        "the corpus holds {} messages",
        files.len()
    );
    let paths: Vec<String> = files
        .iter()
        .map(|f| format!("tests/fixtures/bounces/{f}"))
        .collect();
    let mut args = vec!["classify", "--json"];
    args.extend(paths.iter().map(String::as_str));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_drumbeat"))
        .args(&args)
        .current_dir(repo())
        .output()
        .expect("run drumbeat classify");
    let rows: Vec<Value> =
        serde_json::from_slice(&out.stdout).expect("classify --json prints JSON");
    let got: BTreeMap<String, Value> = rows
        .iter()
        .map(|r| {
            let file = r["file"].as_str().unwrap_or_default();
            let name = file.rsplit('/').next().unwrap_or_default().to_string();
            let verdict = serde_json::json!({
                "kind": r["kind"], "reason": r["reason"], "effect": r["effect"]
            });
            (name, verdict)
        })
        .collect();
    let golden = dir.join("golden.json");
    if std::env::var("DRUMBEAT_BLESS").as_deref() == Ok("1") {
        let text = serde_json::to_string_pretty(&got).expect("JSON");
        std::fs::write(&golden, format!("{text}\n")).expect("write golden.json");
    }
    let want: BTreeMap<String, Value> = serde_json::from_str(
        &std::fs::read_to_string(&golden).expect("golden.json (DRUMBEAT_BLESS=1 writes it)"),
    )
    .expect("golden.json is JSON");
    let changed: Vec<String> = want
        .iter()
        .filter(|(f, w)| got.get(*f) != Some(w))
        .map(|(f, w)| format!("{f}: want {w}, got {}", got.get(f).unwrap_or(&Value::Null)))
        .collect();
    assert_eq!(got.len(), want.len(), "messages classified vs golden");
    assert!(
        changed.is_empty(),
        "{} verdicts changed:\n{}",
        changed.len(),
        changed.join("\n")
    );
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

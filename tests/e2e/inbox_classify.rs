//! The inbound-mail classifier against the golden corpus in tests/fixtures/mail: each
//! `NNN-name.eml` beside `NNN-name.json` (what we expect), run with LF and with CRLF line
//! ends through the library, and `drumbeat classify --json` on two of them.
//!
//! The expected JSON holds the Classification fields (`rule` is matched as a prefix; `text`
//! only when present), optionally `parsed` (fields of the parsed message: threading ids, the
//! bounced original's ids), or `error` (the start of the parse error) for non-messages.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde_json::{Value, json};

use crate::support::{Project, repo};

fn fixture_dir() -> PathBuf {
    repo().join("tests/fixtures/mail")
}

fn fixtures() -> Vec<PathBuf> {
    let mut emls: Vec<PathBuf> = std::fs::read_dir(fixture_dir())
        .expect("tests/fixtures/mail exists")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    emls.sort();
    emls
}

fn expected(eml: &Path) -> Value {
    let path = eml.with_extension("json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: every .eml needs its .json: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// LF and CRLF versions of a fixture (written with LF).
fn line_end_variants(raw: &[u8]) -> [(&'static str, Vec<u8>); 2] {
    let lf: Vec<u8> = String::from_utf8_lossy(raw)
        .replace("\r\n", "\n")
        .into_bytes();
    let crlf = String::from_utf8_lossy(&lf)
        .replace('\n', "\r\n")
        .into_bytes();
    [("LF", lf), ("CRLF", crlf)]
}

fn check(name: &str, raw: &[u8], want: &Value) -> Result<(), String> {
    let parsed = drumbeat::inbox::parse(raw);
    if let Some(err) = want.get("error").and_then(Value::as_str) {
        return match parsed {
            Err(e) if e.to_string().starts_with(err) => Ok(()),
            Err(e) => Err(format!("{name}: error {e:?}, want one starting {err:?}")),
            Ok(m) => Err(format!("{name}: parsed, want error {err:?}: {m:?}")),
        };
    }
    let mail = parsed.map_err(|e| format!("{name}: parse failed: {e}"))?;
    let received = mail
        .date
        .map(|d| d.date_naive())
        .unwrap_or(NaiveDate::from_ymd_opt(2026, 3, 2).expect("a valid date"));
    let c = drumbeat::inbox::classify(&mail, received);
    let got = serde_json::to_value(&c).map_err(|e| e.to_string())?;
    let mut problems = Vec::new();
    for key in [
        "kind",
        "reason",
        "status",
        "recipient",
        "return_date",
        "later_date",
    ] {
        let w = want.get(key).unwrap_or(&Value::Null);
        if got.get(key) != Some(w) {
            problems.push(format!("{key}: got {}, want {w}", got[key]));
        }
    }
    let rule = want["rule"].as_str().unwrap_or_default();
    if !c.rule.starts_with(rule) {
        problems.push(format!(
            "rule: got {:?}, want it to start with {rule:?}",
            c.rule
        ));
    }
    if let Some(text) = want.get("text").and_then(Value::as_str)
        && c.text != text
    {
        problems.push(format!("text: got {:?}, want {text:?}", c.text));
    }
    // A reply's intent and the people a referral names, where the fixture says.
    for key in ["intent", "referred"] {
        if let Some(w) = want.get(key)
            && got.get(key) != Some(w)
        {
            problems.push(format!("{key}: got {}, want {w}", got[key]));
        }
    }
    if let Some(parsed) = want.get("parsed").and_then(Value::as_object) {
        let actual = json!({
            "message_id": mail.message_id,
            "from": mail.from,
            "in_reply_to": mail.in_reply_to,
            "references": mail.references,
            "original_message_ids": mail.original_message_ids,
        });
        for (key, w) in parsed {
            if actual.get(key) != Some(w) {
                problems.push(format!("parsed.{key}: got {}, want {w}", actual[key]));
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{name} (rule {:?}):\n  {}",
            c.rule,
            problems.join("\n  ")
        ))
    }
}

#[test]
fn golden_corpus_classifies_as_expected_with_lf_and_crlf() {
    let emls = fixtures();
    assert!(
        emls.len() >= 25,
        "the corpus in {} has only {} messages",
        fixture_dir().display(),
        emls.len()
    );
    let mut failures = Vec::new();
    for eml in &emls {
        let want = expected(eml);
        let raw = std::fs::read(eml).expect("read fixture");
        let stem = eml.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        for (ends, bytes) in line_end_variants(&raw) {
            if let Err(e) = check(&format!("{stem} ({ends})"), &bytes, &want) {
                failures.push(e);
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} checks failed:\n{}",
        failures.len(),
        emls.len() * 2,
        failures.join("\n")
    );
}

#[test]
fn every_json_has_its_eml() {
    for entry in std::fs::read_dir(fixture_dir()).expect("fixture dir") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|x| x == "json") {
            assert!(
                path.with_extension("eml").exists(),
                "{} has no .eml",
                path.display()
            );
        }
    }
}

#[test]
fn classify_json_prints_one_object_per_file_and_fails_on_a_bad_file() {
    let p = Project::shipped();
    let dir = fixture_dir();
    let bounce = dir.join("020-dsn-postfix-hard.eml");
    let oof = dir.join("012-ooo-de-subject.eml");
    let run = p.ok(&[
        "classify",
        "--json",
        &bounce.to_string_lossy(),
        &oof.to_string_lossy(),
    ]);
    let rows = run.json();
    assert_eq!(
        rows,
        json!([
            {
                "file": bounce.to_string_lossy(),
                "kind": "bounce-hard",
                "reason": "userunknown",
                "effect": "suppress",
                "rule": "RFC 3464 delivery-status: Status 5.1.1",
                "status": "5.1.1",
                "recipient": "ann@example.net",
                "return_date": null,
                "later_date": null,
                "text": rows[0]["text"],
            },
            {
                "file": oof.to_string_lossy(),
                "kind": "auto-reply",
                "reason": "vacation",
                "effect": "pause",
                "rule": "out-of-office subject (de): Abwesenheitsnotiz",
                "status": null,
                "recipient": null,
                "return_date": "2026-03-15",
                "later_date": null,
                "text": rows[1]["text"],
            }
        ])
    );
    assert!(
        rows[1]["text"]
            .as_str()
            .unwrap_or_default()
            .starts_with("Guten Tag,"),
        "{}",
        rows[1]["text"]
    );

    // A missing file and a non-message: exit 1, the others still printed.
    let missing = p.file("nope.eml");
    let notes = dir.join("049-not-a-message.eml");
    let run = p.run(&[
        "classify",
        "--json",
        &oof.to_string_lossy(),
        &missing.to_string_lossy(),
        &notes.to_string_lossy(),
    ]);
    run.code(1);
    let rows = run.json();
    assert_eq!(rows[0]["kind"], "auto-reply");
    assert!(
        rows[1]["error"]
            .as_str()
            .unwrap_or_default()
            .starts_with("cannot read:"),
        "{}",
        rows[1]
    );
    assert!(
        rows[2]["error"]
            .as_str()
            .unwrap_or_default()
            .starts_with("not an email message"),
        "{}",
        rows[2]
    );
    assert!(rows[1].get("kind").is_none(), "{}", rows[1]);
    assert!(
        run.stderr.contains("nope.eml: cannot read:"),
        "{}",
        run.stderr
    );

    // Plain output names the kind, rule and details.
    let run = p.ok(&["classify", &bounce.to_string_lossy()]);
    assert!(
        run.stdout.starts_with(&format!(
            "{}: bounce-hard (RFC 3464 delivery-status: Status 5.1.1)\n  reason: userunknown (hard)\n  effect: suppress\n  status: 5.1.1\n  recipient: ann@example.net\n",
            bounce.display()
        )),
        "{}",
        run.stdout
    );
}

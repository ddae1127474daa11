//! `drumbeat preview --raw`: the exact RFC 5322 message the daemon will send, alone on
//! stdout (CRLF line ends, parseable headers, threading, List-Unsubscribe, and
//! multipart/alternative when the template has HTML).

use std::collections::HashMap;

use chrono::DateTime;
use serde_json::Value;

use crate::support::preview::{MARIA, PRIYA, enrolled, preview_json, steps};

/// The header fields of a message (unfolded), and its body.
fn parse_message(raw: &str) -> (HashMap<String, String>, String) {
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .expect("a blank line ends the header");
    let mut headers: HashMap<String, String> = HashMap::new();
    let mut last: Option<String> = None;
    for line in head.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            let name = last.as_ref().expect("a continuation follows a field");
            headers
                .get_mut(name)
                .expect("field")
                .push_str(&format!(" {}", line.trim()));
            continue;
        }
        let (name, value) = line
            .split_once(':')
            .unwrap_or_else(|| panic!("not a header field: {line:?}"));
        assert!(
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic()),
            "bad field name {name:?}"
        );
        let name = name.to_ascii_lowercase();
        assert!(
            headers
                .insert(name.clone(), value.trim().to_string())
                .is_none(),
            "{name} twice"
        );
        last = Some(name);
    }
    (headers, body.to_string())
}

#[test]
fn raw_prints_a_real_rfc5322_message_with_html_alternative() {
    let p = enrolled();
    let json = preview_json(&p, "cold-outbound", MARIA);
    let run = p.ok(&[
        "preview",
        "cold-outbound",
        "--lead",
        MARIA,
        "--step",
        "intro",
        "--raw",
    ]);
    let raw = &run.stdout;
    assert!(
        !raw.replace("\r\n", "").contains(['\n', '\r']),
        "line ends are not all CRLF"
    );
    assert!(
        run.stderr.contains("=== step intro (email, wait 0) ==="),
        "the headings go to stderr: {}",
        run.stderr
    );
    let (h, body) = parse_message(raw);
    assert_eq!(h["from"], "\"Ana Lopez\" <ana@example.com>");
    assert_eq!(h["to"], "\"Maria Garcia\" <maria.garcia@northwind.example>");
    assert_eq!(h["subject"], "follow-ups at Northwind Traders");
    assert_eq!(
        h["message-id"],
        json["steps"][0]["message_id"].as_str().expect("id")
    );
    // The one-click URL (RFC 8058) on the configured base URL, then the mailbox's address.
    let unsubscribe = &h["list-unsubscribe"];
    assert!(
        unsubscribe.starts_with("<http://127.0.0.1:8025/u/")
            && unsubscribe.ends_with(">, <mailto:ana@example.com?subject=unsubscribe>"),
        "{unsubscribe}"
    );
    assert_eq!(h["list-unsubscribe-post"], "List-Unsubscribe=One-Click");
    assert_eq!(h["mime-version"], "1.0");
    let date = DateTime::parse_from_rfc2822(&h["date"]).expect("an RFC 5322 date");
    let due = DateTime::parse_from_rfc3339(json["steps"][0]["due_at"].as_str().expect("due"))
        .expect("RFC 3339");
    assert_eq!(date, due, "the Date is when the step goes out");
    assert!(!h.contains_key("in-reply-to"));

    let content_type = &h["content-type"];
    assert!(
        content_type.starts_with("multipart/alternative;"),
        "{content_type}"
    );
    let boundary = content_type
        .split("boundary=")
        .nth(1)
        .expect("a boundary")
        .trim_matches('"');
    let parts: Vec<&str> = body.split(&format!("--{boundary}")).collect();
    assert_eq!(parts.len(), 4, "preamble, text, html, epilogue: {body}");
    assert!(parts[1].starts_with("\r\nContent-Type: text/plain; charset=utf-8\r\n"));
    assert!(parts[2].starts_with("\r\nContent-Type: text/html; charset=utf-8\r\n"));
    assert!(parts[1].contains("Northwind Traders"));
    assert!(parts[2].contains("<p>Maria,</p>"));
    assert_eq!(parts[3], "--\r\n");
}

#[test]
fn raw_follow_up_carries_threading_headers_and_plain_text_only() {
    let p = enrolled();
    let v = preview_json(&p, "cold-outbound", PRIYA);
    let intro = &steps(&v)[0];
    assert_eq!(intro["html"], Value::Null, "variant a has no HTML");
    let run = p.ok(&[
        "preview",
        "cold-outbound",
        "--lead",
        PRIYA,
        "--step",
        "value-add",
        "--raw",
    ]);
    let (h, body) = parse_message(&run.stdout);
    let intro_id = intro["message_id"].as_str().expect("id");
    assert_eq!(h["in-reply-to"], intro_id);
    assert_eq!(h["references"], intro_id);
    assert_eq!(
        h["subject"],
        format!("Re: {}", intro["subject"].as_str().expect("subject"))
    );
    assert!(h.contains_key("message-id"));
    assert!(h.contains_key("list-unsubscribe"));
    assert_eq!(h["content-type"], "text/plain; charset=utf-8");
    assert!(
        body.contains("Priya, one more thing, no reply needed."),
        "{body}"
    );
}

#[test]
fn raw_and_json_together_are_a_usage_error() {
    let p = enrolled();
    let run = p.run(&[
        "preview",
        "cold-outbound",
        "--lead",
        MARIA,
        "--raw",
        "--json",
    ]);
    run.code(2);
    assert!(
        run.stderr.contains("'--raw' cannot be used with '--json'"),
        "{}",
        run.stderr
    );
}

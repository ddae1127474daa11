//! The links in every email, end to end: a real daemon serving its HTTP side on loopback, a
//! real HTTP client. One-click unsubscribe (RFC 8058) suppresses and the next step is never
//! sent; a GET only shows the confirm page; forged, truncated or re-signed tokens get a 4xx
//! and change nothing; a click redirects only to the email's own link, and a scanner's click
//! is told from a person's.

use crate::support::daemon::{at, run_once};
use crate::support::http::Served;
use std::time::Duration;

use crate::support::{Project, wait_until};

const LEAD: &str = "ada@lovelace.example";
/// The project's clock: a running daemon starts there, finds the follow-up not yet due, and
/// only `run --once` at T1 sends it. Thursday 2027-03-04, 10:00 in New York.
const T0: &str = "2027-03-04T15:00:00Z";
/// After the second step's due time (a week later).
const T1: &str = "2027-03-11T15:00:00Z";

/// A project with a two-step sequence (an HTML intro with two links, then a follow-up in the
/// thread), one lead, its intro sent to the outbox; the HTTP side on a port of its own.
fn project() -> (Project, String) {
    let p = Project::shipped();
    p.set_clock(T0);
    let base = p.http_base();
    for f in std::fs::read_dir(p.file("sequences"))
        .expect("sequences")
        .flatten()
    {
        std::fs::remove_file(f.path()).expect("remove shipped sequence");
    }
    p.write(
        "sequences/links.yaml",
        "id: links\nname: Links\nwindow:\n  days: [mon-fri]\n  hours: \"09:00-17:00\"\n  timezone: America/New_York\n\
         steps:\n  - id: intro\n    wait: 0\n    template: links/intro\n  - id: follow\n    wait: 2 days\n    template: links/follow\n    thread: true\n",
    );
    p.write(
        "templates/links/intro.txt",
        "---\nsubject: Two links for {{ lead.first_name }}\n---\nReport: https://example.com/report\nLeave: {{ unsubscribe_url }}\n",
    );
    p.write(
        "templates/links/intro.html",
        "<html><body><p>See <a href=\"https://example.com/report?x=1&amp;y=2\">the report</a> \
         and <a href=\"https://example.org/pricing\">pricing</a>.</p>\
         <p><a href=\"{{ unsubscribe_url }}\">Unsubscribe</a></p></body></html>",
    );
    p.write(
        "templates/links/follow.txt",
        "Following up, {{ lead.first_name }}.\n",
    );
    p.write("leads.csv", format!("Email,First Name\n{LEAD},Ada\n"));
    at(
        &p,
        T0,
        &["leads", "import", "leads.csv", "--sequence", "links"],
    );
    let (r, _) = run_once(&p, T0);
    assert_eq!(r["sent"], 1, "{r:#}");
    (p, base)
}

fn outbox(p: &Project) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(p.file("data/outbox"))
        .map(|d| {
            d.flatten()
                .map(|f| std::fs::read_to_string(f.path()).expect("read .eml"))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// A header's value, unfolded.
fn header(eml: &str, name: &str) -> Option<String> {
    let unfolded = eml.replace("\r\n ", " ").replace("\r\n\t", " ");
    unfolded
        .lines()
        .take_while(|l| !l.is_empty())
        .find_map(|l| {
            l.split_once(':')
                .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.trim().to_string())
        })
}

/// The one-click URL from List-Unsubscribe.
fn unsubscribe_url(eml: &str, base: &str) -> String {
    let v = header(eml, "List-Unsubscribe").expect("List-Unsubscribe");
    let url = v
        .split(',')
        .map(|s| s.trim().trim_start_matches('<').trim_end_matches('>'))
        .find(|s| s.starts_with(base))
        .unwrap_or_else(|| panic!("no one-click URL in {v:?}"));
    url.to_string()
}

fn suppressed(p: &Project) -> bool {
    let list = p.ok(&["suppressions", "--json"]).json();
    list.as_array()
        .expect("a list")
        .iter()
        .any(|s| s["value"] == LEAD)
}

#[test]
fn every_email_carries_one_click_unsubscribe_headers_and_the_template_url() {
    let (p, base) = project();
    let eml = &outbox(&p)[0];
    let url = unsubscribe_url(eml, &base);
    assert!(url.starts_with(&format!("{base}/u/")), "{url}");
    assert!(
        !url.contains("ada"),
        "the URL does not expose the address: {url}"
    );
    let v = header(eml, "List-Unsubscribe").expect("List-Unsubscribe");
    assert!(
        v.ends_with("<mailto:ana@example.com?subject=unsubscribe>"),
        "{v}"
    );
    assert_eq!(
        header(eml, "List-Unsubscribe-Post").as_deref(),
        Some("List-Unsubscribe=One-Click")
    );
    // {{ unsubscribe_url }} in the body is the same URL (quoted-printable may wrap it).
    let body = eml.replace("=\r\n", "");
    assert!(body.contains(&url), "{body}");
}

#[test]
fn one_click_post_unsubscribes_and_the_next_step_is_never_sent() {
    let (p, base) = project();
    let url = unsubscribe_url(&outbox(&p)[0], &base);
    let s = Served::start(&p, "links-one-click");
    let r = s
        .client
        .post(&url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .expect("POST");
    assert_eq!(r.status(), 200);
    assert!(suppressed(&p), "the address is suppressed");
    let lead = p.ok(&["lead", "show", LEAD, "--json"]).json();
    assert_eq!(lead["enrollments"][0]["state"], "unsubscribed", "{lead:#}");
    // A second POST (a client retrying) is harmless.
    let again = s
        .client
        .post(&url)
        .body("List-Unsubscribe=One-Click")
        .send();
    assert_eq!(again.expect("POST").status(), 200);
    drop(s);
    // The follow-up's time comes: nothing goes out.
    let (r, _) = run_once(&p, T1);
    assert_eq!(r["sent"], 0, "{r:#}");
    assert_eq!(outbox(&p).len(), 1);
}

#[test]
fn a_get_shows_the_confirm_page_and_unsubscribes_nobody() {
    let (p, base) = project();
    let url = unsubscribe_url(&outbox(&p)[0], &base);
    let s = Served::start(&p, "links-get");
    for _ in 0..3 {
        let r = s.client.get(&url).send().expect("GET");
        assert_eq!(r.status(), 200);
        let html = r.text().expect("body");
        assert!(html.contains("<form method=\"post\">"), "{html}");
    }
    assert!(
        !suppressed(&p),
        "a GET (a mail scanner) must not unsubscribe"
    );
    drop(s);
    let (r, _) = run_once(&p, T1);
    assert_eq!(r["sent"], 1, "the follow-up still goes: {r:#}");
}

#[test]
fn forged_truncated_and_resigned_tokens_get_4xx_and_change_nothing() {
    let (p, base) = project();
    let url = unsubscribe_url(&outbox(&p)[0], &base);
    let token = url.rsplit('/').next().expect("token").to_string();
    let s = Served::start(&p, "links-forged");
    let mut flipped = token.clone().into_bytes();
    let mid = flipped.len() / 2;
    flipped[mid] = if flipped[mid] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).expect("ascii");
    // The same payload signed with another key (what an attacker could make).
    let resigned = drumbeat::http::TokenKey::new(b"not the daemon's key, 32 bytes!!").sign(
        "<nobody@example.com>",
        &drumbeat::http::TokenKind::Unsubscribe,
    );
    for bad in [
        token[..token.len() - 5].to_string(),
        flipped,
        resigned,
        "x".into(),
        "%00".into(),
    ] {
        for r in [
            s.client
                .post(s.url(&format!("/u/{bad}")))
                .body("List-Unsubscribe=One-Click")
                .send(),
            s.client.get(s.url(&format!("/u/{bad}"))).send(),
            s.client.get(s.url(&format!("/c/{bad}"))).send(),
        ] {
            let status = r.expect("answer").status();
            assert!(status.is_client_error(), "{bad}: {status}");
        }
    }
    // An unsubscribe token is not a click token (and the other way round).
    let r = s
        .client
        .get(s.url(&format!("/c/{token}")))
        .send()
        .expect("GET");
    assert!(r.status().is_client_error(), "{}", r.status());
    assert!(!suppressed(&p));
}

/// The tracked links of the HTML part, in order.
fn tracked_links(eml: &str, base: &str) -> Vec<String> {
    let body = eml.replace("=\r\n", "").replace("=3D", "=");
    body.split("href=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .filter(|h| h.starts_with(&format!("{base}/c/")))
        .map(str::to_string)
        .collect()
}

#[test]
fn a_click_goes_only_to_the_emails_own_link_and_scanners_are_told_apart() {
    let (p, base) = project();
    let eml = &outbox(&p)[0];
    let links = tracked_links(eml, &base);
    assert_eq!(
        links.len(),
        2,
        "two tracked links, not the unsubscribe one: {eml}"
    );
    // An hour after delivery: a person reading the email (clicks within seconds of delivery
    // are a scanner's).
    p.set_clock("2027-03-04T16:00:00Z");
    let s = Served::start(&p, "links-click");
    let r = s
        .client
        .get(&links[0])
        .header("User-Agent", "Mozilla/5.0 (Macintosh) Safari/605.1.15")
        .send()
        .expect("GET");
    assert_eq!(r.status(), 302);
    assert_eq!(
        r.headers()["location"],
        "https://example.com/report?x=1&y=2",
        "the URL that was in the email, entities decoded"
    );
    let r = s.client.head(&links[1]).send().expect("HEAD");
    assert_eq!(r.status(), 302);
    assert_eq!(r.headers()["location"], "https://example.org/pricing");
    // The redirect does not wait for the commit; both clicks are in the store moments later,
    // while the daemon runs.
    let mut clicks = Vec::new();
    wait_until("both clicks recorded", Duration::from_secs(10), || {
        clicks = recorded_clicks(&p);
        clicks.len() >= 2
    });
    assert_eq!(
        clicks,
        vec![
            ("https://example.com/report?x=1&y=2".into(), true.into()),
            ("https://example.org/pricing".into(), false.into()),
        ],
    );
}

/// The lead's click events, oldest first: (url, human).
fn recorded_clicks(p: &Project) -> Vec<(serde_json::Value, serde_json::Value)> {
    let events = p.ok(&["lead", "show", LEAD, "--json"]).json();
    events["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["kind"] == "clicked")
        .map(|e| (e["data"]["url"].clone(), e["data"]["human"].clone()))
        .collect()
}

#[test]
fn every_click_answered_before_a_clean_stop_is_recorded() {
    let (p, base) = project();
    let links = tracked_links(&outbox(&p)[0], &base);
    let mut s = Served::start(&p, "links-drain");
    // Eight readers click as fast as they can; SIGTERM comes while they do, so hits are still
    // queued for the writer when the daemon begins to stop. Each reader stops at its first
    // failed request (the server has closed) or after a bounded number of clicks.
    const READERS: usize = 8;
    const MAX_EACH: usize = 2_000;
    let answered = std::sync::atomic::AtomicUsize::new(0);
    let pid = i32::try_from(s.child.id()).expect("pid");
    std::thread::scope(|scope| {
        for r in 0..READERS {
            let (client, link, answered) = (s.client.clone(), &links[r % 2], &answered);
            scope.spawn(move || {
                for _ in 0..MAX_EACH {
                    match client.get(link).send() {
                        Ok(resp) if resp.status() == 302 => {
                            answered.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        }
                        _ => break,
                    }
                }
            });
        }
        wait_until(
            "a few hundred clicks answered",
            Duration::from_secs(30),
            || answered.load(std::sync::atomic::Ordering::SeqCst) >= 300,
        );
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    });
    let mut status = None;
    wait_until(
        "the daemon to exit after SIGTERM",
        Duration::from_secs(30),
        || {
            status = s.child.try_wait().expect("wait");
            status.is_some()
        },
    );
    assert!(status.is_some_and(|st| st.success()), "{status:?}");
    let answered = answered.into_inner();
    assert_eq!(
        recorded_clicks(&p).len(),
        answered,
        "every click that got its redirect is in the store"
    );
}

#[test]
fn a_url_from_lead_data_gets_no_tracked_link_even_with_text_clicks() {
    let (p, base) = project();
    let config = std::fs::read_to_string(p.file("config.toml")).expect("config");
    p.write(
        "config.toml",
        format!("{config}\n[tracking]\ntext_clicks = true\n"),
    );
    p.write(
        "templates/links/follow.txt",
        "Following up, {{ lead.first_name }}: https://example.com/report and {{ lead.website | default(value='no site') }}\n",
    );
    // A web form (or a CSV) gives Ada a website of someone else's choosing.
    p.write(
        "update.csv",
        format!("Email,Website\n{LEAD},https://evil.example/landing\n"),
    );
    at(&p, T0, &["leads", "import", "update.csv"]);
    let (r, _) = run_once(&p, T1);
    assert_eq!(r["sent"], 1, "{r:#}");
    let follow = outbox(&p)
        .into_iter()
        .find(|e| e.contains("Following up"))
        .expect("Ada's follow-up");
    let body = follow.replace("=\r\n", "").replace("=3D", "=");
    let tracked: Vec<&str> = body
        .split_whitespace()
        .filter(|w| w.starts_with(&format!("{base}/c/")))
        .collect();
    assert_eq!(tracked.len(), 1, "only the template's own link: {body}");
    assert!(body.contains("https://evil.example/landing"), "{body}");
    // No click token of any email redirects there.
    let s = Served::start(&p, "links-lead-data");
    let mut clicked = 0;
    for eml in outbox(&p) {
        let body = eml.replace("=\r\n", "").replace("=3D", "=");
        for w in body.split(|c: char| c.is_whitespace() || c == '"') {
            if !w.starts_with(&format!("{base}/c/")) {
                continue;
            }
            let r = s.client.get(w).send().expect("GET");
            assert_eq!(r.status(), 302);
            let to = r.headers()["location"].to_str().expect("location");
            assert!(!to.contains("evil.example"), "{w} redirects to {to}");
            clicked += 1;
        }
    }
    assert!(
        clicked >= 3,
        "the intro's two links and the follow-up's one: {clicked}"
    );
}

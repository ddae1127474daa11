//! `drumbeat report --html` on a seeded store, opened by a real browser: headless Chromium
//! (found through `DRUMBEAT_TEST_CHROMIUM`, set by scripts/testbed) prints the page to PDF and
//! takes a screenshot. Without Chromium the test skips loudly, and fails under CI=true.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Project, Run};

/// The Chromium binary for tests. Without it: a loud skip outside CI, a failure under CI=true.
fn chromium(test: &str) -> Option<String> {
    match std::env::var("DRUMBEAT_TEST_CHROMIUM") {
        Ok(path) if !path.is_empty() => Some(path),
        _ => {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!(
                    "{test}: DRUMBEAT_TEST_CHROMIUM is not set under CI; scripts/testbed must install chromium"
                );
            }
            eprintln!(
                "\n*** SKIPPED {test}: no Chromium (set DRUMBEAT_TEST_CHROMIUM, or run scripts/test which installs it) ***\n"
            );
            None
        }
    }
}

/// 2026-11-02 00:00 in New York (EST), unix seconds: the period's first Monday.
const MONDAY: i64 = 1_794_114_000;
const DAY: i64 = 86_400;

/// A small month: six leads of two reps in the shipped sequences, emails on weekdays, an A/B
/// test on cold-outbound's intro, two replies (one interested, with a meeting), a bounce, a
/// stop by hand, a call done and an overdue task.
fn seed(db: &Path) {
    use sqlx::{Connection, Executor};
    let mut sql = String::from("BEGIN;");
    for i in 1..=6i64 {
        let (owner, sequence) = if i <= 4 {
            ("ana", "cold-outbound")
        } else {
            ("ben", "inbound-fast")
        };
        let arrive = MONDAY + (i - 1) * DAY + 14 * 3600;
        let step = if sequence == "cold-outbound" {
            "intro"
        } else {
            "welcome"
        };
        let variant = if i % 2 == 0 { "a" } else { "b" };
        sql.push_str(&format!(
            "INSERT INTO leads (id, email, owner, source, fingerprint, created_at, updated_at) \
             VALUES ({i}, 'lead{i}@example.com', '{owner}', 'cli', {i}, {arrive}, {arrive});
             INSERT INTO enrollments (id, lead_id, sequence_id, state, mailbox, enrolled_at, updated_at) \
             VALUES ({i}, {i}, '{sequence}', 'active', '{owner}', {arrive}, {arrive});
             INSERT INTO events (at, kind, lead_id, mailbox, data) \
             VALUES ({arrive}, 'received', {i}, '{owner}', '{{\"source\":\"cli\"}}');
             INSERT INTO events (at, kind, lead_id, enrollment_id, sequence_id, mailbox) \
             VALUES ({arrive} + 60, 'enrolled', {i}, {i}, '{sequence}', '{owner}');
             INSERT INTO events (at, kind, lead_id, enrollment_id, touch_id, sequence_id, step_id, mailbox, data) \
             VALUES ({arrive} + 3600, 'sent', {i}, {i}, {i}, '{sequence}', '{step}', '{owner}', \
                     '{{\"variant\":\"{variant}\"}}');
             INSERT INTO events (at, kind, lead_id, enrollment_id, touch_id, sequence_id, step_id, mailbox) \
             VALUES ({arrive} + 8 * {DAY}, 'sent', {i}, {i}, {}, '{sequence}', 'bump', '{owner}');",
            i + 100
        ));
    }
    sql.push_str(&format!(
        "INSERT INTO events (at, kind, lead_id, enrollment_id, touch_id, mailbox) VALUES \
           ({MONDAY} + 2 * {DAY}, 'replied', 1, 1, 1, 'ana'),
           ({MONDAY} + 2 * {DAY} + 600, 'reply-handled', 1, 1, 1, 'ana'),
           ({MONDAY} + 4 * {DAY}, 'meeting-booked', 1, 1, 1, 'ana'),
           ({MONDAY} + 6 * {DAY}, 'replied', 5, 5, 5, 'ben'),
           ({MONDAY} + 3 * {DAY}, 'bounced', 3, 3, 3, 'ana');
         UPDATE events SET data = '{{\"outcome\":\"interested\"}}' WHERE kind = 'reply-handled';
         INSERT INTO events (at, kind, lead_id, enrollment_id, mailbox, data) \
           VALUES ({MONDAY} + 5 * {DAY}, 'stopped', 4, 4, 'ana', '{{\"by\":\"hand\"}}');
         INSERT INTO events (at, kind, lead_id, enrollment_id, step_id, mailbox) \
           VALUES ({MONDAY} + 4 * {DAY}, 'task-done', 2, 2, 'call', 'ana');
         INSERT INTO tasks (enrollment_id, lead_id, kind, owner, state, due_at, created_at) \
           VALUES (6, 6, 'call', 'ben', 'open', {MONDAY} + 3 * {DAY}, {MONDAY});
         COMMIT;"
    ));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let url = format!("sqlite://{}", db.display());
        let mut conn = sqlx::sqlite::SqliteConnection::connect(&url)
            .await
            .expect("open the store file");
        conn.execute(sqlx::AssertSqlSafe(sql))
            .await
            .expect("seed the store");
        conn.close().await.expect("close the store");
    });
}

/// Runs `chromium` headless with `args` on `page`, stopping it after a minute.
fn headless(chromium: &str, profile: &Path, args: &[String], page: &Path) {
    let mut child = Command::new(chromium)
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            "--no-pdf-header-footer",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        // Chromium hangs under libfaketime (scripts/test's pass with the clock a year ahead);
        // it only renders a file here, so the real clock is right for it.
        .env_remove("LD_PRELOAD")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("start {chromium}: {e}"));
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait for chromium") {
            assert!(status.success(), "chromium {args:?} failed: {status}");
            return;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium {args:?} did not finish within a minute");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn report_html_opens_and_prints_in_a_real_browser() {
    let test = "report_html_opens_and_prints_in_a_real_browser";
    let Some(chromium) = chromium(test) else {
        return;
    };
    let p = Project::shipped();
    p.ok(&["status"]);
    seed(&p.file("data/drumbeat.db"));
    let page = p.file("report.html");
    let run = Run::from_output(
        p.cmd(&[
            "report",
            "--since",
            "2026-11-01",
            "--until",
            "2026-11-30",
            "--html",
            page.to_str().expect("a UTF-8 path"),
        ])
        .env("DRUMBEAT_NOW", "2026-12-01T14:00:00Z")
        .output()
        .expect("run drumbeat"),
    );
    run.code(0);
    assert!(run.stderr.contains("wrote"), "{}", run.stderr);
    let html = std::fs::read_to_string(&page).expect("the report was written");
    for expected in [
        "Funnel of sequence cold-outbound",
        "Emails sent and replies per day",
        "A/B test of cold-outbound / intro",
        "Follow-through per rep",
        "<th scope=\"row\">ben</th>",
    ] {
        assert!(html.contains(expected), "the page lacks {expected:?}");
    }

    let profile = p.file("chromium-profile");
    let pdf = p.file("report.pdf");
    let png = p.file("report.png");
    headless(
        &chromium,
        &profile,
        &[format!("--print-to-pdf={}", pdf.display())],
        &page,
    );
    headless(
        &chromium,
        &profile,
        &[
            "--window-size=1280,2400".into(),
            format!("--screenshot={}", png.display()),
        ],
        &page,
    );
    let pdf = std::fs::read(&pdf).expect("chromium wrote the PDF");
    assert!(pdf.starts_with(b"%PDF-"), "not a PDF");
    assert!(
        pdf.len() > 20_000,
        "a PDF of {} bytes is too small",
        pdf.len()
    );
    let png = std::fs::read(&png).expect("chromium wrote the screenshot");
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    assert!(
        png.len() > 20_000,
        "a screenshot of {} bytes is too small",
        png.len()
    );
}

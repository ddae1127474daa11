//! The report's facts (`lead_facts`, `email_facts`), on both engines: those kept as events are
//! written, one at a time by the row triggers or a batch at a time by the daemon's recording
//! (PostgreSQL, migration 0027), are those an upgrade computes from the events, and two
//! transactions that email one lead at once each see the other's email.

use drumbeat::report;
use drumbeat::store::{Grouping, Next, SentRecord};

use crate::report::{november, seed, t};
use crate::support::claims::{ME, claimed_intros};
use crate::support::{NOW, StoreCase, for_each_store};

/// The statement of `migrations/ENGINE/{migration}.sql` that makes the facts of what was
/// stored before it (its last statement, an INSERT into `table`).
fn facts_backfill(engine: &str, migration: &str, table: &str) -> String {
    let path = format!(
        "{}/migrations/{engine}/{migration}.sql",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let start = text
        .rfind(&format!("INSERT INTO {table} ("))
        .unwrap_or_else(|| panic!("{path}: no backfill statement"));
    text[start..].to_string()
}

#[tokio::test]
async fn the_facts_kept_as_events_are_written_are_those_an_upgrade_computes() {
    for_each_store("report_facts", |s| async move {
        seed(&s).await;
        // More of what changes a lead's facts, out of order too: dee reassigned twice (the
        // later one wins), a task done for gus after his stop, fay stopped by hand before any
        // touch, ada's first email recorded after her second.
        for (at, kind, lead, mailbox, data) in [
            ("2026-12-02T10:00:00Z", "assigned", 4, "ana", "{}"),
            ("2026-12-02T09:00:00Z", "assigned", 4, "cid", "{}"),
            ("2026-12-03T10:00:00Z", "task-done", 7, "ben", "{}"),
            ("2026-12-04T10:00:00Z", "stopped", 6, "ben", r#"{"by":"hand"}"#),
            ("2026-11-02T14:10:00Z", "sent", 1, "cid", "{}"),
        ] {
            s.exec(&format!(
                "INSERT INTO events (at, kind, lead_id, mailbox, data) VALUES ({}, '{kind}', {lead}, '{mailbox}', '{data}')",
                t(at)
            ))
            .await;
        }
        let all = LEAD_FACTS;
        let kept = s.rows(all).await;
        let of = |lead: &str| {
            kept.iter()
                .find(|r| r[0].as_deref() == Some(lead))
                .unwrap_or_else(|| panic!("{}: no facts for lead {lead}", s.engine))
                .clone()
        };
        let text = |v: &str| Some(v.to_string());
        // dee: ana's on arrival, then ben's, then (Dec 2, 10:00) ana's again.
        assert_eq!(of("4")[4], text("ana"), "{}: {:?}", s.engine, of("4"));
        assert_eq!(of("4")[5], Some(t("2026-12-02T10:00:00Z").to_string()));
        // ada: first emailed at 14:10 by cid, three emails.
        assert_eq!(
            (of("1")[6].clone(), of("1")[7].clone(), of("1")[8].clone()),
            (Some(t("2026-11-02T14:10:00Z").to_string()), text("cid"), text("3")),
            "{}",
            s.engine
        );
        // gus: stopped by hand after two emails, one task done after: three touches.
        assert_eq!((of("7")[8].clone(), of("7")[9].clone()), (text("3"), text("1")));
        // fay: stopped by hand before any touch.
        assert_eq!(of("6")[9], text("1"), "{}", s.engine);

        s.exec("DELETE FROM lead_facts").await;
        s.exec(&facts_backfill(s.engine, "0024_lead_facts", "lead_facts"))
            .await;
        assert_eq!(s.rows(all).await, kept, "{}: backfill vs trigger", s.engine);

        // Emails: ada's, recorded out of order (14:30, Nov 5, then 14:10 by cid), each with
        // when she was last emailed before it, by anyone and from the same mailbox.
        let emails = EMAIL_FACTS;
        let kept = s.rows(emails).await;
        let ada: Vec<_> = s
            .rows("SELECT at, mailbox, prev_any, prev_mailbox FROM email_facts WHERE who = 1 ORDER BY at")
            .await;
        let at = |v: &str| Some(t(v).to_string());
        assert_eq!(
            ada,
            vec![
                vec![at("2026-11-02T14:10:00Z"), text("cid"), None, None],
                vec![
                    at("2026-11-02T14:30:00Z"),
                    text("ana"),
                    at("2026-11-02T14:10:00Z"),
                    None
                ],
                vec![
                    at("2026-11-05T15:00:00Z"),
                    text("ana"),
                    at("2026-11-02T14:30:00Z"),
                    at("2026-11-02T14:30:00Z")
                ],
            ],
            "{}",
            s.engine
        );
        s.exec("DELETE FROM email_facts").await;
        s.exec(&facts_backfill(s.engine, "0025_email_facts", "email_facts"))
            .await;
        assert_eq!(s.rows(emails).await, kept, "{}: backfill vs trigger", s.engine);
    })
    .await;
}

/// What every writer folds, compared with what the migrations compute from the events.
const LEAD_FACTS: &str = "SELECT lead_id, received_at, received_owner, source, assigned_owner, \
    assigned_at, first_sent_at, first_sent_mailbox, touches, short_stop, changed_at \
    FROM lead_facts ORDER BY lead_id";
const EMAIL_FACTS: &str = "SELECT event_id, at, who, mailbox, sequence_id, step_id, variant, \
    prev_any, prev_mailbox, prev_sequence, prev_step, prev_variant FROM email_facts \
    ORDER BY event_id";

/// Both tables made again by their migrations' backfill must be what was kept.
async fn assert_backfill_agrees(s: &StoreCase) {
    for (migration, table, all) in [
        ("0024_lead_facts", "lead_facts", LEAD_FACTS),
        ("0025_email_facts", "email_facts", EMAIL_FACTS),
    ] {
        let kept = s.rows(all).await;
        s.exec(&format!("DELETE FROM {table}")).await;
        s.exec(&facts_backfill(s.engine, migration, table)).await;
        assert_eq!(
            s.rows(all).await,
            kept,
            "{}: {table}: backfill vs kept",
            s.engine
        );
    }
}

/// The daemon's recording of a batch of sends (on PostgreSQL it folds their facts itself, its
/// `sent` events skipping the row trigger): each email counted once, a person's email recorded
/// earlier but sent later given its previous time, the same facts as the backfill's.
#[tokio::test]
async fn sends_recorded_a_batch_at_a_time_fold_into_the_same_facts() {
    for_each_store("report_facts_batch", |s| async move {
        let addresses = ["ada@example.com", "bob@example.com", "cy@example.com"];
        let (leased, touches) = claimed_intros(&s, &addresses).await;
        let ada = leased[0].0.lead.0;
        // Another writer's email to ada, 100 s after the batch's (a second daemon whose clock
        // is ahead), recorded first, one row at a time.
        s.exec(&format!(
            "INSERT INTO events (at, kind, lead_id, sequence_id, step_id, mailbox, data) \
             VALUES ({}, 'sent', {ada}, 'other', 'intro', 'rep2', '{{}}')",
            NOW + 100
        ))
        .await;
        let sent = |t: i64| SentRecord {
            touch: t,
            response: "250 ok".into(),
            new_thread: true,
            next: Next::Finished,
            at: NOW,
            copy: None,
        };
        // Ada's and bob's with the next claims (none), as the scheduler does; cy's alone.
        let both: Vec<_> = touches[..2].iter().map(|t| sent(*t)).collect();
        s.record_sent_then_claim(&both, ME, &[], NOW)
            .await
            .expect("record");
        s.record_sent_many(&[sent(touches[2])]).await.expect("record");
        let ada_emails = s
            .rows(&format!(
                "SELECT at, mailbox, prev_any, prev_mailbox, prev_sequence FROM email_facts \
                 WHERE who = {ada} ORDER BY at"
            ))
            .await;
        let text = |v: &str| Some(v.to_string());
        let at = |v: i64| Some(v.to_string());
        assert_eq!(
            ada_emails,
            vec![
                vec![at(NOW), text("rep"), None, None, None],
                vec![at(NOW + 100), text("rep2"), at(NOW), None, None],
            ],
            "{}",
            s.engine
        );
        assert_eq!(
            s.int("SELECT COUNT(*) FROM email_facts").await,
            4,
            "{}: each email once",
            s.engine
        );
        assert_eq!(
            s.rows(&format!(
                "SELECT first_sent_at, first_sent_mailbox, touches FROM lead_facts WHERE lead_id = {ada}"
            ))
            .await,
            vec![vec![at(NOW), text("rep"), text("2")]],
            "{}",
            s.engine
        );
        assert_backfill_agrees(&s).await;
    })
    .await;
}

/// How a transaction folds the facts of its `sent` event.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Fold {
    /// The row trigger, at commit (here made to run at once).
    Trigger,
    /// Itself, as the daemon does on PostgreSQL: the trigger skipped, `sent_facts_fold` called.
    Batch,
}

/// Two daemons email one lead at once, in two transactions: the second to commit folds its
/// email after the first's is stored and reads it as the lead's previous email, so the lead
/// counts once in "emailed" (each reading none would count it twice), whichever way each
/// folds.
#[tokio::test]
async fn two_emails_to_one_lead_committed_at_once_each_see_the_other() {
    let test = "two_emails_to_one_lead_committed_at_once_each_see_the_other";
    let Some(server) = crate::support::pg_server(test) else {
        return;
    };
    for folds in [
        (Fold::Trigger, Fold::Trigger),
        (Fold::Batch, Fold::Batch),
        (Fold::Trigger, Fold::Batch),
        (Fold::Batch, Fold::Trigger),
    ] {
        two_emails_at_once(&server, folds).await;
    }
}

/// The statements of a transaction that emails ada from `mailbox` at `at` and folds its facts
/// now, the `fold` way.
fn email_and_fold(at: &str, mailbox: &str, fold: Fold) -> Vec<String> {
    let insert = format!(
        "INSERT INTO events (at, kind, lead_id, sequence_id, step_id, mailbox, data) \
         VALUES ({}, 'sent', 1, 'cold', 'intro', '{mailbox}', '{{}}')",
        t(at)
    );
    match fold {
        Fold::Trigger => vec![insert, "SET CONSTRAINTS ALL IMMEDIATE".into()],
        Fold::Batch => vec![
            "SET LOCAL drumbeat.sent_facts = 'batch'".into(),
            insert,
            format!(
                "SELECT 1 FROM sent_facts_fold(ARRAY(SELECT id FROM events WHERE mailbox = '{mailbox}'))"
            ),
        ],
    }
}

async fn two_emails_at_once(server: &str, (first_fold, second_fold): (Fold, Fold)) {
    use sqlx::{Connection, Executor};
    use std::time::Duration;
    let s = crate::support::fresh_pg_store(server).await;
    s.exec(
        "INSERT INTO leads (id, email, owner, source, fingerprint, created_at, updated_at) \
            VALUES (1, 'ada@a.example', 'ana', 'api', 0, 0, 0)",
    )
    .await;
    // The first transaction folds its email and stays open.
    let mut first = sqlx::AnyConnection::connect(&s.url).await.expect("connect");
    let mut first_tx = first.begin().await.expect("begin");
    for sql in email_and_fold("2026-11-02T14:00:00Z", "ana", first_fold) {
        first_tx
            .execute(sqlx::AssertSqlSafe(sql))
            .await
            .expect("the first's email");
    }
    // The second does the same, and has to wait for the first's lead facts.
    let mut second = sqlx::AnyConnection::connect(&s.url).await.expect("connect");
    let second_done = async {
        let mut tx = second.begin().await?;
        for sql in email_and_fold("2026-11-02T14:05:00Z", "ben", second_fold) {
            tx.execute(sqlx::AssertSqlSafe(sql)).await?;
        }
        tx.commit().await
    };
    let first_done = async {
        let waiting = "SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' \
                       AND datname = current_database() AND pid <> pg_backend_pid()";
        crate::support::wait_until_async(
            "the second transaction to wait for the first",
            Duration::from_secs(30),
            || async { s.int(waiting).await > 0 },
        )
        .await;
        first_tx.commit().await
    };
    let (second_done, first_done) = tokio::time::timeout(Duration::from_secs(30), async {
        tokio::join!(second_done, first_done)
    })
    .await
    .expect("both transactions end within 30 s");
    first_done.expect("the first commits");
    second_done.expect("the second commits");
    let folds = (first_fold, second_fold);
    assert_eq!(
        s.rows("SELECT mailbox, prev_any, prev_mailbox FROM email_facts ORDER BY at")
            .await,
        vec![
            vec![Some("ana".to_string()), None, None],
            vec![
                Some("ben".to_string()),
                Some(t("2026-11-02T14:00:00Z").to_string()),
                None
            ],
        ],
        "{folds:?}"
    );
    assert_eq!(
        s.rows("SELECT touches, first_sent_mailbox FROM lead_facts")
            .await,
        vec![vec![Some("2".to_string()), Some("ana".to_string())]],
        "{folds:?}"
    );
    let (p, _) = november();
    let rows = report::rows(&s, Grouping::Sequence, &p)
        .await
        .expect("report");
    assert_eq!(
        (rows.len(), rows[0].sent, rows[0].emailed),
        (1, 2, 1),
        "{folds:?}: {rows:?}"
    );
    first.close().await.expect("close");
    second.close().await.expect("close");
    s.close().await;
}

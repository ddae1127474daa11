//! The enrollment rules in the store, on both engines: the facts `policy::admit` decides on are
//! read in the enrolling transaction (the interval across an account, the cap within a batch),
//! a forced enrollment says so in the timeline, and two transactions racing to enroll one lead
//! (or two leads of a capped account) enroll once, and a lead posted again while the scheduler
//! records an email to it does not deadlock with the scheduler (PostgreSQL).

use std::collections::BTreeMap;
use std::time::Duration;

use drumbeat::enrollment::EnrollmentState::Stopped;
use drumbeat::policy::EnrollRules;
use drumbeat::store::{
    Admission, EnrollInto, EnrollOutcome, EnrollRequest, LeadId, Refusal, Store,
};
use sqlx::{Connection, Executor};

use crate::support::{
    NOW, StoreCase, email, for_each_store, fresh_pg_store, lead, pg_server, wait_until_async,
};

const DAY: i64 = 86_400;

fn rules(recontact_days: Option<i64>, cap: Option<u32>) -> EnrollRules {
    EnrollRules {
        default_exclusive: true,
        exclusive: BTreeMap::new(),
        recontact_after: recontact_days.map(|d| d * DAY),
        max_active_per_account: cap,
    }
}

async fn leads(s: &StoreCase, addresses: &[&str]) -> Vec<LeadId> {
    let records: Vec<_> = addresses.iter().map(|a| lead(a)).collect();
    s.upsert_leads(&records, "t", NOW, false)
        .await
        .expect("upsert")
        .into_iter()
        .map(|(id, _)| id)
        .collect()
}

/// Enrolls each (lead, address) into `seq` at `now` under `admission`.
async fn enroll(
    store: &Store,
    seq: &str,
    who: &[(LeadId, &str)],
    admission: &Admission<'_>,
    now: i64,
) -> Vec<EnrollOutcome> {
    let emails: Vec<_> = who.iter().map(|(_, a)| email(a)).collect();
    let requests: Vec<_> = who
        .iter()
        .zip(&emails)
        .map(|((id, _), e)| EnrollRequest {
            lead: *id,
            email: e,
            first_step: "intro",
            due_at: now,
        })
        .collect();
    store
        .enroll_under(seq, &requests, admission, now, false)
        .await
        .expect("enroll")
}

fn under(rules: &EnrollRules) -> Admission<'_> {
    Admission {
        rules,
        force: false,
        by: "test",
    }
}

#[tokio::test]
async fn the_interval_runs_from_a_contacted_end_across_the_account() {
    for_each_store("the_interval_runs_from_a_contacted_end_across_the_account", |s| async move {
        let ids = leads(&s, &["ann@acme.com", "bob@acme.com", "cy@other.com", "dee@gmail.com"]).await;
        let open = Admission::OPEN;
        // Ann was emailed in cold-outbound, which ended at NOW.
        let out = enroll(&s, "cold-outbound", &[(ids[0], "ann@acme.com")], &open, NOW - DAY).await;
        let id = out[0].enrollment().expect("enrolled").0;
        s.exec(&format!(
            "INSERT INTO touches (enrollment_id, lead_id, sequence_id, step_id, kind, state, mailbox, sent_at, created_at) \
             VALUES ({id}, {}, 'cold-outbound', 'intro', 'email', 'sent', 'ana', {}, {})",
            ids[0].0, NOW - DAY, NOW - DAY
        ))
        .await;
        s.change_state(ids[0], None, Stopped, "done", NOW).await.expect("stop");
        let r = rules(Some(30), None);
        let who = [(ids[0], "ann@acme.com"), (ids[1], "bob@acme.com"), (ids[2], "cy@other.com"), (ids[3], "dee@gmail.com")];
        let out = enroll(&s, "founders", &who, &under(&r), NOW + DAY).await;
        let from = NOW + 30 * DAY;
        assert_eq!(
            out[..2],
            [
                EnrollOutcome::Refused(Refusal::RecentlyContacted { possible_from: from, account: None }),
                EnrollOutcome::Refused(Refusal::RecentlyContacted { possible_from: from, account: Some("acme.com".into()) }),
            ],
            "{}",
            s.engine
        );
        assert!(out[2].enrollment().is_some() && out[3].enrollment().is_some(), "{}: {out:?}", s.engine);
        // An enrollment that ended without emailing anyone does not count.
        s.change_state(ids[2], None, Stopped, "oops", NOW + DAY).await.expect("stop");
        let out = enroll(&s, "webinar", &[(ids[2], "cy@other.com")], &under(&r), NOW + 2 * DAY).await;
        assert!(out[0].enrollment().is_some(), "{}: {out:?}", s.engine);
        // Thirty days after the end, Bob may be written to again.
        let out = enroll(&s, "founders", &[(ids[1], "bob@acme.com")], &under(&r), from).await;
        assert!(out[0].enrollment().is_some(), "{}: {out:?}", s.engine);
        s.close().await;
    })
    .await;
}

#[tokio::test]
async fn the_cap_counts_a_batch_and_force_is_in_the_timeline() {
    for_each_store(
        "the_cap_counts_a_batch_and_force_is_in_the_timeline",
        |s| async move {
            let ids = leads(&s, &["a@capped.com", "b@capped.com", "c@capped.com"]).await;
            let r = rules(None, Some(2));
            let who = [
                (ids[0], "a@capped.com"),
                (ids[1], "b@capped.com"),
                (ids[2], "c@capped.com"),
            ];
            let out = enroll(&s, "cold-outbound", &who, &under(&r), NOW).await;
            assert!(
                out[0].enrollment().is_some() && out[1].enrollment().is_some(),
                "{}: {out:?}",
                s.engine
            );
            let cap = Refusal::AccountCap {
                account: "capped.com".into(),
                cap: 2,
            };
            assert_eq!(out[2], EnrollOutcome::Refused(cap.clone()), "{}", s.engine);
            // A's second, exclusive sequence is refused; forced, it is enrolled and says so.
            let active = Refusal::AlreadyActive {
                active_in: "cold-outbound".into(),
            };
            let out = enroll(&s, "founders", &who[..1], &under(&r), NOW).await;
            assert_eq!(
                out[0],
                EnrollOutcome::Refused(active.clone()),
                "{}",
                s.engine
            );
            let forced = Admission {
                rules: &r,
                force: true,
                by: "cli enroll (user ana)",
            };
            let out = enroll(&s, "founders", &who[2..], &forced, NOW).await;
            assert!(
                matches!(&out[0], EnrollOutcome::Forced(_, why) if *why == cap),
                "{}: {out:?}",
                s.engine
            );
            let data = s
                .rows(&format!(
                    "SELECT data FROM events WHERE kind = 'enrolled' AND lead_id = {}",
                    ids[2].0
                ))
                .await;
            let v: serde_json::Value =
                serde_json::from_str(data[0][0].as_deref().expect("data")).expect("json");
            assert_eq!(v["forced"], "account-cap", "{}", s.engine);
            assert_eq!(v["by"], "cli enroll (user ana)", "{}", s.engine);
            s.close().await;
        },
    )
    .await;
}

/// One side of a race: waits for the other at the barrier, then enrolls.
async fn racer(
    store: &Store,
    barrier: &tokio::sync::Barrier,
    (seq, id, address): (&str, LeadId, &str),
    r: &EnrollRules,
) -> EnrollOutcome {
    barrier.wait().await;
    enroll(store, seq, &[(id, address)], &under(r), NOW)
        .await
        .remove(0)
}

/// Two tasks enroll at the same moment, each on its own connection; bounded.
async fn race(
    store: &Store,
    a: (&str, LeadId, &str),
    b: (&str, LeadId, &str),
    r: &EnrollRules,
) -> (EnrollOutcome, EnrollOutcome) {
    let barrier = tokio::sync::Barrier::new(2);
    let both = async { tokio::join!(racer(store, &barrier, a, r), racer(store, &barrier, b, r)) };
    tokio::time::timeout(Duration::from_secs(30), both)
        .await
        .expect("both enrollments end within 30 s")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_enrollments_of_one_lead_or_one_capped_account_enroll_once() {
    for_each_store(
        "racing_enrollments_of_one_lead_or_one_capped_account_enroll_once",
        |s| async move {
            let r = rules(None, Some(1));
            for round in 0..10 {
                let (one, two, three) = (
                    format!("one{round}@race{round}.com"),
                    format!("two{round}@pair{round}.com"),
                    format!("three{round}@pair{round}.com"),
                );
                let (one, two, three) = (one.as_str(), two.as_str(), three.as_str());
                let ids = leads(&s, &[one, two, three]).await;
                // One lead, two exclusive sequences.
                let (x, y) = race(
                    &s,
                    ("cold-outbound", ids[0], one),
                    ("founders", ids[0], one),
                    &r,
                )
                .await;
                let enrolled = [&x, &y].iter().filter(|o| o.enrollment().is_some()).count();
                assert_eq!(enrolled, 1, "{} round {round}: {x:?} {y:?}", s.engine);
                assert!(
                    [&x, &y].iter().any(|o| matches!(
                        o,
                        EnrollOutcome::Refused(Refusal::AlreadyActive { .. })
                    )),
                    "{} round {round}: {x:?} {y:?}",
                    s.engine
                );
                // Two leads of an account capped at one.
                let (x, y) = race(
                    &s,
                    ("cold-outbound", ids[1], two),
                    ("cold-outbound", ids[2], three),
                    &r,
                )
                .await;
                let enrolled = [&x, &y].iter().filter(|o| o.enrollment().is_some()).count();
                assert_eq!(enrolled, 1, "{} round {round}: {x:?} {y:?}", s.engine);
            }
            let open = s
                .int("SELECT COUNT(*) FROM enrollments WHERE state = 'active'")
                .await;
            assert_eq!(open, 20, "{}", s.engine);
            s.close().await;
        },
    )
    .await;
}

/// PostgreSQL: a lead posted again (upserted and enrolled) while the scheduler records an email
/// to it. The scheduler's transaction has updated the lead's enrollment and then inserts the
/// touch, whose foreign key takes KEY SHARE on the lead; the upsert holds the lead and its
/// enrollment insert waits for the scheduler's update. Neither may wait on the other (a lead
/// locked FOR UPDATE did: a deadlock, one of them aborted): both finish at once, and the upsert
/// needs no second try. SQLite writes one transaction at a time, so it has nothing to race.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lead_posted_again_while_its_email_is_recorded_does_not_deadlock() {
    let test = "a_lead_posted_again_while_its_email_is_recorded_does_not_deadlock";
    let Some(server) = pg_server(test) else {
        return;
    };
    let s = fresh_pg_store(&server).await;
    let ids = leads(&s, &["ann@acme.com"]).await;
    let out = enroll(
        &s,
        "cold-outbound",
        &[(ids[0], "ann@acme.com")],
        &Admission::OPEN,
        NOW,
    )
    .await;
    let enrollment = out[0].enrollment().expect("enrolled").0;

    // The scheduler's transaction, on a connection of its own: the enrollment is updated.
    let mut scheduler = sqlx::AnyConnection::connect(&s.url).await.expect("connect");
    let mut tx = scheduler.begin().await.expect("begin");
    let update =
        format!("UPDATE enrollments SET updated_at = updated_at + 1 WHERE id = {enrollment}");
    tx.execute(sqlx::AssertSqlSafe(update))
        .await
        .expect("update");

    let mut again = lead("ann@acme.com");
    again.first_name = Some("Ann".into());
    let records = [again];
    let posted = async {
        let into = EnrollInto {
            sequence: "cold-outbound",
            first_step: "intro",
            due_at: &[NOW],
            admission: Admission::OPEN,
        };
        s.upsert_and_enroll(&records, "api", into, NOW, false).await
    };
    let recorded = async {
        // Once the upsert waits for the scheduler's update (bounded), the touch goes in.
        let waiting = "SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' \
                       AND datname = current_database() AND pid <> pg_backend_pid() \
                       AND query LIKE '%INSERT INTO enrollments%'";
        wait_until_async(
            "the upsert to wait for the scheduler's update",
            Duration::from_secs(30),
            || async { s.int(waiting).await > 0 },
        )
        .await;
        let touch = format!(
            "INSERT INTO touches (enrollment_id, lead_id, sequence_id, step_id, kind, state, \
             mailbox, sent_at, created_at) VALUES ({enrollment}, {}, 'cold-outbound', 'intro', \
             'email', 'sent', 'ana', {NOW}, {NOW})",
            ids[0].0
        );
        tx.execute(sqlx::AssertSqlSafe(touch)).await?;
        tx.commit().await
    };
    let (posted, recorded) = tokio::time::timeout(Duration::from_secs(30), async {
        tokio::join!(posted, recorded)
    })
    .await
    .expect("both transactions end within 30 s");
    recorded.expect("the scheduler's touch goes in and commits: no deadlock");
    let done = posted.expect("the upsert commits on its first try: no deadlock");
    assert!(
        done.enrolled[0].enrollment().is_none(),
        "already in the sequence: {:?}",
        done.enrolled
    );
    assert_eq!(
        s.int("SELECT COUNT(*) FROM leads WHERE first_name = 'Ann'")
            .await,
        1
    );
    assert_eq!(s.int("SELECT COUNT(*) FROM touches").await, 1);
    scheduler.close().await.expect("close");
    s.close().await;
}

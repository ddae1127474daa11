//! Enrollments, their state changes, the event log and `status`, on both engines.

use drumbeat::enrollment::EnrollmentState::{self, *};
use drumbeat::lead::Email;
use drumbeat::store::{EnrollOutcome, EnrollRequest, EventKind, LeadId, NewEvent};

use crate::support::{NOW, StoreCase, email, for_each_store, lead};

const SEQ: &str = "cold-outbound";
const DAY: i64 = 86_400;

/// Stores leads with these addresses; returns their ids in order.
async fn leads(s: &StoreCase, addresses: &[&str]) -> Vec<LeadId> {
    let records: Vec<_> = addresses.iter().map(|a| lead(a)).collect();
    s.upsert_leads(&records, "t", NOW, false)
        .await
        .expect("upsert")
        .into_iter()
        .map(|(id, _)| id)
        .collect()
}

/// Enrolls one lead into `seq` with its first step due at `due`.
async fn enroll_one(
    s: &StoreCase,
    seq: &str,
    id: LeadId,
    address: &Email,
    due: i64,
) -> EnrollOutcome {
    let req = EnrollRequest {
        lead: id,
        email: address,
        first_step: "intro",
        due_at: due,
    };
    let out = s.enroll(seq, &[req], NOW, false).await.expect("enroll");
    out[0].clone()
}

/// A lead's events after its arrival (`received`, written by the import these tests start with).
fn after_arrival(events: Vec<drumbeat::store::EventRow>) -> Vec<drumbeat::store::EventRow> {
    assert_eq!(
        events.first().map(|e| e.kind.as_str()),
        Some("received"),
        "a lead's first event is its arrival"
    );
    events.into_iter().skip(1).collect()
}

fn kinds(events: &[drumbeat::store::EventRow]) -> Vec<&str> {
    events.iter().map(|e| e.kind.as_str()).collect()
}

#[tokio::test]
async fn enroll_reports_enrolled_already_enrolled_and_suppressed() {
    for_each_store(
        "enroll_reports_enrolled_already_enrolled_and_suppressed",
        |s| async move {
            let addresses = [
                "new@acme.com",
                "again@acme.com",
                "blocked@acme.com",
                "anyone@blocked-domain.example",
                "forgotten@acme.com",
            ];
            let ids = leads(&s, &addresses).await;
            let emails: Vec<Email> = addresses.iter().map(|a| email(a)).collect();
            assert!(matches!(
                enroll_one(&s, SEQ, ids[1], &emails[1], NOW).await,
                EnrollOutcome::Enrolled(_)
            ));
            s.suppress("blocked@acme.com", "unsubscribed", None, NOW)
                .await
                .expect("suppress");
            s.suppress("@blocked-domain.example", "manual", None, NOW)
                .await
                .expect("suppress");
            // A forgotten person who came back through a path that does not check (the store
            // itself does not refuse the lead): the hash still blocks enrolling.
            s.forget(&emails[4], NOW).await.expect("forget");
            let back = s
                .upsert_leads(&[lead("forgotten@acme.com")], "t", NOW, false)
                .await
                .expect("upsert");
            let mut ids = ids;
            ids[4] = back[0].0;

            let requests: Vec<_> = ids
                .iter()
                .zip(&emails)
                .map(|(id, e)| EnrollRequest {
                    lead: *id,
                    email: e,
                    first_step: "intro",
                    due_at: NOW + 60,
                })
                .collect();
            let out = s.enroll(SEQ, &requests, NOW, false).await.expect("enroll");
            let EnrollOutcome::Enrolled(new_id) = out[0] else {
                panic!("{}: {:?}", s.engine, out)
            };
            assert_eq!(
                out[1..],
                [
                    EnrollOutcome::AlreadyEnrolled,
                    EnrollOutcome::Suppressed,
                    EnrollOutcome::Suppressed,
                    EnrollOutcome::Suppressed
                ],
                "{}",
                s.engine
            );

            let rows = s.enrollments_for_lead(ids[0]).await.expect("read");
            assert_eq!(rows.len(), 1, "{}", s.engine);
            let e = &rows[0];
            assert_eq!(e.id, new_id);
            assert_eq!(
                (e.lead_id, e.email.as_str(), e.sequence_id.as_str()),
                (ids[0], "new@acme.com", SEQ)
            );
            assert_eq!(
                (e.state, e.next_step_id.as_deref(), e.next_due_at),
                (Active, Some("intro"), Some(NOW + 60))
            );
            assert_eq!(
                (e.enrolled_at, e.finished_at, e.outcome.as_deref()),
                (NOW, None, None)
            );
            for (id, address) in ids[2..].iter().zip(&addresses[2..]) {
                assert!(
                    s.enrollments_for_lead(*id).await.expect("read").is_empty(),
                    "{}: {address}",
                    s.engine
                );
            }

            // The same lead twice in one call, and another sequence.
            let (id, e) = (ids[0], &emails[0]);
            let twice = [
                EnrollRequest {
                    lead: id,
                    email: e,
                    first_step: "welcome",
                    due_at: NOW,
                },
                EnrollRequest {
                    lead: id,
                    email: e,
                    first_step: "welcome",
                    due_at: NOW,
                },
            ];
            let out = s
                .enroll("inbound-fast", &twice, NOW, false)
                .await
                .expect("enroll");
            assert!(
                matches!(out[0], EnrollOutcome::Enrolled(_)),
                "{}: {out:?}",
                s.engine
            );
            assert_eq!(out[1], EnrollOutcome::AlreadyEnrolled, "{}", s.engine);
            assert_eq!(s.enrollments_for_lead(id).await.expect("read").len(), 2);
            s.close().await;
        },
    )
    .await;
}

#[tokio::test]
async fn enroll_records_an_enrolled_event_and_dry_run_keeps_nothing() {
    for_each_store(
        "enroll_records_an_enrolled_event_and_dry_run_keeps_nothing",
        |s| async move {
            let ids = leads(&s, &["jane@acme.com"]).await;
            let jane = email("jane@acme.com");
            let req = [EnrollRequest {
                lead: ids[0],
                email: &jane,
                first_step: "intro",
                due_at: NOW,
            }];

            let dry = s.enroll(SEQ, &req, NOW, true).await.expect("dry run");
            assert!(
                matches!(dry[0], EnrollOutcome::Enrolled(_)),
                "{}: {dry:?}",
                s.engine
            );
            assert!(
                s.enrollments_for_lead(ids[0])
                    .await
                    .expect("read")
                    .is_empty(),
                "{}",
                s.engine
            );
            // Only the lead's arrival, from the import before.
            assert_eq!(
                kinds(&s.events_for_lead(ids[0]).await.expect("read")),
                ["received"],
                "{}",
                s.engine
            );
            assert_eq!(s.int("SELECT COUNT(*) FROM events").await, 1);

            let out = s.enroll(SEQ, &req, NOW, false).await.expect("enroll");
            let EnrollOutcome::Enrolled(id) = out[0] else {
                panic!("{}: {out:?}", s.engine)
            };
            let events = after_arrival(s.events_for_lead(ids[0]).await.expect("read"));
            assert_eq!(kinds(&events), ["enrolled"], "{}", s.engine);
            assert_eq!(
                (events[0].at, events[0].sequence_id.as_deref()),
                (NOW, Some(SEQ))
            );
            assert_eq!(
                s.int("SELECT enrollment_id FROM events WHERE kind = 'enrolled'")
                    .await,
                id.0,
                "{}",
                s.engine
            );

            // Already enrolled: no second event.
            assert_eq!(
                s.enroll(SEQ, &req, NOW + 5, false).await.expect("enroll"),
                [EnrollOutcome::AlreadyEnrolled]
            );
            assert_eq!(
                after_arrival(s.events_for_lead(ids[0]).await.expect("read")).len(),
                1,
                "{}",
                s.engine
            );
            s.close().await;
        },
    )
    .await;
}

#[tokio::test]
async fn pause_keeps_the_due_time_and_resume_makes_a_past_due_step_due_now() {
    for_each_store(
        "pause_keeps_the_due_time_and_resume_makes_a_past_due_step_due_now",
        |s| async move {
            let ids = leads(&s, &["soon@acme.com", "later@acme.com"]).await;
            enroll_one(&s, SEQ, ids[0], &email("soon@acme.com"), NOW + 3600).await;
            enroll_one(&s, SEQ, ids[1], &email("later@acme.com"), NOW + 10 * DAY).await;

            for id in &ids {
                let changes = s
                    .change_state(*id, None, Paused, "out of office", NOW + 60)
                    .await
                    .expect("pause");
                assert_eq!(changes.len(), 1, "{}", s.engine);
                assert_eq!(
                    (
                        changes[0].sequence_id.as_str(),
                        changes[0].from,
                        changes[0].to
                    ),
                    (SEQ, Active, Paused)
                );
            }
            let e = &s.enrollments_for_lead(ids[0]).await.expect("read")[0];
            assert_eq!(
                (e.state, e.next_due_at, e.reason.as_deref()),
                (Paused, Some(NOW + 3600), Some("out of office"))
            );

            // Two days later the first lead's step is past due; the second's is not.
            let later = NOW + 2 * DAY;
            for id in &ids {
                let changes = s
                    .change_state(*id, Some(SEQ), Active, "back", later)
                    .await
                    .expect("resume");
                assert_eq!(changes.len(), 1, "{}", s.engine);
                assert_eq!((changes[0].from, changes[0].to), (Paused, Active));
            }
            let soon = &s.enrollments_for_lead(ids[0]).await.expect("read")[0];
            assert_eq!(
                (soon.state, soon.next_due_at, soon.paused_until),
                (Active, Some(later), None),
                "{}",
                s.engine
            );
            let far = &s.enrollments_for_lead(ids[1]).await.expect("read")[0];
            assert_eq!(
                (far.state, far.next_due_at),
                (Active, Some(NOW + 10 * DAY)),
                "{}",
                s.engine
            );

            let events = after_arrival(s.events_for_lead(ids[0]).await.expect("read"));
            assert_eq!(
                kinds(&events),
                ["enrolled", "paused", "resumed"],
                "{}",
                s.engine
            );
            assert_eq!(events[1].data["reason"], "out of office");
            assert_eq!(events[1].data["from"], "active");
            assert_eq!(
                (events[2].at, events[2].data["from"].as_str()),
                (later, Some("paused"))
            );
            assert_eq!(events[2].sequence_id.as_deref(), Some(SEQ));
            s.close().await;
        },
    )
    .await;
}

#[tokio::test]
async fn stop_clears_the_due_time_and_a_stopped_lead_cannot_be_resumed() {
    for_each_store(
        "stop_clears_the_due_time_and_a_stopped_lead_cannot_be_resumed",
        |s| async move {
            let ids = leads(&s, &["jane@acme.com"]).await;
            enroll_one(&s, SEQ, ids[0], &email("jane@acme.com"), NOW + 3600).await;
            let changes = s
                .change_state(ids[0], None, Stopped, "stopped by hand", NOW + 10)
                .await
                .expect("stop");
            assert_eq!(changes.len(), 1, "{}", s.engine);
            let e = &s.enrollments_for_lead(ids[0]).await.expect("read")[0];
            assert_eq!(
                (e.state, e.next_due_at, e.finished_at),
                (Stopped, None, Some(NOW + 10)),
                "{}",
                s.engine
            );
            assert_eq!(
                (e.outcome.as_deref(), e.reason.as_deref()),
                (Some("stopped"), Some("stopped by hand"))
            );

            let before = s.int("SELECT COUNT(*) FROM events").await;
            for to in [Active, Paused, Stopped] {
                let changes = s
                    .change_state(ids[0], None, to, "try", NOW + 20)
                    .await
                    .expect("change");
                assert!(
                    changes.is_empty(),
                    "{}: stopped -> {to} was allowed: {changes:?}",
                    s.engine
                );
            }
            let after = &s.enrollments_for_lead(ids[0]).await.expect("read")[0];
            assert_eq!(
                (after.state, after.next_due_at, after.reason.as_deref()),
                (Stopped, None, Some("stopped by hand"))
            );
            assert_eq!(
                s.int("SELECT COUNT(*) FROM events").await,
                before,
                "{}: refused changes record nothing",
                s.engine
            );
            s.close().await;
        },
    )
    .await;
}

/// Puts a fresh enrollment into `state` through allowed changes; returns its lead.
async fn lead_in_state(s: &StoreCase, n: usize, state: EnrollmentState) -> LeadId {
    let address = format!("lead{n}@acme.com");
    let id = leads(s, &[&address]).await[0];
    enroll_one(s, SEQ, id, &email(&address), NOW + 3600).await;
    let path: &[EnrollmentState] = match state {
        Active => &[],
        Paused => &[Paused],
        other => &[other],
    };
    for to in path {
        assert_eq!(
            s.change_state(id, None, *to, "setup", NOW)
                .await
                .expect("setup")
                .len(),
            1,
            "{}",
            s.engine
        );
    }
    id
}

#[tokio::test]
async fn change_state_follows_the_transition_table_exactly() {
    for_each_store(
        "change_state_follows_the_transition_table_exactly",
        |s| async move {
            let mut n = 0;
            for from in EnrollmentState::ALL {
                for to in EnrollmentState::ALL {
                    n += 1;
                    let id = lead_in_state(&s, n, from).await;
                    let events_before = s.events_for_lead(id).await.expect("read").len();
                    let changes = s
                        .change_state(id, None, to, "matrix", NOW + 100)
                        .await
                        .expect("change");
                    let state = s.enrollments_for_lead(id).await.expect("read")[0].state;
                    let events = s.events_for_lead(id).await.expect("read");
                    if from.can_become(to) {
                        assert_eq!(changes.len(), 1, "{}: {from} -> {to}", s.engine);
                        assert_eq!(state, to, "{}: {from} -> {to}", s.engine);
                        assert_eq!(
                            events.len(),
                            events_before + 1,
                            "{}: {from} -> {to} records an event",
                            s.engine
                        );
                        let expected = match to {
                            Active => "resumed",
                            Paused => "paused",
                            _ => "stopped",
                        };
                        assert_eq!(events.last().map(|e| e.kind.as_str()), Some(expected));
                    } else {
                        assert!(
                            changes.is_empty(),
                            "{}: {from} -> {to} must be refused",
                            s.engine
                        );
                        assert_eq!(
                            state, from,
                            "{}: {from} -> {to} changed the state",
                            s.engine
                        );
                        assert_eq!(
                            events.len(),
                            events_before,
                            "{}: {from} -> {to} recorded an event",
                            s.engine
                        );
                    }
                }
            }
            // Replied and unsubscribed leads are out for good.
            for from in [Replied, Unsubscribed] {
                assert!(EnrollmentState::ALL.iter().all(|to| !from.can_become(*to)));
            }
            s.close().await;
        },
    )
    .await;
}

#[tokio::test]
async fn change_state_with_a_sequence_touches_only_that_enrollment() {
    for_each_store(
        "change_state_with_a_sequence_touches_only_that_enrollment",
        |s| async move {
            let ids = leads(&s, &["jane@acme.com"]).await;
            let jane = email("jane@acme.com");
            enroll_one(&s, SEQ, ids[0], &jane, NOW).await;
            enroll_one(&s, "inbound-fast", ids[0], &jane, NOW).await;

            let changes = s
                .change_state(ids[0], Some("inbound-fast"), Paused, "x", NOW)
                .await
                .expect("pause");
            assert_eq!(changes.len(), 1, "{}", s.engine);
            assert_eq!(changes[0].sequence_id, "inbound-fast");
            let states: Vec<_> = s
                .enrollments_for_lead(ids[0])
                .await
                .expect("read")
                .iter()
                .map(|e| (e.sequence_id.clone(), e.state))
                .collect();
            assert_eq!(
                states,
                [
                    (SEQ.to_string(), Active),
                    ("inbound-fast".to_string(), Paused)
                ],
                "{}",
                s.engine
            );

            let all = s
                .change_state(ids[0], None, Stopped, "y", NOW)
                .await
                .expect("stop");
            assert_eq!(all.len(), 2, "{}", s.engine);
            assert!(
                s.change_state(ids[0], Some("no-such-seq"), Active, "z", NOW)
                    .await
                    .expect("x")
                    .is_empty()
            );
            assert!(
                s.change_state(LeadId(987_654), None, Stopped, "z", NOW)
                    .await
                    .expect("x")
                    .is_empty()
            );
            s.close().await;
        },
    )
    .await;
}

#[tokio::test]
async fn events_for_a_lead_come_oldest_first_in_recording_order_within_a_second() {
    for_each_store(
        "events_for_a_lead_come_oldest_first_in_recording_order_within_a_second",
        |s| async move {
            let ids = leads(&s, &["a@acme.com", "b@acme.com"]).await;
            let record = |kind, lead: LeadId, at: i64, step: &'static str| {
                let s = &s;
                async move {
                    let mut ev = NewEvent::about(kind, Some(lead));
                    ev.step = Some(step);
                    ev.data = serde_json::json!({ "n": step });
                    s.record_event(&ev, at).await.expect("record");
                }
            };
            record(EventKind::Clicked, ids[0], NOW + 300, "c").await;
            record(EventKind::Sent, ids[0], NOW + 100, "a").await;
            record(EventKind::Opened, ids[1], NOW + 150, "other lead").await;
            record(EventKind::Delivered, ids[0], NOW + 200, "b1").await;
            record(EventKind::Opened, ids[0], NOW + 200, "b2").await;

            let events = after_arrival(s.events_for_lead(ids[0]).await.expect("read"));
            assert_eq!(
                kinds(&events),
                ["sent", "delivered", "opened", "clicked"],
                "{}",
                s.engine
            );
            assert_eq!(
                events.iter().map(|e| e.at).collect::<Vec<_>>(),
                [NOW + 100, NOW + 200, NOW + 200, NOW + 300]
            );
            assert_eq!(
                events
                    .iter()
                    .map(|e| e.step_id.clone().unwrap_or_default())
                    .collect::<Vec<_>>(),
                ["a", "b1", "b2", "c"]
            );
            assert_eq!(
                events[1].data,
                serde_json::json!({ "n": "b1" }),
                "{}",
                s.engine
            );
            assert!(events[1].id < events[2].id);
            assert_eq!(
                after_arrival(s.events_for_lead(ids[1]).await.expect("read")).len(),
                1
            );
            s.close().await;
        },
    )
    .await;
}

#[tokio::test]
async fn status_counts_states_due_sends_and_lists_upcoming_steps_in_due_order() {
    for_each_store("status_counts_states_due_sends_and_lists_upcoming_steps_in_due_order", |s| async move {
        // cold-outbound: 5 active (due -2h, -1h, +1h, +1d, +2d), one paused, one stopped;
        // inbound-fast: one active due now, one replied.
        let dues = [NOW - 7200, NOW - 3600, NOW + 3600, NOW + DAY, NOW + 2 * DAY];
        let mut n = 0;
        let mut next = |prefix: &str| {
            n += 1;
            format!("{prefix}{n}@acme.com")
        };
        let mut active = Vec::new();
        // Enrolled in an order unlike their due order.
        for due in [dues[3], dues[0], dues[4], dues[2], dues[1]] {
            let address = next("c");
            let id = leads(&s, &[&address]).await[0];
            enroll_one(&s, SEQ, id, &email(&address), due).await;
            active.push((address, due));
        }
        for (to, seq) in [(Paused, SEQ), (Stopped, SEQ), (Replied, "inbound-fast")] {
            let address = next("x");
            let id = leads(&s, &[&address]).await[0];
            enroll_one(&s, seq, id, &email(&address), NOW - 10).await;
            s.change_state(id, None, to, "t", NOW).await.expect("change");
        }
        let address = next("i");
        let id = leads(&s, &[&address]).await[0];
        enroll_one(&s, "inbound-fast", id, &email(&address), NOW).await;

        // Two emails sent today by ana, one yesterday, one by ben today.
        let lead_id = id.0;
        let enrollment = s.enrollments_for_lead(id).await.expect("read")[0].id.0;
        for (step, mailbox, state, sent_at) in [
            ("s1", "ana", "sent", NOW - 60),
            ("s2", "ana", "sent", NOW - 3600),
            ("s3", "ana", "sent", NOW - DAY),
            ("s4", "ben", "sent", NOW - 10),
            ("s5", "ben", "failed", NOW - 10),
        ] {
            s.exec(&format!(
                "INSERT INTO touches (enrollment_id, lead_id, sequence_id, step_id, kind, state, mailbox, sent_at, created_at) \
                 VALUES ({enrollment}, {lead_id}, 'inbound-fast', '{step}', 'email', '{state}', '{mailbox}', {sent_at}, {sent_at})"
            ))
            .await;
        }

        let status = s.status(NOW, NOW - 4 * 3600, 3).await.expect("status");
        let seqs: Vec<_> = status.sequences.iter().map(|c| c.sequence_id.as_str()).collect();
        assert_eq!(seqs, [SEQ, "inbound-fast"], "{}", s.engine);
        let cold = &status.sequences[0];
        assert_eq!(cold.enrolled, 7, "{}", s.engine);
        assert_eq!(cold.states.len(), EnrollmentState::ALL.len(), "every state is listed");
        for (state, count) in [("active", 5), ("paused", 1), ("stopped", 1), ("replied", 0), ("finished", 0)] {
            assert_eq!(cold.states[state], count, "{}: cold-outbound {state}", s.engine);
        }
        let inbound = &status.sequences[1];
        assert_eq!((inbound.enrolled, inbound.states["active"], inbound.states["replied"]), (2, 1, 1), "{}", s.engine);

        // Due now: the two past-due cold leads and the inbound one due exactly now (not the
        // paused one, whose step was past due too).
        assert_eq!(status.due_now, 3, "{}", s.engine);

        let upcoming: Vec<_> = status.upcoming.iter().map(|u| (u.email.clone(), u.due_at)).collect();
        let mut expected: Vec<_> = active.iter().map(|(a, d)| (a.clone(), *d)).collect();
        expected.push((address.clone(), NOW));
        expected.sort_by_key(|(_, d)| *d);
        expected.truncate(3);
        assert_eq!(upcoming, expected, "{}", s.engine);
        assert_eq!(status.upcoming[0].step_id.as_deref(), Some("intro"));
        assert_eq!(status.upcoming[0].sequence_id, SEQ);

        let mut sends: Vec<_> = status.sends_today.iter().map(|m| (m.mailbox.clone(), m.sent_today)).collect();
        sends.sort();
        assert_eq!(sends, [("ana".to_string(), 2), ("ben".to_string(), 1)], "{}", s.engine);
        let attention: Vec<_> = status.attention.iter().map(|a| (a.kind.as_str(), a.step_id.as_deref())).collect();
        assert_eq!(attention, [("failed-send", Some("s5"))], "{}", s.engine);

        let all = s.status(NOW, NOW - 4 * 3600, 100).await.expect("status");
        assert_eq!(all.upcoming.len(), 6, "{}: every active enrollment with a due time", s.engine);
        assert!(all.upcoming.windows(2).all(|w| w[0].due_at <= w[1].due_at));
        s.close().await;
    })
    .await;
}

#[tokio::test]
async fn status_lists_what_needs_a_person_newest_first() {
    for_each_store(
        "status_lists_what_needs_a_person_newest_first",
        |s| async move {
            let ids = leads(
                &s,
                &[
                    "replied@acme.com",
                    "old-reply@acme.com",
                    "failed@acme.com",
                    "task@acme.com",
                ],
            )
            .await;
            for (id, address) in ids.iter().zip([
                "replied@acme.com",
                "old-reply@acme.com",
                "failed@acme.com",
                "task@acme.com",
            ]) {
                enroll_one(&s, SEQ, *id, &email(address), NOW).await;
            }
            // A reply the rep has not handled, and one already handled (listed no more).
            for (i, (id, at, handled)) in [(ids[0], NOW - 3600, "NULL".to_string()), (ids[1], NOW - 8 * DAY, (NOW - DAY).to_string())]
                .into_iter()
                .enumerate()
            {
                s.exec(&format!(
                    "INSERT INTO inbound (mailbox, message_key, lead_id, kind, rule, evidence, received_at, handled_at, created_at) \
                     VALUES ('ana', '<r{i}@x>', {}, 'reply', 'no automatic sign', '{{\"snippet\": \"Sounds good, call me\"}}', {at}, {handled}, {NOW})",
                    id.0
                ))
                .await;
            }
            s.change_state(
                ids[2],
                None,
                Failed,
                "template failed: no first_name",
                NOW - 60,
            )
            .await
            .expect("fail");
            // An open task due yesterday, and a done one and a future one that need nobody.
            let enrollment = s.enrollments_for_lead(ids[3]).await.expect("read")[0].id.0;
            for (state, due) in [
                ("open", NOW - DAY),
                ("done", NOW - DAY),
                ("open", NOW + DAY),
            ] {
                s.exec(&format!(
                    "INSERT INTO tasks (enrollment_id, lead_id, kind, state, due_at, created_at) \
                 VALUES ({enrollment}, {}, 'call', '{state}', {due}, {NOW})",
                    ids[3].0
                ))
                .await;
            }

            let status = s.status(NOW, NOW - 3600, 10).await.expect("status");
            let items: Vec<_> = status
                .attention
                .iter()
                .map(|a| {
                    (
                        a.kind.as_str(),
                        a.email.as_deref(),
                        a.at,
                        a.detail.as_deref(),
                    )
                })
                .collect();
            assert_eq!(
                items,
                [
                    (
                        "failed-enrollment",
                        Some("failed@acme.com"),
                        Some(NOW - 60),
                        Some("template failed: no first_name")
                    ),
                    (
                        "reply",
                        Some("replied@acme.com"),
                        Some(NOW - 3600),
                        Some("Sounds good, call me")
                    ),
                    (
                        "overdue-task",
                        Some("task@acme.com"),
                        Some(NOW - DAY),
                        Some("call")
                    ),
                ],
                "{}",
                s.engine
            );
            assert_eq!(status.sequences[0].states["failed"], 1, "{}", s.engine);
            s.close().await;
        },
    )
    .await;
}

//! The suppression list and the right to be forgotten, on both engines.

use drumbeat::enrollment::EnrollmentState::{Active, Finished, Replied, Stopped};
use drumbeat::lead::Email;
use drumbeat::store::{EnrollOutcome, EnrollRequest, EventKind, LeadId, NewEvent, forgotten_value};

use crate::support::{NOW, StoreCase, email, for_each_store, lead, named_lead};

const SEQ: &str = "cold-outbound";

/// Stores and enrolls leads with these addresses (due in an hour); returns their ids.
async fn enrolled(s: &StoreCase, addresses: &[&str]) -> Vec<LeadId> {
    let records: Vec<_> = addresses.iter().map(|a| lead(a)).collect();
    let ids: Vec<LeadId> = s
        .upsert_leads(&records, "t", NOW, false)
        .await
        .expect("upsert")
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let requests: Vec<_> = ids
        .iter()
        .zip(&records)
        .map(|(id, r)| EnrollRequest {
            lead: *id,
            email: &r.email,
            first_step: "intro",
            due_at: NOW + 3600,
        })
        .collect();
    for o in s.enroll(SEQ, &requests, NOW, false).await.expect("enroll") {
        assert!(
            matches!(o, EnrollOutcome::Enrolled(_)),
            "{}: {o:?}",
            s.engine
        );
    }
    ids
}

async fn state(s: &StoreCase, id: LeadId) -> drumbeat::enrollment::EnrollmentState {
    s.enrollments_for_lead(id).await.expect("read")[0].state
}

#[tokio::test]
async fn suppressing_an_address_stops_its_open_enrollments_only() {
    for_each_store(
        "suppressing_an_address_stops_its_open_enrollments_only",
        |s| async move {
            let ids = enrolled(&s, &["jane@acme.com", "joe@acme.com"]).await;
            assert!(
                s.suppress(
                    "jane@acme.com",
                    "unsubscribed",
                    Some("asked by phone"),
                    NOW + 5
                )
                .await
                .expect("suppress")
            );
            assert!(
                !s.suppress("jane@acme.com", "bounced", None, NOW + 6)
                    .await
                    .expect("suppress"),
                "{}: a second suppress of the same value reports it was there",
                s.engine
            );

            let e = &s.enrollments_for_lead(ids[0]).await.expect("read")[0];
            assert_eq!(
                (e.state, e.next_due_at, e.finished_at),
                (Stopped, None, Some(NOW + 5)),
                "{}",
                s.engine
            );
            assert_eq!(e.outcome.as_deref(), Some("suppressed"));
            assert_eq!(e.reason.as_deref(), Some("suppressed (unsubscribed)"));
            assert_eq!(
                state(&s, ids[1]).await,
                Active,
                "{}: joe is not covered",
                s.engine
            );

            let events = s.events_for_lead(ids[0]).await.expect("read");
            assert_eq!(
                events.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(),
                ["received", "enrolled", "stopped"]
            );
            assert_eq!(events[2].data["reason"], "suppressed", "{}", s.engine);
            assert_eq!(
                s.int("SELECT COUNT(*) FROM events WHERE kind = 'suppressed'")
                    .await,
                1,
                "{}",
                s.engine
            );

            let row = s
                .suppression_for(&email("jane@acme.com"))
                .await
                .expect("read")
                .expect("listed");
            assert_eq!(
                (
                    row.value.as_str(),
                    row.reason.as_str(),
                    row.note.as_deref(),
                    row.created_at
                ),
                (
                    "jane@acme.com",
                    "unsubscribed",
                    Some("asked by phone"),
                    NOW + 5
                ),
                "{}: the first reason stays",
                s.engine
            );
            s.close().await;
        },
    )
    .await;
}

#[tokio::test]
async fn suppressing_a_domain_stops_exactly_that_domains_open_enrollments() {
    for_each_store(
        "suppressing_a_domain_stops_exactly_that_domains_open_enrollments",
        |s| async move {
            let addresses = [
                "a@acme.com",
                "b@acme.com",
                "done@acme.com",
                "c@notacme.com",
                "d@sub.acme.com",
                "acme.com@other.example",
                "e@axb.com",
                "f@a-b.com",
                "g@ab.com",
            ];
            let ids = enrolled(&s, &addresses).await;
            // done@acme.com replied already: that stays as it is.
            s.change_state(ids[2], None, Replied, "reply", NOW)
                .await
                .expect("reply");

            assert!(
                s.suppress("@acme.com", "manual", None, NOW + 1)
                    .await
                    .expect("suppress")
            );
            let mut states = Vec::new();
            for id in &ids {
                states.push(state(&s, *id).await);
            }
            assert_eq!(
                states,
                [
                    Stopped, Stopped, Replied, Active, Active, Active, Active, Active, Active
                ],
                "{}",
                s.engine
            );

            // `_` is a LIKE wildcard: `@a_b.com` must not cover axb.com; `%` neither.
            assert!(
                s.suppress("@a_b.com", "manual", None, NOW + 2)
                    .await
                    .expect("suppress")
            );
            assert!(
                s.suppress("@%.com", "manual", None, NOW + 2)
                    .await
                    .expect("suppress")
            );
            assert_eq!(
                state(&s, ids[6]).await,
                Active,
                "{}: @a_b.com stopped e@axb.com",
                s.engine
            );
            assert_eq!(
                state(&s, ids[7]).await,
                Active,
                "{}: @a_b.com stopped f@a-b.com",
                s.engine
            );
            // Neither are `%` and the escape character itself (the store takes any text).
            for value in ["@a%b.com", "@a\\b.com"] {
                assert!(
                    s.suppress(value, "manual", None, NOW + 3)
                        .await
                        .expect("suppress")
                );
                assert_eq!(
                    state(&s, ids[8]).await,
                    Active,
                    "{}: {value} stopped g@ab.com",
                    s.engine
                );
            }
            assert!(
                s.suppression_for(&email("e@axb.com"))
                    .await
                    .expect("read")
                    .is_none(),
                "{}",
                s.engine
            );

            let covered = s
                .suppression_for(&email("new@acme.com"))
                .await
                .expect("read")
                .expect("domain covers it");
            assert_eq!(
                (covered.value.as_str(), covered.reason.as_str()),
                ("@acme.com", "manual")
            );
            assert!(
                s.suppression_for(&email("x@sub.acme.com"))
                    .await
                    .expect("read")
                    .is_none(),
                "{}",
                s.engine
            );
            s.close().await;
        },
    )
    .await;
}

#[tokio::test]
async fn suppressed_among_and_forgotten_among_pick_the_covered_addresses() {
    for_each_store(
        "suppressed_among_and_forgotten_among_pick_the_covered_addresses",
        |s| async move {
            s.suppress("jane@acme.com", "bounced", None, NOW)
                .await
                .expect("suppress");
            s.suppress("@globex.example", "complained", None, NOW)
                .await
                .expect("suppress");
            s.forget(&email("gone@initech.example"), NOW)
                .await
                .expect("forget");

            let all: Vec<Email> = [
                "jane@acme.com",
                "joe@acme.com",
                "sam@globex.example",
                "gone@initech.example",
                "x@initech.example",
            ]
            .iter()
            .map(|a| email(a))
            .collect();
            let refs: Vec<&Email> = all.iter().collect();
            let mut suppressed: Vec<String> = s
                .suppressed_among(&refs)
                .await
                .expect("read")
                .iter()
                .map(|e| e.to_string())
                .collect();
            suppressed.sort();
            assert_eq!(
                suppressed,
                [
                    "gone@initech.example",
                    "jane@acme.com",
                    "sam@globex.example"
                ],
                "{}",
                s.engine
            );
            let forgotten = s.forgotten_among(&refs).await.expect("read");
            assert_eq!(
                forgotten.into_iter().collect::<Vec<_>>(),
                [email("gone@initech.example")],
                "{}",
                s.engine
            );
            assert!(s.suppressed_among(&[]).await.expect("read").is_empty());

            // Many addresses at once (more than one statement's worth).
            let many: Vec<Email> = (0..700)
                .map(|i| email(&format!("p{i}@globex.example")))
                .collect();
            let refs: Vec<&Email> = many.iter().collect();
            assert_eq!(
                s.suppressed_among(&refs).await.expect("read").len(),
                700,
                "{}",
                s.engine
            );
            assert!(s.forgotten_among(&refs).await.expect("read").is_empty());
            s.close().await;
        },
    )
    .await;
}

#[tokio::test]
async fn unsuppress_removes_entries_but_never_a_forgotten_person() {
    for_each_store(
        "unsuppress_removes_entries_but_never_a_forgotten_person",
        |s| async move {
            s.suppress("jane@acme.com", "manual", None, NOW)
                .await
                .expect("suppress");
            s.suppress("@globex.example", "manual", None, NOW + 1)
                .await
                .expect("suppress");
            let gone = email("gone@initech.example");
            s.forget(&gone, NOW + 2).await.expect("forget");
            let values: Vec<_> = s
                .suppressions()
                .await
                .expect("list")
                .into_iter()
                .map(|r| r.value)
                .collect();
            assert_eq!(
                values,
                [
                    forgotten_value(&gone),
                    "@globex.example".into(),
                    "jane@acme.com".into()
                ],
                "{}: newest first",
                s.engine
            );

            assert!(
                s.unsuppress("jane@acme.com", NOW + 3)
                    .await
                    .expect("unsuppress"),
                "{}",
                s.engine
            );
            assert!(
                !s.unsuppress("jane@acme.com", NOW + 3)
                    .await
                    .expect("unsuppress"),
                "{}: already gone",
                s.engine
            );
            assert!(
                s.unsuppress("@globex.example", NOW + 3)
                    .await
                    .expect("unsuppress")
            );
            assert!(
                !s.unsuppress(&forgotten_value(&gone), NOW + 3)
                    .await
                    .expect("unsuppress"),
                "{}",
                s.engine
            );
            assert!(
                !s.unsuppress("gone@initech.example", NOW + 3)
                    .await
                    .expect("unsuppress")
            );

            assert!(
                s.suppression_for(&email("jane@acme.com"))
                    .await
                    .expect("read")
                    .is_none()
            );
            let still = s
                .suppression_for(&gone)
                .await
                .expect("read")
                .expect("forgotten stays");
            assert_eq!(
                (still.value, still.reason),
                (forgotten_value(&gone), "forgotten".to_string()),
                "{}",
                s.engine
            );
            assert_eq!(
                s.int("SELECT COUNT(*) FROM events WHERE kind = 'unsuppressed'")
                    .await,
                2,
                "{}",
                s.engine
            );

            // Enrolling after unsuppress works again.
            let id = s
                .upsert_leads(&[lead("jane@acme.com")], "t", NOW, false)
                .await
                .expect("upsert")[0]
                .0;
            let jane = email("jane@acme.com");
            let out = s
                .enroll(
                    SEQ,
                    &[EnrollRequest {
                        lead: id,
                        email: &jane,
                        first_step: "intro",
                        due_at: NOW,
                    }],
                    NOW,
                    false,
                )
                .await
                .expect("enroll");
            assert!(
                matches!(out[0], EnrollOutcome::Enrolled(_)),
                "{}: {out:?}",
                s.engine
            );
            s.close().await;
        },
    )
    .await;
}

#[tokio::test]
async fn forget_erases_the_person_and_keeps_only_a_hash_and_anonymous_event_counts() {
    for_each_store("forget_erases_the_person_and_keeps_only_a_hash_and_anonymous_event_counts", |s| async move {
        let ids = enrolled(&s, &["jane.doe@acme.com", "joe@acme.com"]).await;
        let mut jane_record = named_lead("jane.doe@acme.com", "Jane", "Acme");
        jane_record.custom.insert("note".into(), "met Jane Doe at a fair".into());
        s.upsert_leads(&[jane_record], "t", NOW, false).await.expect("upsert");
        let (jane, joe) = (ids[0], ids[1]);
        s.enroll("inbound-fast", &[EnrollRequest { lead: jane, email: &email("jane.doe@acme.com"), first_step: "welcome", due_at: NOW }], NOW, false)
            .await
            .expect("enroll");

        // A sent touch, a task and a reply quoting her, for both leads.
        for id in [jane, joe] {
            let enrollment = s.enrollments_for_lead(id).await.expect("read")[0].id.0;
            let lead_id = id.0;
            s.exec(&format!(
                "INSERT INTO touches (enrollment_id, lead_id, sequence_id, step_id, kind, state, mailbox, message_id, subject, sent_at, created_at) \
                 VALUES ({enrollment}, {lead_id}, '{SEQ}', 'intro', 'email', 'sent', 'ana', '<m{lead_id}@x>', 'Hi there', {NOW}, {NOW})"
            ))
            .await;
            let touch = s.int(&format!("SELECT id FROM touches WHERE lead_id = {lead_id}")).await;
            s.exec(&format!(
                "INSERT INTO tasks (touch_id, enrollment_id, lead_id, kind, note, state, due_at, created_at) \
                 VALUES ({touch}, {enrollment}, {lead_id}, 'call', 'call them', 'open', {NOW}, {NOW})"
            ))
            .await;
            let mut ev = NewEvent::about(EventKind::Replied, Some(id));
            ev.sequence = Some(SEQ);
            ev.touch = Some(touch);
            ev.data = serde_json::json!({ "from": "jane.doe@acme.com", "snippet": "Thanks, Jane" });
            s.record_event(&ev, NOW + 10).await.expect("event");
        }
        s.suppress("jane.doe@acme.com", "unsubscribed", None, NOW + 20).await.expect("suppress");
        // A meeting booked by a scheduling tool whose source names her, and the rep's notice of
        // her reply, whose webhook is still pending.
        let mut ev = NewEvent::about(EventKind::MeetingBooked, Some(jane));
        ev.data = serde_json::json!({ "source": "Calendly: intro with Jane Doe" });
        s.record_event(&ev, NOW + 11).await.expect("event");
        s.exec(&format!(
            "INSERT INTO notifications (id, kind, rep, lead_id, state, next_attempt_at, created_at) \
             VALUES (77, 'reply', 'ana', {}, 'pending', {NOW}, {NOW})",
            jane.0
        ))
        .await;
        s.exec(&format!(
            "INSERT INTO webhook_deliveries (endpoint, event_id, kind, payload, state, next_attempt_at, created_at) \
             VALUES ('notify:ana', -77, 'notification', '{{\"text\":\"Jane Doe replied\"}}', 'pending', {NOW}, {NOW})"
        ))
        .await;
        // An outgoing webhook about each reply, still pending: its payload names the person.
        for id in [jane, joe] {
            s.exec(&format!(
                "INSERT INTO webhook_deliveries (endpoint, event_id, kind, payload, state, next_attempt_at, created_at) \
                 SELECT 'crm', id, kind, '{{\"email\":\"x\"}}', 'pending', {NOW}, {NOW} FROM events WHERE lead_id = {} AND kind = 'replied'",
                id.0
            ))
            .await;
        }
        let events_before = s.int("SELECT COUNT(*) FROM events").await;
        let jane_events = s.events_for_lead(jane).await.expect("read").len() as i64;
        assert!(jane_events >= 4, "{}: {jane_events}", s.engine);

        assert!(s.forget(&email("jane.doe@acme.com"), NOW + 30).await.expect("forget"), "{}", s.engine);

        assert!(s.lead_by_email(&email("jane.doe@acme.com")).await.expect("read").is_none());
        assert!(s.enrollments_for_lead(jane).await.expect("read").is_empty(), "{}", s.engine);
        assert!(s.touches_for_lead(jane).await.expect("read").is_empty(), "{}", s.engine);
        for table in ["enrollments", "touches", "tasks", "inbound", "notifications"] {
            assert_eq!(s.int(&format!("SELECT COUNT(*) FROM {table} WHERE lead_id = {}", jane.0)).await, 0, "{}: {table}", s.engine);
        }
        // Her lead row stays, with nothing about her, so that her events keep one lead.
        let row = s
            .rows(&format!("SELECT email, first_name, last_name, company, custom, account_id, forgotten_at FROM leads WHERE id = {}", jane.0))
            .await;
        assert_eq!(
            row,
            vec![vec![
                Some(format!("forgotten:{}", jane.0)),
                None,
                None,
                None,
                Some("{}".to_string()),
                None,
                Some((NOW + 30).to_string())
            ]],
            "{}",
            s.engine
        );
        assert_eq!(s.count_leads().await.expect("count"), 1, "{}: only Joe is a lead now", s.engine);
        assert!(s.unowned_leads().await.expect("read").iter().all(|l| l.id != jane), "{}", s.engine);
        // Reports keep their numbers: the events stay, on her anonymous lead, with no details;
        // their enrollment and touch ids are negated (no row has them, none ever will).
        assert_eq!(s.int("SELECT COUNT(*) FROM events").await, events_before, "{}", s.engine);
        assert_eq!(
            s.int(&format!("SELECT COUNT(*) FROM events WHERE lead_id = {} AND (enrollment_id IS NULL OR enrollment_id < 0) AND (touch_id IS NULL OR touch_id < 0)", jane.0)).await,
            jane_events,
            "{}",
            s.engine
        );
        assert_eq!(s.int(&format!("SELECT COUNT(*) FROM events WHERE lead_id = {} AND data = '{{}}' AND kind = 'replied'", jane.0)).await, 1);
        assert_eq!(
            s.int("SELECT COUNT(*) FROM events WHERE data LIKE '%jane%' OR data LIKE '%Jane%'").await,
            1,
            "{}: only joe's own reply event still quotes text",
            s.engine
        );
        assert_eq!(
            s.int("SELECT COUNT(*) FROM leads WHERE email LIKE '%jane%' OR custom LIKE '%Jane%' OR first_name = 'Jane'").await,
            0,
            "{}",
            s.engine
        );
        // Her pending webhooks (the reply's, the notice's) are dropped, not sent; Joe's stays.
        assert_eq!(
            s.int("SELECT COUNT(*) FROM webhook_deliveries").await,
            1,
            "{}",
            s.engine
        );
        assert_eq!(
            s.int(&format!("SELECT COUNT(*) FROM webhook_deliveries d JOIN events e ON e.id = d.event_id WHERE e.lead_id = {}", joe.0)).await,
            1
        );
        // Joe is untouched.
        assert_eq!(s.enrollments_for_lead(joe).await.expect("read").len(), 1);
        assert_eq!(s.touches_for_lead(joe).await.expect("read").len(), 1);
        assert_eq!(s.int(&format!("SELECT COUNT(*) FROM tasks WHERE lead_id = {}", joe.0)).await, 1);

        // The list holds her hash, not her address, anywhere.
        let list = s.suppressions().await.expect("list");
        let hash = forgotten_value(&email("jane.doe@acme.com"));
        assert!(hash.starts_with("sha256:") && hash.len() == 7 + 64, "{hash}");
        assert_eq!(list.iter().map(|r| (r.value.as_str(), r.reason.as_str())).collect::<Vec<_>>(), [(hash.as_str(), "forgotten")]);
        assert_eq!(s.int("SELECT COUNT(*) FROM suppressions WHERE value LIKE '%jane%' OR note LIKE '%jane%'").await, 0);
        assert_eq!(
            s.suppressed_among(&[&email("jane.doe@acme.com")]).await.expect("read").len(),
            1,
            "{}: still never emailed",
            s.engine
        );

        // Forgetting again, or someone never stored, only keeps (or adds) the hash.
        assert!(!s.forget(&email("jane.doe@acme.com"), NOW + 40).await.expect("forget"));
        assert!(!s.forget(&email("stranger@acme.com"), NOW + 40).await.expect("forget"));
        assert_eq!(s.suppressions().await.expect("list").len(), 2, "{}", s.engine);
        s.close().await;
    })
    .await;
}

#[tokio::test]
async fn a_finished_enrollment_is_not_stopped_by_a_later_suppression() {
    for_each_store(
        "a_finished_enrollment_is_not_stopped_by_a_later_suppression",
        |s| async move {
            let ids = enrolled(&s, &["jane@acme.com"]).await;
            s.change_state(ids[0], None, Finished, "done", NOW)
                .await
                .expect("finish");
            s.suppress("jane@acme.com", "bounced", None, NOW + 1)
                .await
                .expect("suppress");
            let e = &s.enrollments_for_lead(ids[0]).await.expect("read")[0];
            assert_eq!(
                (e.state, e.outcome.as_deref()),
                (Finished, Some("finished")),
                "{}",
                s.engine
            );
            s.close().await;
        },
    )
    .await;
}

/// SQLite hands a deleted row's id to the next row; a forgotten person's anonymous events must
/// not then read as the history of someone else's enrollment or touch.
#[tokio::test]
async fn events_of_a_forgotten_person_never_attach_to_a_later_enrollment() {
    for_each_store("events_of_a_forgotten_person_never_attach_to_a_later_enrollment", |s| async move {
        let mut touch_ids = Vec::new();
        let mut enrollment_ids = Vec::new();
        for address in ["gone@acme.com", "next@acme.com"] {
            let id = enrolled(&s, &[address]).await[0];
            let enrollment = s.enrollments_for_lead(id).await.expect("read")[0].id.0;
            s.exec(&format!(
                "INSERT INTO touches (enrollment_id, lead_id, sequence_id, step_id, kind, state, created_at) \
                 VALUES ({enrollment}, {}, '{SEQ}', 'intro', 'email', 'sent', {NOW})",
                id.0
            ))
            .await;
            let touch = s.int(&format!("SELECT id FROM touches WHERE lead_id = {}", id.0)).await;
            let mut ev = NewEvent::about(EventKind::Sent, Some(id));
            ev.enrollment = Some(drumbeat::store::EnrollmentId(enrollment));
            ev.touch = Some(touch);
            s.record_event(&ev, NOW + 1).await.expect("event");
            enrollment_ids.push(enrollment);
            touch_ids.push(touch);
            if address == "gone@acme.com" {
                s.forget(&email(address), NOW + 2).await.expect("forget");
            }
        }
        let (enrollment, touch) = (enrollment_ids[1], touch_ids[1]);
        assert_eq!(
            s.int(&format!("SELECT COUNT(*) FROM events WHERE enrollment_id = {enrollment}")).await,
            2,
            "{}: only next@'s enrolled and sent events belong to its enrollment",
            s.engine
        );
        assert_eq!(s.int(&format!("SELECT COUNT(*) FROM events WHERE touch_id = {touch}")).await, 1, "{}", s.engine);
        // gone@'s arrival, enrollment and email: on its anonymous lead, still counted in
        // reports, tied to its own enrollment and touch by their negated ids.
        let gone = s.int("SELECT id FROM leads WHERE email LIKE 'forgotten:%'").await;
        assert_eq!(s.int(&format!("SELECT COUNT(*) FROM events WHERE lead_id = {gone}")).await, 3, "{}: counts stay", s.engine);
        assert_eq!(
            s.int(&format!("SELECT COUNT(*) FROM events WHERE lead_id = {gone} AND enrollment_id = {}", -enrollment_ids[0])).await,
            2,
            "{}",
            s.engine
        );
        assert_eq!(
            s.int(&format!("SELECT COUNT(*) FROM events WHERE lead_id = {gone} AND touch_id = {}", -touch_ids[0])).await,
            1,
            "{}",
            s.engine
        );
        s.close().await;
    })
    .await;
}

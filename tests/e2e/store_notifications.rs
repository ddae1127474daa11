//! The reps' notifications in the store, on both engines: a human reply queues its notice in
//! the transaction that records it (an auto-reply queues none), leases keep two daemons off
//! one notice, only the lease holder records, the webhook hand-off is made once, a digest is
//! queued once per occurrence, and the digest's queries read the right rows.

use drumbeat::domain::InboundKind;
use drumbeat::policy::StopRules;
use drumbeat::store::{EnrollRequest, InboundFact, NotifyOutcome};

use crate::support::{NOW, StoreCase, email, for_each_store, named_lead};

fn fact<'a>(kind: &'a str, key: &'a str, refs: &'a [String]) -> InboundFact<'a> {
    InboundFact {
        mailbox: "ana",
        folder: "INBOX",
        message_key: key,
        refs,
        address: Some("jane@acme.com"),
        kind: InboundKind::parse(kind).expect("a kind"),
        reason: None,
        rule: "test",
        evidence: serde_json::json!({ "subject": "Re: Hello", "snippet": "Yes, tell me more." }),
        until: None,
        received_at: NOW,
        intent: None,
        left: false,
        referred: &[],
    }
}

fn policy(_: &str) -> StopRules {
    StopRules {
        stop_account: false,
        pause_on_auto_reply: false,
    }
}

/// Jane (Acme), stored and enrolled in `cold`, its intro due at `due`; her lead id.
async fn jane_in_cold(s: &StoreCase, due: i64) -> drumbeat::store::LeadId {
    let ids = s
        .upsert_leads(
            &[named_lead("jane@acme.com", "Jane", "Acme")],
            "t",
            NOW,
            false,
        )
        .await
        .expect("upsert");
    let address = email("jane@acme.com");
    s.enroll(
        "cold",
        &[EnrollRequest {
            lead: ids[0].0,
            email: &address,
            first_step: "intro",
            due_at: due,
        }],
        NOW,
        false,
    )
    .await
    .expect("enroll");
    ids[0].0
}

#[tokio::test]
async fn a_reply_queues_one_notice_that_one_daemon_sends() {
    for_each_store(
        "a_reply_queues_one_notice_that_one_daemon_sends",
        |s| async move {
            let e = s.engine;
            jane_in_cold(&s, NOW).await;
            s.exec("UPDATE enrollments SET mailbox = 'ana'").await;

            // An out-of-office: nothing to tell.
            let none: Vec<String> = Vec::new();
            s.record_inbound(
                &fact("auto-reply", "<ooo@acme.com>", &none),
                None,
                &policy,
                NOW,
            )
            .await
            .expect("record");
            assert_eq!(s.int("SELECT COUNT(*) FROM notifications").await, 0, "{e}");

            // A reply: one notice, with the event and the inbound row it is about.
            s.record_inbound(
                &fact("reply", "<r1@acme.com>", &none),
                None,
                &policy,
                NOW + 1,
            )
            .await
            .expect("record");
            s.record_inbound(
                &fact("reply", "<r1@acme.com>", &none),
                None,
                &policy,
                NOW + 2,
            )
            .await
            .expect("the same message again");
            assert_eq!(s.int("SELECT COUNT(*) FROM notifications").await, 1, "{e}");
            let row = s
                .rows(
                    "SELECT n.kind, n.mailbox, ev.kind, i.message_key FROM notifications n \
                       JOIN events ev ON ev.id = n.event_id JOIN inbound i ON i.id = n.inbound_id",
                )
                .await;
            assert_eq!(
                row[0],
                ["reply", "ana", "replied", "<r1@acme.com>"].map(|v| Some(v.to_string())),
                "{e}"
            );

            // Two daemons: one gets it.
            let a = s
                .lease_notifications("a", NOW + 2, 900, 32)
                .await
                .expect("lease");
            let b = s
                .lease_notifications("b", NOW + 2, 900, 32)
                .await
                .expect("lease");
            assert_eq!((a.len(), b.len()), (1, 0), "{e}");
            let n = &a[0];
            assert_eq!((n.kind.as_str(), n.rep.as_deref()), ("reply", None), "{e}");
            let notice = s
                .reply_notice(n.id)
                .await
                .expect("notice")
                .expect("a notice");
            assert_eq!(notice.email, "jane@acme.com", "{e}");
            assert_eq!(notice.first_name.as_deref(), Some("Jane"), "{e}");
            assert_eq!(notice.sequence_id.as_deref(), Some("cold"), "{e}");
            assert_eq!(notice.evidence["snippet"], "Yes, tell me more.", "{e}");
            assert_eq!(notice.received_at, NOW, "{e}");
            assert!(notice.inbound_id.is_some(), "{e}");

            // Only the holder fixes, hands over and records.
            let text = ["subject", "body", "chat"];
            assert!(
                !s.fix_notification(n.id, "b", "ana", text, "<m@x>")
                    .await
                    .expect("fix")
            );
            assert!(
                s.fix_notification(n.id, "a", "ana", text, "<m@x>")
                    .await
                    .expect("fix")
            );
            for _ in 0..2 {
                s.queue_notification_webhook(
                    n.id,
                    "a",
                    "notify:ana",
                    "notify-reply",
                    "{}",
                    NOW + 3,
                )
                .await
                .expect("hand over");
            }
            assert_eq!(
                s.rows("SELECT endpoint, event_id FROM webhook_deliveries")
                    .await,
                [[Some("notify:ana".to_string()), Some((-n.id).to_string())]],
                "{e}"
            );
            let retry = NotifyOutcome::Retry {
                error: "421".into(),
                at: NOW + 60,
            };
            assert!(
                !s.record_notification(n.id, "b", &retry, NOW + 3)
                    .await
                    .expect("record")
            );
            assert!(
                s.record_notification(n.id, "a", &retry, NOW + 3)
                    .await
                    .expect("record")
            );
            assert!(
                s.lease_notifications("b", NOW + 59, 900, 32)
                    .await
                    .expect("lease")
                    .is_empty(),
                "{e}"
            );
            let again = s
                .lease_notifications("b", NOW + 60, 900, 32)
                .await
                .expect("lease");
            assert_eq!(again.len(), 1, "{e}");
            assert_eq!(
                again[0].subject.as_deref(),
                Some("subject"),
                "the text is kept: {e}"
            );
            assert!(again[0].webhook_at.is_some(), "{e}");
            assert_eq!(again[0].attempts, 1, "{e}");
            let sent = NotifyOutcome::Sent { emailed: true };
            assert!(
                s.record_notification(n.id, "b", &sent, NOW + 61)
                    .await
                    .expect("record")
            );
            assert_eq!(
                s.rows("SELECT state, subject, body, chat, emailed_at FROM notifications")
                    .await,
                [[
                    Some("sent".to_string()),
                    None,
                    None,
                    None,
                    Some((NOW + 61).to_string())
                ]],
                "sent, and its words are not kept: {e}"
            );
            assert!(
                s.lease_notifications("a", NOW + 999, 900, 32)
                    .await
                    .expect("lease")
                    .is_empty(),
                "{e}"
            );

            s.close().await;
        },
    )
    .await;
}

#[tokio::test]
async fn a_digest_is_queued_once_per_occurrence_and_remembered() {
    for_each_store(
        "a_digest_is_queued_once_per_occurrence_and_remembered",
        |s| async move {
            let e = s.engine;
            assert_eq!(s.last_digest("ana").await.expect("read"), None, "{e}");
            let text = ["s", "b", "c"];
            assert!(
                s.queue_digest("ana", NOW, text, "<d1@x>", NOW + 5)
                    .await
                    .expect("queue"),
                "{e}"
            );
            assert!(
                !s.queue_digest("ana", NOW, text, "<d2@x>", NOW + 6)
                    .await
                    .expect("queue"),
                "{e}"
            );
            assert!(
                s.queue_digest("ben", NOW, text, "<d3@x>", NOW + 6)
                    .await
                    .expect("queue"),
                "{e}"
            );
            assert_eq!(s.last_digest("ana").await.expect("read"), Some(NOW), "{e}");
            let due = s
                .lease_notifications("a", NOW + 6, 900, 32)
                .await
                .expect("lease");
            assert_eq!(due.len(), 2, "{e}");
            assert_eq!(due[0].rep.as_deref(), Some("ana"), "{e}");
            assert_eq!(due[0].message_id.as_deref(), Some("<d1@x>"), "{e}");
            assert_eq!(due[0].body.as_deref(), Some("b"), "{e}");
            s.close().await;
        },
    )
    .await;
}

#[tokio::test]
async fn the_digest_queries_read_waiting_replies_due_steps_and_counts() {
    for_each_store(
        "the_digest_queries_read_waiting_replies_due_steps_and_counts",
        |s| async move {
            let e = s.engine;
            jane_in_cold(&s, NOW + 100).await;
            s.exec("UPDATE leads SET owner = 'ana'").await;
            let due = s.steps_due_before(NOW + 101).await.expect("due");
            assert_eq!(due.len(), 1, "{e}");
            assert_eq!(
                (
                    due[0].sequence_id.as_str(),
                    due[0].step_id.as_deref(),
                    due[0].owner.as_deref()
                ),
                ("cold", Some("intro"), Some("ana")),
                "{e}"
            );
            assert!(
                s.steps_due_before(NOW + 100).await.expect("due").is_empty(),
                "{e}"
            );

            let none: Vec<String> = Vec::new();
            s.exec("UPDATE enrollments SET mailbox = 'ana'").await;
            s.record_inbound(
                &fact("reply", "<r1@acme.com>", &none),
                None,
                &policy,
                NOW + 1,
            )
            .await
            .expect("record");
            let waiting = s.waiting_replies().await.expect("replies");
            assert_eq!(waiting.len(), 1, "{e}");
            assert_eq!(waiting[0].email, "jane@acme.com", "{e}");
            assert_eq!(waiting[0].evidence["subject"], "Re: Hello", "{e}");
            assert!(
                s.handle_reply(waiting[0].id, Some("interested"), NOW + 2)
                    .await
                    .expect("handle")
            );
            // The rep's outcome is an event too, for reports (credited to the reply's mailbox).
            let handled = s
                .event_counts(&["reply-handled"], NOW + 2, NOW + 3)
                .await
                .expect("counts");
            assert_eq!(handled.len(), 1, "{e}");
            assert_eq!(
                (handled[0].count, handled[0].mailbox.as_deref()),
                (1, Some("ana")),
                "{e}"
            );
            // Handled once: a second time changes nothing.
            assert!(
                !s.handle_reply(waiting[0].id, Some("interested"), NOW + 2)
                    .await
                    .expect("handle again")
            );
            assert!(
                s.waiting_replies().await.expect("replies").is_empty(),
                "{e}"
            );

            let counts = s
                .event_counts(&["replied", "enrolled", "sent"], NOW, NOW + 2)
                .await
                .expect("counts");
            let get = |kind: &str| {
                counts
                    .iter()
                    .filter(|c| c.kind == kind)
                    .map(|c| c.count)
                    .sum::<i64>()
            };
            assert_eq!(
                (get("replied"), get("enrolled"), get("sent")),
                (1, 1, 0),
                "{e}"
            );
            let replied = counts
                .iter()
                .find(|c| c.kind == "replied")
                .expect("replied");
            assert_eq!(replied.mailbox.as_deref(), Some("ana"), "{e}");
            assert!(
                s.event_counts(&["replied"], NOW + 2, NOW + 9)
                    .await
                    .expect("counts")
                    .is_empty(),
                "{e}"
            );

            // Forgetting the person takes their pending notice with them.
            assert_eq!(
                s.int("SELECT COUNT(*) FROM notifications WHERE state = 'pending'")
                    .await,
                1,
                "{e}"
            );
            assert!(
                s.forget(&email("jane@acme.com"), NOW + 3)
                    .await
                    .expect("forget")
            );
            assert_eq!(s.int("SELECT COUNT(*) FROM notifications").await, 0, "{e}");
            s.close().await;
        },
    )
    .await;
}

//! The inbox watcher's store, on both engines: a folder's read position that only moves
//! forward within one UIDVALIDITY (who watches which mailbox: `store_holders`).

use drumbeat::store::FolderState;

use crate::support::{NOW, for_each_store};

#[tokio::test]
async fn a_folder_position_moves_forward_and_resets_with_a_new_uidvalidity() {
    for_each_store(
        "a_folder_position_moves_forward_and_resets_with_a_new_uidvalidity",
        |s| async move {
            let at = |v: i64, uid: i64| FolderState {
                uidvalidity: v,
                last_uid: uid,
                synced_at: NOW,
            };
            assert_eq!(s.folder_state("ana", "INBOX").await.expect("read"), None);
            s.set_folder_state("ana", "INBOX", at(7, 10))
                .await
                .expect("write");
            // An older position (a slower writer) never moves it back.
            s.set_folder_state("ana", "INBOX", at(7, 4))
                .await
                .expect("write");
            assert_eq!(
                s.folder_state("ana", "INBOX").await.expect("read"),
                Some(at(7, 10))
            );
            // The server renumbered the folder: the new numbering starts over.
            s.set_folder_state("ana", "INBOX", at(9, 3))
                .await
                .expect("write");
            assert_eq!(
                s.folder_state("ana", "INBOX").await.expect("read"),
                Some(at(9, 3))
            );
            assert_eq!(s.folder_state("ana", "Junk").await.expect("read"), None);
            s.close().await;
        },
    )
    .await;
}

/// A referral reply, recorded on both engines: the referring lead stops (not the account, though
/// the rules say stop-account), the named person becomes a lead with `referred_by` and gets the
/// rep's `referral` task, nobody is enrolled, and the report by intent counts the reply.
#[tokio::test]
async fn a_referral_makes_a_lead_and_a_task_and_the_report_counts_it_by_intent() {
    use drumbeat::domain::InboundKind;
    use drumbeat::intent::{Intent, Referred};
    use drumbeat::policy::StopRules;
    use drumbeat::store::{EnrollRequest, Grouping, InboundFact};

    use crate::support::{email, named_lead};

    for_each_store(
        "a_referral_makes_a_lead_and_a_task_and_the_report_counts_it_by_intent",
        |s| async move {
            let leads = [
                named_lead("ann@acme.com", "Ann", "Acme"),
                named_lead("bob@acme.com", "Bob", "Acme"),
            ];
            let ids = s.upsert_leads(&leads, "t", NOW, false).await.expect("upsert");
            let addresses = [email("ann@acme.com"), email("bob@acme.com")];
            let requests: Vec<_> = ids
                .iter()
                .zip(&addresses)
                .map(|((id, _), a)| EnrollRequest {
                    lead: *id,
                    email: a,
                    first_step: "intro",
                    due_at: NOW + 60,
                })
                .collect();
            s.enroll("cold", &requests, NOW, false).await.expect("enroll");
            // Someone who unsubscribed is never made a lead again, referral or not.
            s.suppress("gone@acme.com", "unsubscribed", None, NOW)
                .await
                .expect("suppress");
            let referred = [
                Referred {
                    email: "jane.doe@acme.com".into(),
                    name: Some("Jane Doe".into()),
                },
                Referred {
                    email: "gone@acme.com".into(),
                    name: None,
                },
            ];
            let fact = InboundFact {
                mailbox: "ana",
                folder: "INBOX",
                message_key: "<referral-1@acme.com>",
                refs: &[],
                address: Some("ann@acme.com"),
                kind: InboundKind::Reply,
                reason: None,
                rule: "human reply",
                evidence: serde_json::json!({
                    "subject": "Re: Hello",
                    "intent": "referral",
                    "intent_words": ["please contact"],
                }),
                until: None,
                received_at: NOW + 100,
                intent: Some(Intent::Referral),
                left: false,
                referred: &referred,
            };
            let account = |_: &str| StopRules {
                stop_account: true,
                pause_on_auto_reply: true,
            };
            s.record_inbound(&fact, None, &account, NOW + 100)
                .await
                .expect("record");
            let states = s
                .rows("SELECT l.email, e.state, e.outcome FROM enrollments e JOIN leads l ON l.id = e.lead_id ORDER BY l.email")
                .await;
            let some = |v: &str| Some(v.to_string());
            assert_eq!(
                states,
                vec![
                    vec![some("ann@acme.com"), some("replied"), some("referral")],
                    vec![some("bob@acme.com"), some("active"), None],
                ],
                "{}",
                s.engine
            );
            let jane = s
                .lead_by_email(&email("jane.doe@acme.com"))
                .await
                .expect("read")
                .expect("Jane is a lead");
            let r = &jane.record;
            assert_eq!(r.custom.get("referred_by").map(String::as_str), Some("ann@acme.com"));
            assert_eq!((r.first_name.as_deref(), r.last_name.as_deref()), (Some("Jane"), Some("Doe")));
            assert_eq!(r.company.as_deref(), Some("Acme"));
            assert_eq!(jane.source.as_deref(), Some("referral"));
            let tasks = s
                .rows("SELECT t.kind, l.email, t.sequence_id, t.state FROM tasks t JOIN leads l ON l.id = t.lead_id")
                .await;
            assert_eq!(
                tasks,
                vec![vec![some("referral"), some("jane.doe@acme.com"), some("cold"), some("open")]],
                "{}",
                s.engine
            );
            let n = s
                .int("SELECT COUNT(*) FROM enrollments e JOIN leads l ON l.id = e.lead_id WHERE l.email = 'jane.doe@acme.com'")
                .await;
            assert_eq!(n, 0, "a referral enrolls nobody by itself");
            let gone = s
                .int("SELECT COUNT(*) FROM leads WHERE email = 'gone@acme.com'")
                .await;
            assert_eq!(gone, 0, "a suppressed address is no lead: {}", s.engine);
            let rows = s
                .report_activity(Grouping::Intent, NOW, NOW + 1_000)
                .await
                .expect("report");
            let replied: Vec<_> = rows
                .iter()
                .filter(|r| r.replied > 0)
                .map(|r| (r.key.clone(), r.replied))
                .collect();
            assert_eq!(replied, vec![(vec![some("referral")], 1)], "{}", s.engine);
            s.close().await;
        },
    )
    .await;
}

//! `Store::upsert_leads` and the lead reads, on both engines.

use drumbeat::lead::LeadRecord;
use drumbeat::store::UpsertOutcome::{New, Unchanged, Updated};

use crate::support::{NOW, email, for_each_store, lead, named_lead};

fn outcomes(
    result: &[(drumbeat::store::LeadId, drumbeat::store::UpsertOutcome)],
) -> Vec<drumbeat::store::UpsertOutcome> {
    result.iter().map(|(_, o)| *o).collect()
}

#[tokio::test]
async fn upsert_reports_new_then_unchanged_then_updated() {
    for_each_store(
        "upsert_reports_new_then_unchanged_then_updated",
        |s| async move {
            let jane = named_lead("Jane@Acme.com", "Jane", "Acme");
            let first = s
                .upsert_leads(std::slice::from_ref(&jane), "csv:a.csv", NOW, false)
                .await
                .expect("upsert");
            assert_eq!(outcomes(&first), [New], "{}", s.engine);

            let second = s
                .upsert_leads(std::slice::from_ref(&jane), "csv:b.csv", NOW + 10, false)
                .await
                .expect("upsert");
            assert_eq!(outcomes(&second), [Unchanged], "{}", s.engine);
            assert_eq!(second[0].0, first[0].0, "{}: same lead, same id", s.engine);
            let stored = s
                .lead_by_email(&email("jane@acme.com"))
                .await
                .expect("read")
                .expect("stored");
            assert_eq!(
                stored.updated_at, NOW,
                "{}: an unchanged lead keeps updated_at",
                s.engine
            );

            let changed = LeadRecord {
                title: Some("VP Sales".into()),
                ..jane.clone()
            };
            let third = s
                .upsert_leads(&[changed], "csv:c.csv", NOW + 20, false)
                .await
                .expect("upsert");
            assert_eq!(outcomes(&third), [Updated], "{}", s.engine);
            assert_eq!(third[0].0, first[0].0, "{}", s.engine);

            let stored = s
                .lead_by_email(&email("jane@acme.com"))
                .await
                .expect("read")
                .expect("stored");
            assert_eq!(stored.id, first[0].0);
            assert_eq!(stored.record.email.as_str(), "jane@acme.com");
            assert_eq!(stored.record.first_name.as_deref(), Some("Jane"));
            assert_eq!(stored.record.company.as_deref(), Some("Acme"));
            assert_eq!(
                stored.record.title.as_deref(),
                Some("VP Sales"),
                "{}",
                s.engine
            );
            assert_eq!(stored.account.as_deref(), Some("acme.com"));
            assert_eq!(
                stored.source.as_deref(),
                Some("csv:a.csv"),
                "{}: source says where it came from first",
                s.engine
            );
            assert_eq!(
                (stored.created_at, stored.updated_at),
                (NOW, NOW + 20),
                "{}",
                s.engine
            );
            assert_eq!(s.count_leads().await.expect("count"), 1);
            s.close().await;
        },
    )
    .await;
}

#[tokio::test]
async fn a_field_left_empty_later_keeps_the_stored_value_and_custom_fields_merge() {
    for_each_store(
        "a_field_left_empty_later_keeps_the_stored_value_and_custom_fields_merge",
        |s| async move {
            let mut full = named_lead("li@fabrikam.example", "Li", "Fabrikam");
            full.last_name = Some("Wei".into());
            full.timezone = Some("Asia/Singapore".into());
            full.phone = Some("+65 5550 1234".into());
            full.owner = Some("ana".into());
            full.custom.insert("interest".into(), "demo".into());
            full.custom.insert("source_list".into(), "webinar".into());
            s.upsert_leads(&[full.clone()], "t", NOW, false)
                .await
                .expect("upsert");

            // A later export with most cells empty, one custom field changed and one new.
            let mut sparse = lead("li@fabrikam.example");
            sparse.title = Some("SDR Manager".into());
            sparse.custom.insert("interest".into(), "pricing".into());
            sparse.custom.insert("region".into(), "APAC".into());
            let out = s
                .upsert_leads(&[sparse], "t", NOW + 1, false)
                .await
                .expect("upsert");
            assert_eq!(outcomes(&out), [Updated], "{}", s.engine);

            let stored = s
                .lead_by_email(&email("li@fabrikam.example"))
                .await
                .expect("read")
                .expect("stored")
                .record;
            let expected = LeadRecord {
                title: Some("SDR Manager".into()),
                custom: [
                    ("interest", "pricing"),
                    ("region", "APAC"),
                    ("source_list", "webinar"),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
                ..full
            };
            assert_eq!(stored, expected, "{}", s.engine);

            // Only empty cells again: nothing to change.
            let out = s
                .upsert_leads(&[lead("li@fabrikam.example")], "t", NOW + 2, false)
                .await
                .expect("upsert");
            assert_eq!(outcomes(&out), [Unchanged], "{}", s.engine);
            s.close().await;
        },
    )
    .await;
}

#[tokio::test]
async fn duplicate_emails_in_one_batch_later_records_win() {
    for_each_store(
        "duplicate_emails_in_one_batch_later_records_win",
        |s| async move {
            let mut a1 = named_lead("a@acme.com", "Ann", "Acme");
            a1.title = Some("CEO".into());
            let b = named_lead("b@acme.com", "Bob", "Acme");
            let a2 = named_lead("A@ACME.COM", "Anna", "Acme"); // same address, other spelling
            let a3 = named_lead("a@acme.com", "Anna", "Acme"); // adds nothing new
            let out = s
                .upsert_leads(&[a1, b, a2, a3], "t", NOW, false)
                .await
                .expect("upsert");
            assert_eq!(
                outcomes(&out),
                [New, New, Updated, Unchanged],
                "{}",
                s.engine
            );
            assert_eq!(out[0].0, out[2].0, "{}: one lead, one id", s.engine);
            assert_eq!(out[0].0, out[3].0, "{}", s.engine);
            assert_ne!(out[0].0, out[1].0, "{}", s.engine);

            let a = s
                .lead_by_email(&email("a@acme.com"))
                .await
                .expect("read")
                .expect("stored")
                .record;
            assert_eq!(
                a.first_name.as_deref(),
                Some("Anna"),
                "{}: the later record wins",
                s.engine
            );
            assert_eq!(
                a.title.as_deref(),
                Some("CEO"),
                "{}: its empty title keeps the earlier one",
                s.engine
            );
            assert_eq!(s.count_leads().await.expect("count"), 2);
            s.close().await;
        },
    )
    .await;
}

/// Importing the same file twice changes nothing, even when it names one person twice with
/// different data (two rows from two CRM exports pasted together).
#[tokio::test]
async fn the_same_batch_twice_is_unchanged_even_with_conflicting_duplicates() {
    for_each_store(
        "the_same_batch_twice_is_unchanged_even_with_conflicting_duplicates",
        |s| async move {
            let batch = [
                named_lead("a@acme.com", "Ann", "Acme Inc."),
                named_lead("b@acme.com", "Bob", "Acme"),
                named_lead("a@acme.com", "Anna", "Acme"),
            ];
            let first = s
                .upsert_leads(&batch, "t", NOW, false)
                .await
                .expect("upsert");
            assert_eq!(outcomes(&first), [New, New, Updated], "{}", s.engine);
            let second = s
                .upsert_leads(&batch, "t", NOW + 60, false)
                .await
                .expect("upsert");
            assert_eq!(
                outcomes(&second),
                [Unchanged, Unchanged, Unchanged],
                "{}",
                s.engine
            );

            let a = s
                .lead_by_email(&email("a@acme.com"))
                .await
                .expect("read")
                .expect("stored");
            assert_eq!(a.record.first_name.as_deref(), Some("Anna"), "{}", s.engine);
            assert_eq!(a.record.company.as_deref(), Some("Acme"), "{}", s.engine);
            assert_eq!(
                a.updated_at, NOW,
                "{}: nothing was written the second time",
                s.engine
            );
            s.close().await;
        },
    )
    .await;
}

#[tokio::test]
async fn batches_larger_than_one_statement_keep_order_ids_and_duplicates() {
    for_each_store(
        "batches_larger_than_one_statement_keep_order_ids_and_duplicates",
        |s| async move {
            // 1,300 records: every 7th repeats an earlier address with a new title, so repeats
            // fall in other statement chunks than their first occurrence.
            let mut batch = Vec::new();
            for i in 0..1_300 {
                let k = if i % 7 == 6 { i / 2 } else { i };
                let mut r = lead(&format!("p{k}@co{}.example", k % 5));
                if k != i {
                    r.title = Some(format!("title {i}"));
                }
                batch.push(r);
            }
            let mut seen = std::collections::HashSet::new();
            let expected: Vec<_> = batch
                .iter()
                .map(|r| {
                    if seen.insert(r.email.clone()) {
                        New
                    } else {
                        Updated
                    }
                })
                .collect();
            assert!(
                expected.iter().filter(|o| **o == Updated).count() > 50,
                "the batch has repeats"
            );
            let out = s
                .upsert_leads(&batch, "t", NOW, false)
                .await
                .expect("upsert");
            assert_eq!(outcomes(&out), expected, "{}", s.engine);
            let distinct = seen.len() as i64;
            assert_eq!(
                s.count_leads().await.expect("count"),
                distinct,
                "{}",
                s.engine
            );

            let ids: Vec<_> = out.iter().map(|(id, _)| *id).collect();
            let by_id = s.leads_by_ids(&ids).await.expect("read");
            assert_eq!(by_id.len() as i64, distinct, "{}", s.engine);
            for (r, (id, _)) in batch.iter().zip(&out) {
                assert_eq!(
                    by_id[id].record.email, r.email,
                    "{}: the id of each record is its lead's",
                    s.engine
                );
            }
            assert_eq!(
                s.int("SELECT COUNT(*) FROM accounts").await,
                5,
                "{}",
                s.engine
            );

            let again = s
                .upsert_leads(&batch, "t", NOW + 1, false)
                .await
                .expect("upsert");
            assert!(
                outcomes(&again).iter().all(|o| *o == Unchanged),
                "{}: second run changed something",
                s.engine
            );
            s.close().await;
        },
    )
    .await;
}

#[tokio::test]
async fn dry_run_upsert_reports_outcomes_but_stores_nothing() {
    for_each_store(
        "dry_run_upsert_reports_outcomes_but_stores_nothing",
        |s| async move {
            s.upsert_leads(
                &[named_lead("old@acme.com", "Old", "Acme")],
                "t",
                NOW,
                false,
            )
            .await
            .expect("upsert");
            let batch = [
                named_lead("old@acme.com", "Olga", "Acme"),
                named_lead("new@globex.example", "Nia", "Globex"),
                named_lead("old@acme.com", "Olga", "Acme"),
            ];
            let out = s
                .upsert_leads(&batch, "t", NOW + 1, true)
                .await
                .expect("dry run");
            assert_eq!(outcomes(&out), [Updated, New, Unchanged], "{}", s.engine);

            assert_eq!(s.count_leads().await.expect("count"), 1, "{}", s.engine);
            assert!(
                s.lead_by_email(&email("new@globex.example"))
                    .await
                    .expect("read")
                    .is_none()
            );
            let old = s
                .lead_by_email(&email("old@acme.com"))
                .await
                .expect("read")
                .expect("stored");
            assert_eq!(
                old.record.first_name.as_deref(),
                Some("Old"),
                "{}",
                s.engine
            );
            assert_eq!(old.updated_at, NOW);
            assert_eq!(
                s.int("SELECT COUNT(*) FROM accounts").await,
                1,
                "{}: no account for globex",
                s.engine
            );
            s.close().await;
        },
    )
    .await;
}

#[tokio::test]
async fn accounts_are_made_per_company_domain_and_never_for_free_mail() {
    for_each_store(
        "accounts_are_made_per_company_domain_and_never_for_free_mail",
        |s| async move {
            let batch = [
                named_lead("jane@acme.com", "Jane", "Acme Corp"),
                named_lead("joe@acme.com", "Joe", "ACME"),
                named_lead("sam@globex.example", "Sam", "Globex"),
                named_lead("someone@gmail.com", "Some", "Freelance"),
                lead("other@GMAIL.com"),
            ];
            s.upsert_leads(&batch, "t", NOW, false)
                .await
                .expect("upsert");
            // Later batches reuse the account.
            s.upsert_leads(&[lead("kim@acme.com")], "t", NOW + 1, false)
                .await
                .expect("upsert");

            let accounts = s
                .rows("SELECT domain, name FROM accounts ORDER BY domain")
                .await;
            assert_eq!(
                accounts,
                [
                    [Some("acme.com".to_string()), Some("Acme Corp".to_string())],
                    [
                        Some("globex.example".to_string()),
                        Some("Globex".to_string())
                    ],
                ],
                "{}",
                s.engine
            );
            for (address, account) in [
                ("jane@acme.com", Some("acme.com")),
                ("joe@acme.com", Some("acme.com")),
                ("kim@acme.com", Some("acme.com")),
                ("sam@globex.example", Some("globex.example")),
                ("someone@gmail.com", None),
                ("other@gmail.com", None),
            ] {
                let l = s
                    .lead_by_email(&email(address))
                    .await
                    .expect("read")
                    .expect("stored");
                assert_eq!(l.account.as_deref(), account, "{}: {address}", s.engine);
            }
            assert_eq!(
                s.int("SELECT COUNT(DISTINCT account_id) FROM leads WHERE account_id IS NOT NULL")
                    .await,
                2,
                "{}",
                s.engine
            );
            s.close().await;
        },
    )
    .await;
}

#[tokio::test]
async fn reads_of_missing_leads_are_empty() {
    for_each_store("reads_of_missing_leads_are_empty", |s| async move {
        assert!(
            s.lead_by_email(&email("nobody@acme.com"))
                .await
                .expect("read")
                .is_none()
        );
        let out = s
            .upsert_leads(&[lead("x@acme.com")], "t", NOW, false)
            .await
            .expect("upsert");
        let found = s
            .leads_by_ids(&[out[0].0, drumbeat::store::LeadId(out[0].0.0 + 1000)])
            .await
            .expect("read");
        assert_eq!(
            found.keys().copied().collect::<Vec<_>>(),
            [out[0].0],
            "{}",
            s.engine
        );
        assert!(
            s.upsert_leads(&[], "t", NOW, false)
                .await
                .expect("empty upsert")
                .is_empty()
        );
        s.close().await;
    })
    .await;
}

/// Every field comes back exactly as written, whatever it holds: quotes, backslashes, line
/// breaks, control characters, NUL, emoji, JSON look-alikes (SQLite receives a batch's rows as
/// JSON, except batches holding NUL). Writing the same leads again changes nothing.
#[tokio::test]
async fn odd_text_in_any_field_round_trips_and_stays_unchanged() {
    for_each_store(
        "odd_text_in_any_field_round_trips_and_stays_unchanged",
        |s| async move {
            let odd = [
                "O'Brien \"the 2nd\"",
                "back\\slash \\u0041 \\n",
                "line\nbreak\r\ttab",
                "bell\u{7} esc\u{1b} del\u{7f}",
                "😀 Müller – 東京",
                "{\"a\": [1, null]}",
                "null",
                "12345678901234567890",
            ];
            let mut plain = Vec::new();
            for (i, text) in odd.iter().enumerate() {
                let mut r = named_lead(&format!("p{i}@acme{i}.example"), text, text);
                r.last_name = Some(format!("{text}!"));
                r.title = Some(text.to_string());
                r.phone = Some(text.to_string());
                r.owner = Some(text.to_string());
                r.custom.insert(format!("k {text}"), text.to_string());
                plain.push(r);
            }
            let mut with_nul = named_lead("nul@initech.example", "a\0b", "Nul\0Co");
            with_nul.custom.insert("x\0".into(), "y\0z".into());
            // PostgreSQL text cannot hold NUL at all; SQLite's can.
            let batches: Vec<Vec<LeadRecord>> = if s.engine == "sqlite" {
                vec![plain.clone(), vec![with_nul.clone(), plain[0].clone()]]
            } else {
                vec![plain.clone()]
            };
            for (n, batch) in batches.iter().enumerate() {
                let first = s
                    .upsert_leads(batch, "csv:odd \"file\".csv", NOW, false)
                    .await
                    .expect("upsert");
                if n == 0 {
                    assert!(outcomes(&first).iter().all(|o| *o == New), "{}", s.engine);
                }
                for r in batch {
                    let stored = s
                        .lead_by_email(&r.email)
                        .await
                        .expect("read")
                        .expect("stored");
                    assert_eq!(&stored.record, r, "{}", s.engine);
                    assert_eq!(stored.source.as_deref(), Some("csv:odd \"file\".csv"));
                }
                let again = s
                    .upsert_leads(batch, "t", NOW + 1, false)
                    .await
                    .expect("upsert");
                assert!(
                    outcomes(&again).iter().all(|o| *o == Unchanged),
                    "{}: {:?}",
                    s.engine,
                    outcomes(&again)
                );
            }
            s.close().await;
        },
    )
    .await;
}

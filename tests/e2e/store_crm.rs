//! The CRM sync's queue on both engines: a CRM's read position starts at the newest event,
//! queuing is idempotent per CRM and event, a job is leased to one daemon at a time, only the
//! lease holder records an attempt, and the queue's counts and last error are what `status`
//! shows.

use drumbeat::store::{CrmAttempt, EventKind, LeadId, NewCrmJob, NewEvent};

use crate::support::{NOW, for_each_store, lead};

#[tokio::test]
async fn crm_queue_is_idempotent_leased_ordered_and_counted() {
    for_each_store(
        "crm_queue_is_idempotent_leased_ordered_and_counted",
        |s| async move {
            let e = s.engine;
            let ids = s
                .upsert_leads(&[lead("jane@acme.com")], "t", NOW, false)
                .await
                .expect("upsert");
            let jane = ids[0].0;
            s.record_event(&NewEvent::about(EventKind::Suppressed, Some(jane)), NOW)
                .await
                .expect("event");
            let start = s.crm_cursor("hubspot", NOW).await.expect("cursor");
            assert!(start >= 1, "{e}: a new CRM starts at the newest event");
            assert_eq!(
                s.crm_cursor("hubspot", NOW).await.expect("cursor"),
                start,
                "{e}"
            );

            let jobs: Vec<NewCrmJob> = (1..=3)
                .map(|n| NewCrmJob {
                    crm: "hubspot".into(),
                    kind: "email-out".into(),
                    lead_id: jane.0,
                    event_id: start + n,
                    payload: format!("{{\"n\":{n}}}"),
                })
                .collect();
            let added = s
                .enqueue_crm_jobs("hubspot", &jobs, start + 3, NOW)
                .await
                .expect("enqueue");
            assert_eq!(added, 3, "{e}");
            let again = s
                .enqueue_crm_jobs("hubspot", &jobs, start + 3, NOW)
                .await
                .expect("enqueue");
            assert_eq!(again, 0, "{e}: feeding twice queues nothing more");
            assert_eq!(
                s.crm_cursor("hubspot", NOW).await.expect("cursor"),
                start + 3,
                "{e}"
            );

            let pending = s.crm_pending("hubspot", 10).await.expect("pending");
            assert_eq!(
                pending.iter().map(|j| j.event_id).collect::<Vec<_>>(),
                [start + 1, start + 2, start + 3],
                "{e}"
            );
            let first = &pending[0];
            assert!(
                s.lease_crm_job(first.id, "a", NOW, NOW + 120)
                    .await
                    .expect("lease"),
                "{e}"
            );
            assert!(
                !s.lease_crm_job(first.id, "b", NOW, NOW + 120)
                    .await
                    .expect("lease"),
                "{e}: held by a"
            );
            let retry = CrmAttempt::Retry {
                error: "POST /x: HTTP 503".into(),
                at: NOW + 60,
            };
            assert!(
                !s.record_crm_attempt(first.id, "b", &retry, NOW)
                    .await
                    .expect("record"),
                "{e}"
            );
            assert!(
                s.record_crm_attempt(first.id, "a", &retry, NOW)
                    .await
                    .expect("record"),
                "{e}"
            );
            let q = &s.crm_queues().await.expect("queues")[0];
            assert_eq!(
                (q.pending, q.retrying, q.done, q.failed),
                (3, 1, 0, 0),
                "{e}"
            );
            assert_eq!(q.last_error.as_deref(), Some("POST /x: HTTP 503"), "{e}");
            assert_eq!(q.oldest_pending_at, Some(NOW), "{e}");
            assert_eq!(s.next_crm_due().await.expect("next"), Some(NOW), "{e}");

            // Its lease was given back with the attempt: b may take it when it is due.
            assert!(
                s.lease_crm_job(first.id, "b", NOW + 60, NOW + 180)
                    .await
                    .expect("lease"),
                "{e}"
            );
            let done = CrmAttempt::Done("901".into());
            assert!(
                s.record_crm_attempt(first.id, "b", &done, NOW + 60)
                    .await
                    .expect("record"),
                "{e}"
            );
            let q = &s.crm_queues().await.expect("queues")[0];
            assert_eq!((q.pending, q.retrying, q.done), (2, 0, 1), "{e}");
            assert_eq!(q.last_error, None, "{e}: the latest attempt worked");
            assert_eq!(
                s.crm_pending("hubspot", 10).await.expect("pending")[0].event_id,
                start + 2,
                "{e}"
            );

            // The lead's record, remembered once.
            assert_eq!(
                s.crm_record("hubspot", jane.0).await.expect("record"),
                None,
                "{e}"
            );
            s.save_crm_record("hubspot", jane.0, "501", NOW)
                .await
                .expect("save");
            s.save_crm_record("hubspot", jane.0, "501", NOW)
                .await
                .expect("save again");
            assert_eq!(
                s.crm_record("hubspot", jane.0)
                    .await
                    .expect("record")
                    .as_deref(),
                Some("501"),
                "{e}"
            );
            // Not in a sequence: no stage is read, and a stage stops nothing.
            assert!(
                s.crm_records_due("hubspot", NOW, 10)
                    .await
                    .expect("due")
                    .is_empty(),
                "{e}"
            );
            assert_eq!(
                s.record_crm_stage(LeadId(jane.0), "hubspot", "customer", NOW)
                    .await
                    .expect("stage"),
                0,
                "{e}"
            );
        },
    )
    .await;
}

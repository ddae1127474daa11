//! The outgoing webhooks' queue on both engines: read positions start at the newest event,
//! queuing is idempotent per endpoint and event, leases keep two daemons off one delivery,
//! and only the lease holder records an attempt.

use std::path::Path;

use drumbeat::config::Config;
use drumbeat::store::{Attempt, EventKind, NewDelivery, NewEvent};
use drumbeat::webhooks::Dispatcher;

use crate::support::{NOW, for_each_store, lead};

#[tokio::test]
async fn webhook_queue_is_idempotent_leased_and_guarded() {
    for_each_store(
        "webhook_queue_is_idempotent_leased_and_guarded",
        |s| async move {
            let e = s.engine;
            let ids = s
                .upsert_leads(&[lead("jane@acme.com")], "t", NOW, false)
                .await
                .expect("upsert");
            let jane = ids[0].0;
            let old = NewEvent::about(EventKind::Suppressed, Some(jane));
            s.record_event(&old, NOW).await.expect("event");

            // A new endpoint starts at the newest event: the history is not its business.
            let start = s.webhook_cursors(&["a"], NOW).await.expect("cursors")[0];
            assert!(start >= 1, "{e}");
            for _ in 0..3 {
                let mut ev = NewEvent::about(EventKind::Replied, Some(jane));
                ev.sequence = Some("cold-outbound");
                s.record_event(&ev, NOW + 1).await.expect("event");
            }
            let events = s.events_after(start, 10).await.expect("events");
            assert_eq!(events.len(), 3, "{e}");
            assert_eq!(events[0].email.as_deref(), Some("jane@acme.com"), "{e}");
            assert_eq!(events[0].kind, "replied", "{e}");
            assert!(events.windows(2).all(|w| w[0].id < w[1].id), "{e}");

            let new: Vec<NewDelivery> = events
                .iter()
                .map(|ev| NewDelivery {
                    endpoint: "a".into(),
                    event_id: ev.id,
                    kind: ev.kind.clone(),
                    payload: format!("{{\"n\":{}}}", ev.id),
                })
                .collect();
            let last = events[2].id;
            assert_eq!(
                s.enqueue_webhooks(&new, &[("a", last)], NOW + 2)
                    .await
                    .expect("enqueue"),
                3,
                "{e}"
            );
            // A second daemon feeding the same events queues nothing more.
            assert_eq!(
                s.enqueue_webhooks(&new, &[("a", last)], NOW + 2)
                    .await
                    .expect("enqueue"),
                0,
                "{e}"
            );
            assert_eq!(
                s.webhook_cursors(&["a"], NOW).await.expect("cursors")[0],
                last,
                "{e}"
            );

            // Leases: two daemons never hold the same delivery.
            let one = s
                .lease_webhook_deliveries("i1", NOW + 2, 60, 2)
                .await
                .expect("lease");
            let two = s
                .lease_webhook_deliveries("i2", NOW + 2, 60, 2)
                .await
                .expect("lease");
            assert_eq!((one.len(), two.len()), (2, 1), "{e}");
            assert!(two.iter().all(|d| one.iter().all(|o| o.id != d.id)), "{e}");
            assert!(
                s.lease_webhook_deliveries("i1", NOW + 3, 60, 10)
                    .await
                    .expect("lease")
                    .is_empty(),
                "{e}"
            );

            // Only the holder records; a delivered row stays delivered.
            let ok = Attempt::Delivered { status: 204 };
            assert!(
                !s.record_webhook_attempt(one[0].id, "i2", &ok, NOW + 3)
                    .await
                    .expect("record"),
                "{e}"
            );
            assert!(
                s.record_webhook_attempt(one[0].id, "i1", &ok, NOW + 3)
                    .await
                    .expect("record"),
                "{e}"
            );
            assert!(
                !s.record_webhook_attempt(one[0].id, "i1", &ok, NOW + 3)
                    .await
                    .expect("record"),
                "{e}"
            );
            let retry = Attempt::Retry {
                status: Some(500),
                error: "HTTP 500".into(),
                at: NOW + 100,
            };
            assert!(
                s.record_webhook_attempt(one[1].id, "i1", &retry, NOW + 3)
                    .await
                    .expect("record"),
                "{e}"
            );
            let gone = Attempt::Failed {
                status: None,
                error: "cannot connect".into(),
            };
            assert!(
                s.record_webhook_attempt(two[0].id, "i2", &gone, NOW + 4)
                    .await
                    .expect("record"),
                "{e}"
            );

            // The retry is due at its time, with its attempt counted and the same event.
            assert!(
                s.lease_webhook_deliveries("i1", NOW + 99, 60, 10)
                    .await
                    .expect("lease")
                    .is_empty(),
                "{e}"
            );
            let again = s
                .lease_webhook_deliveries("i2", NOW + 100, 60, 10)
                .await
                .expect("lease");
            assert_eq!(again.len(), 1, "{e}");
            assert_eq!(
                (again[0].id, again[0].event_id, again[0].attempts),
                (one[1].id, one[1].event_id, 1),
                "{e}"
            );
            // A stopping daemon gives its leases back: due again at once.
            assert_eq!(
                s.release_webhook_leases("i2").await.expect("release"),
                1,
                "{e}"
            );
            assert_eq!(
                s.lease_webhook_deliveries("i1", NOW + 100, 60, 10)
                    .await
                    .expect("lease")
                    .len(),
                1,
                "{e}"
            );

            let q = s.webhook_queues().await.expect("queues");
            assert_eq!(q.len(), 1, "{e}");
            let q = &q[0];
            assert_eq!(
                (q.pending, q.retrying, q.failed, q.delivered),
                (1, 1, 1, 1),
                "{e}: {q:?}"
            );
            assert_eq!(q.last_error.as_deref(), Some("cannot connect"), "{e}");
            assert_eq!(q.last_attempt_at, Some(NOW + 4), "{e}");
            assert_eq!(q.last_delivered_at, Some(NOW + 3), "{e}");
            s.close().await;
        },
    )
    .await;
}

#[tokio::test]
async fn feeder_stops_before_a_fresh_hole_in_event_ids_and_run_once_goes_past_it() {
    for_each_store(
        "feeder_stops_before_a_fresh_hole_in_event_ids_and_run_once_goes_past_it",
        |s| async move {
            let e = s.engine;
            let config = Config::parse(
                "[[webhook]]\nname = \"team\"\nurl = \"http://127.0.0.1:9/\"\nevents = [\"*\"]\nformat = \"slack\"\n",
                "config.toml",
                Path::new("config.toml"),
                Path::new("."),
            )
            .expect("config");
            let mut feeder = Dispatcher::new(&config).expect("dispatcher");
            assert_eq!(feeder.feed(&s, NOW, true).await.expect("feed"), 0, "{e}");
            for _ in 0..3 {
                let ev = NewEvent::about(EventKind::Suppressed, None);
                s.record_event(&ev, NOW).await.expect("event");
            }
            // The middle event's id looks taken by a transaction that has not committed yet.
            let middle = s.int("SELECT MIN(id) + 1 FROM events").await;
            s.exec(&format!("DELETE FROM events WHERE id = {middle}")).await;
            assert_eq!(feeder.feed(&s, NOW, true).await.expect("feed"), 1, "{e}");
            assert_eq!(feeder.feed(&s, NOW, true).await.expect("feed"), 0, "{e}: waits");
            // `run --once` does not wait.
            assert_eq!(feeder.feed(&s, NOW, false).await.expect("feed"), 1, "{e}");
            let queued = s.int("SELECT COUNT(*) FROM webhook_deliveries").await;
            assert_eq!(queued, 2, "{e}");
            s.close().await;
        },
    )
    .await;
}

//! Mailbox leases on both engines (issue 18): one daemon holds a mailbox at a time, a lease
//! that runs out moves (at once to the daemon it is meant for, after a grace to any other),
//! every change of hands makes the epoch grow, and a claim decided under an old epoch is
//! refused without stopping or suppressing anyone. The inbox watcher's row follows the holder.

use drumbeat::store::{Claimed, HOLDER_GRACE, LEASE_SECONDS};

use crate::support::claims::{EPOCH, ME, email_claim, enrolled_and_leased};
use crate::support::{NOW, for_each_store};

#[tokio::test]
async fn a_mailbox_is_held_by_one_daemon_and_moves_when_its_lease_runs_out() {
    for_each_store(
        "a_mailbox_is_held_by_one_daemon_and_moves_when_its_lease_runs_out",
        |s| async move {
            let until = |t: i64| t + LEASE_SECONDS;
            let held = s
                .hold_mailboxes("a", &["ana", "ben"], NOW, NOW, until(NOW))
                .await
                .expect("hold");
            assert_eq!(
                held.into_iter().collect::<Vec<_>>(),
                [("ana".into(), 1), ("ben".into(), 1)]
            );
            // b cannot take a live lease; a renews under the same epoch.
            let b = s
                .hold_mailboxes("b", &["ana"], NOW + 5, NOW + 5, until(NOW + 5))
                .await
                .expect("hold");
            assert!(b.is_empty(), "{}: {b:?}", s.engine);
            let a = s
                .hold_mailboxes("a", &["ana"], NOW + 10, NOW + 10, until(NOW + 10))
                .await
                .expect("renew");
            assert_eq!(a.get("ana"), Some(&1));
            // a stops renewing: once its lease ran out, b (meant for it) takes it at once,
            // under a new epoch, and a's renewal gets nothing.
            let t = until(NOW + 10) + 1;
            let b = s
                .hold_mailboxes("b", &["ana"], t, t, until(t))
                .await
                .expect("take");
            assert_eq!(b.get("ana"), Some(&2), "{}", s.engine);
            let a = s
                .hold_mailboxes("a", &["ana"], t + 1, t + 1, until(t + 1))
                .await
                .expect("renew");
            assert!(a.is_empty(), "{}: {a:?}", s.engine);
            // A daemon it is not meant for waits out the grace (ben's lease ended at NOW + 20).
            let c = s
                .hold_mailboxes("c", &["ben"], t, t - HOLDER_GRACE, until(t))
                .await
                .expect("orphan");
            assert!(c.is_empty(), "{}: within the grace: {c:?}", s.engine);
            let later = until(NOW) + HOLDER_GRACE + 1;
            let c = s
                .hold_mailboxes("c", &["ben"], later, later - HOLDER_GRACE, until(later))
                .await
                .expect("orphan");
            assert_eq!(c.get("ben"), Some(&2), "{}", s.engine);
            // A clean stop gives its leases back: another takes them at once.
            s.give_back_all_mailboxes("b", 0).await.expect("give back");
            let a = s
                .hold_mailboxes("a", &["ana"], later, later, until(later))
                .await
                .expect("take");
            assert_eq!(a.get("ana"), Some(&3), "{}", s.engine);
            let rows = s.mailbox_holders().await.expect("holders");
            let view: Vec<(&str, &str, i64, i64)> = rows
                .iter()
                .map(|h| (h.mailbox.as_str(), h.owner.as_str(), h.epoch, h.since))
                .collect();
            assert_eq!(
                view,
                [("ana", "a", 3, later), ("ben", "c", 2, later)],
                "{}",
                s.engine
            );
            // Two live daemons, the ones that share; a `run --once` is not one of them.
            s.daemon_started("a", 1, later, false).await.expect("a");
            s.daemon_started("c", 2, later, false).await.expect("c");
            s.daemon_started("once", 3, later, true)
                .await
                .expect("once");
            s.daemon_started("gone", 4, NOW, false).await.expect("gone");
            let live = s.live_daemons(later - 20).await.expect("live");
            assert_eq!(live, ["a", "c"], "{}", s.engine);
            s.close().await;
        },
    )
    .await;
}

#[tokio::test]
async fn a_claim_under_a_lost_lease_is_refused_and_stops_nobody() {
    for_each_store(
        "a_claim_under_a_lost_lease_is_refused_and_stops_nobody",
        |s| async move {
            let leased = enrolled_and_leased(&s, &["ann@acme.example"]).await;
            let (l, address) = &leased[0];
            // ME froze: its lease of `rep` (until NOW + 60) ran out and daemon-b took it.
            let t = NOW + 61;
            let b = s
                .hold_mailboxes("daemon-b", &["rep"], t, t, t + LEASE_SECONDS)
                .await
                .expect("take");
            assert_eq!(b.get("rep"), Some(&(EPOCH + 1)));
            let out = s
                .claim(ME, &[email_claim(l, address, 1)], t + 1)
                .await
                .expect("claim");
            assert_eq!(out, [Claimed::Lost], "{}: the fence refuses it", s.engine);
            assert_eq!(
                s.int("SELECT COUNT(*) FROM touches").await,
                0,
                "{}: nothing claimed",
                s.engine
            );
            assert_eq!(
                s.rows(&format!(
                    "SELECT state FROM enrollments WHERE id = {}",
                    l.enrollment.0
                ))
                .await,
                [[Some("active".to_string())]],
                "{}: not stopped as if suppressed",
                s.engine
            );
            assert_eq!(
                s.int("SELECT COUNT(*) FROM enrollments WHERE lease_owner IS NULL")
                    .await,
                1,
                "{}: its lease dropped, so it is due again for the holder",
                s.engine
            );
            // The new holder leases it (ME's enrollment lease ran out too) and claims it.
            let t = NOW + 2 * LEASE_SECONDS + 61;
            let again = s.lease_due("daemon-b", t, 10).await.expect("lease");
            assert_eq!(again.len(), 1, "{}: still due", s.engine);
            let mut claim = email_claim(&again[0], address, 2);
            if let drumbeat::store::ClaimKind::Email { epoch, .. } = &mut claim.kind {
                *epoch = EPOCH + 1;
            }
            let out = s.claim("daemon-b", &[claim], t).await.expect("claim");
            assert!(
                matches!(out[0], Claimed::Go { .. }),
                "{}: {out:?}",
                s.engine
            );
            s.close().await;
        },
    )
    .await;
}

#[tokio::test]
async fn the_inbox_watcher_row_follows_the_mailbox_holder() {
    for_each_store(
        "the_inbox_watcher_row_follows_the_mailbox_holder",
        |s| async move {
            assert!(
                !s.lease_mailbox("ana", "a", NOW, NOW + 180)
                    .await
                    .expect("watch"),
                "{}: nobody watches a mailbox it does not hold",
                s.engine
            );
            s.hold_mailboxes("a", &["ana"], NOW, NOW, NOW + 20)
                .await
                .expect("hold");
            assert!(
                s.lease_mailbox("ana", "a", NOW, NOW + 180)
                    .await
                    .expect("watch")
            );
            assert!(
                !s.lease_mailbox("ana", "b", NOW + 5, NOW + 185)
                    .await
                    .expect("watch")
            );
            // a dies; b holds the mailbox after 20 s and watches at once, though a's watcher
            // row said 180 s; a's watcher gets nothing.
            s.hold_mailboxes("b", &["ana"], NOW + 21, NOW + 21, NOW + 41)
                .await
                .expect("hold");
            assert!(
                s.lease_mailbox("ana", "b", NOW + 21, NOW + 201)
                    .await
                    .expect("watch")
            );
            assert!(
                !s.lease_mailbox("ana", "a", NOW + 22, NOW + 202)
                    .await
                    .expect("watch")
            );
            let (_, owner, ..) = s.watcher_states().await.expect("states").remove(0);
            assert_eq!(owner, "b", "{}", s.engine);
            s.close().await;
        },
    )
    .await;
}

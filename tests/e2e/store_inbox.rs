//! The inbox watcher's store, on both engines: one watcher per mailbox across daemons (the
//! lease), and a folder's read position that only moves forward within one UIDVALIDITY.

use drumbeat::store::FolderState;

use crate::support::{NOW, for_each_store};

#[tokio::test]
async fn one_daemon_watches_a_mailbox_until_its_lease_runs_out_or_it_lets_go() {
    for_each_store(
        "one_daemon_watches_a_mailbox_until_its_lease_runs_out_or_it_lets_go",
        |s| async move {
            assert!(
                s.lease_mailbox("ana", "a", NOW, NOW + 180)
                    .await
                    .expect("lease")
            );
            // b cannot take it while a's lease runs; a renews it.
            assert!(
                !s.lease_mailbox("ana", "b", NOW + 10, NOW + 190)
                    .await
                    .expect("lease")
            );
            assert!(
                s.lease_mailbox("ana", "a", NOW + 60, NOW + 240)
                    .await
                    .expect("renew")
            );
            assert!(
                !s.lease_mailbox("ana", "b", NOW + 200, NOW + 380)
                    .await
                    .expect("lease")
            );
            // a dies: once its lease ran out, b takes over, and a cannot renew.
            assert!(
                s.lease_mailbox("ana", "b", NOW + 241, NOW + 421)
                    .await
                    .expect("take over")
            );
            assert!(
                !s.lease_mailbox("ana", "a", NOW + 242, NOW + 422)
                    .await
                    .expect("renew")
            );
            // Another mailbox is independent.
            assert!(
                s.lease_mailbox("ben", "a", NOW + 242, NOW + 422)
                    .await
                    .expect("lease")
            );
            // b stops cleanly: a can take it at once.
            s.release_mailbox("ana", "b").await.expect("release");
            assert!(
                s.lease_mailbox("ana", "a", NOW + 250, NOW + 430)
                    .await
                    .expect("lease")
            );
            s.close().await;
        },
    )
    .await;
}

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

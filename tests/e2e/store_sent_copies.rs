//! The Sent folder's queue on both engines: a copy is queued in the transaction that records
//! the send, once whatever records it again; taken by one daemon at a time; retried, given up
//! or done; counted per mailbox for `status`.

use drumbeat::store::{Next, SentRecord};

use crate::support::claims::claimed_intros;
use crate::support::{NOW, StoreCase, for_each_store};

/// The message text of touch `n` (UTF-8, as a server takes it).
fn message(n: usize) -> String {
    format!(
        "From: Rita <rep@example.com>\r\nMessage-ID: <claim-test-{n}@example.com>\r\n\
         Subject: Hello \u{e9}t\u{e9}\r\n\r\nHi \"there\"\\ {n}\r\n"
    )
}

/// Claims the intros of `addresses` and records them sent, with a copy for each.
async fn sent_with_copies(s: &StoreCase, addresses: &[&str]) -> Vec<i64> {
    let (_, touches) = claimed_intros(s, addresses).await;
    let sent: Vec<SentRecord> = touches
        .iter()
        .enumerate()
        .map(|(n, t)| SentRecord {
            touch: *t,
            response: "250 ok".into(),
            new_thread: true,
            next: Next::Finished,
            at: NOW,
            copy: Some(message(n)),
        })
        .collect();
    s.record_sent_many(&sent).await.expect("sent");
    // Recorded again (a retry of the batch): nothing more is queued.
    s.record_sent_many(&sent).await.expect("sent again");
    touches
}

#[tokio::test]
async fn a_sent_copy_is_queued_once_taken_once_retried_and_done() {
    for_each_store(
        "a_sent_copy_is_queued_once_taken_once_retried_and_done",
        |s| async move {
            let touches = sent_with_copies(&s, &["ada@example.com", "bob@example.com"]).await;
            let e = s.engine;
            assert_eq!(s.int("SELECT COUNT(*) FROM sent_copies").await, 2, "{e}");
            assert_eq!(s.sent_copy_mailboxes(NOW).await.expect("m"), ["rep"], "{e}");
            let due = s.due_sent_copies("rep", NOW, 10).await.expect("due");
            assert_eq!(due.len(), 2, "{e}");
            assert_eq!(due[0].touch, touches[0], "{e}");
            assert_eq!(due[0].message, message(0), "{e}: the bytes as sent");
            assert_eq!(due[0].message_id, "<claim-test-0@example.com>", "{e}");
            assert_eq!(due[0].attempts, 0, "{e}");

            // One daemon takes each; a second cannot meanwhile.
            let (a, b) = (due[0].id, due[1].id);
            assert!(
                s.claim_sent_copy(a, NOW, NOW + 300).await.expect("claim"),
                "{e}"
            );
            assert!(
                !s.claim_sent_copy(a, NOW, NOW + 300).await.expect("again"),
                "{e}"
            );
            assert!(
                s.claim_sent_copy(b, NOW, NOW + 300).await.expect("claim"),
                "{e}"
            );
            assert!(
                s.due_sent_copies("rep", NOW, 10)
                    .await
                    .expect("due")
                    .is_empty(),
                "{e}"
            );

            // `a` goes in; `b` fails and waits a minute.
            s.sent_copy_appended(a, "Sent", NOW)
                .await
                .expect("appended");
            s.sent_copy_failed(b, "connection refused", Some(NOW + 60), NOW)
                .await
                .expect("failed");
            let counts = s.sent_copy_counts().await.expect("counts");
            assert_eq!(counts.len(), 1, "{e}");
            assert_eq!((counts[0].pending, counts[0].failed), (1, 0), "{e}");
            assert_eq!(
                counts[0].error.as_deref(),
                Some("connection refused"),
                "{e}"
            );
            assert!(
                s.due_sent_copies("rep", NOW + 59, 10)
                    .await
                    .expect("due")
                    .is_empty()
            );
            let again = s.due_sent_copies("rep", NOW + 60, 10).await.expect("due");
            assert_eq!((again.len(), again[0].attempts), (1, 1), "{e}");

            // Given up: counted as failed, never due again; the done one keeps no bytes.
            assert!(
                s.claim_sent_copy(b, NOW + 60, NOW + 360)
                    .await
                    .expect("claim")
            );
            s.sent_copy_failed(b, "no Sent folder", None, NOW + 60)
                .await
                .expect("give up");
            let counts = s.sent_copy_counts().await.expect("counts");
            assert_eq!((counts[0].pending, counts[0].failed), (0, 1), "{e}");
            assert!(
                s.sent_copy_mailboxes(NOW + 86_400)
                    .await
                    .expect("m")
                    .is_empty()
            );
            assert_eq!(
                s.int("SELECT COUNT(*) FROM sent_copies WHERE state = 'appended' AND message = ''")
                    .await,
                1,
                "{e}"
            );
            // A late "appended" for `b` changes nothing once it is given up.
            s.sent_copy_appended(b, "Sent", NOW + 70)
                .await
                .expect("noop");
            assert_eq!(
                s.sent_copy_counts().await.expect("counts")[0].failed,
                1,
                "{e}"
            );
        },
    )
    .await;
}

//! Claiming on both engines (DESIGN.md invariant 2): a stop or a suppression recorded after an
//! enrollment was leased but before its step is claimed always wins; the claim says so and no
//! touch is made, so nothing can go to SMTP.

use drumbeat::enrollment::EnrollmentState;
use drumbeat::store::{Claimed, EnrollmentId};

use crate::support::claims::{ME, email_claim, enrolled_and_leased};
use crate::support::{NOW, StoreCase, for_each_store};

async fn touches_of(s: &StoreCase, e: EnrollmentId) -> Vec<Vec<Option<String>>> {
    s.rows(&format!(
        "SELECT state, message_id FROM touches WHERE enrollment_id = {}",
        e.0
    ))
    .await
}

async fn enrollment_state(s: &StoreCase, e: EnrollmentId) -> (String, Option<String>) {
    let r = s
        .rows(&format!(
            "SELECT state, outcome FROM enrollments WHERE id = {}",
            e.0
        ))
        .await;
    (
        r[0][0].clone().expect("state"),
        r[0].get(1).cloned().flatten(),
    )
}

#[tokio::test]
async fn stop_recorded_between_lease_and_claim_makes_the_claim_lost() {
    for_each_store(
        "stop_recorded_between_lease_and_claim_makes_the_claim_lost",
        |s| async move {
            let leased =
                enrolled_and_leased(&s, &["stopped@acme.example", "kept@other.example"]).await;
            // A reply (or `drumbeat stop`) lands after the lease, before the claim.
            let changed = s
                .change_state(
                    leased[0].0.lead,
                    None,
                    EnrollmentState::Stopped,
                    "replied",
                    NOW + 1,
                )
                .await
                .expect("stop");
            assert_eq!(changed.len(), 1, "{}", s.engine);

            let claims: Vec<_> = leased
                .iter()
                .enumerate()
                .map(|(i, (l, e))| email_claim(l, e, i))
                .collect();
            let out = s.claim(ME, &claims, NOW + 2).await.expect("claim");
            assert_eq!(out[0], Claimed::Lost, "{}", s.engine);
            assert!(
                matches!(out[1], Claimed::Go { attempt: 1, .. }),
                "{}: {:?}",
                s.engine,
                out[1]
            );
            // Nothing to send for the stopped one; the other is `sending` with its Message-ID.
            assert!(touches_of(&s, leased[0].0.enrollment).await.is_empty());
            assert_eq!(
                touches_of(&s, leased[1].0.enrollment).await,
                vec![vec![
                    Some("sending".to_string()),
                    Some("<claim-test-1@example.com>".to_string())
                ]]
            );
            assert_eq!(
                enrollment_state(&s, leased[0].0.enrollment).await.0,
                "stopped"
            );
            s.close().await;
        },
    )
    .await;
}

#[tokio::test]
async fn claim_by_another_instance_than_the_lease_holder_is_lost() {
    for_each_store(
        "claim_by_another_instance_than_the_lease_holder_is_lost",
        |s| async move {
            let leased = enrolled_and_leased(&s, &["one@acme.example"]).await;
            // A second daemon sees nothing to lease while the first holds it…
            assert!(
                s.lease_due("daemon-b", NOW + 1, 100)
                    .await
                    .expect("lease")
                    .is_empty(),
                "{}",
                s.engine
            );
            // …and cannot claim what it did not lease.
            let (l, e) = &leased[0];
            let out = s
                .claim("daemon-b", &[email_claim(l, e, 0)], NOW + 1)
                .await
                .expect("claim");
            assert_eq!(out, vec![Claimed::Lost], "{}", s.engine);
            assert!(touches_of(&s, l.enrollment).await.is_empty());
            // The holder still can; claiming the same step again is AlreadyDone.
            let out = s
                .claim(ME, &[email_claim(l, e, 0)], NOW + 2)
                .await
                .expect("claim");
            assert!(matches!(out[0], Claimed::Go { .. }), "{}", s.engine);
            s.exec(&format!(
                "UPDATE enrollments SET lease_owner = '{ME}', lease_until = {} WHERE id = {}",
                NOW + 60,
                l.enrollment.0
            ))
            .await;
            let out = s
                .claim(ME, &[email_claim(l, e, 0)], NOW + 3)
                .await
                .expect("claim");
            assert_eq!(out, vec![Claimed::AlreadyDone], "{}", s.engine);
            // A claim that got no touch leaves its enrollment due and unleased, to be decided
            // afresh from its touches (the hold's empty due time left it never due again).
            let r = s
                .rows(&format!(
                    "SELECT next_due_at, lease_owner FROM enrollments WHERE id = {}",
                    l.enrollment.0
                ))
                .await;
            assert_eq!(
                (r[0][0].as_deref(), r[0][1].as_deref()),
                (Some((NOW + 3).to_string().as_str()), None),
                "{}",
                s.engine
            );
            s.close().await;
        },
    )
    .await;
}

#[tokio::test]
async fn suppression_added_between_lease_and_claim_prevents_the_send() {
    for_each_store(
        "suppression_added_between_lease_and_claim_prevents_the_send",
        |s| async move {
            let leased = enrolled_and_leased(
                &s,
                &[
                    "raw@acme.example",
                    "someone@blocked.example",
                    "listed@acme.example",
                    "fine@acme.example",
                ],
            )
            .await;
            // A suppression row that no stop went with (written by another process or a
            // path that does not stop enrollments): the claim's own check catches it.
            s.exec(&format!(
                "INSERT INTO suppressions (value, reason, created_at) VALUES ('raw@acme.example', 'unsubscribed', {})",
                NOW + 1
            ))
            .await;
            // A domain suppression written the same way.
            s.exec(&format!(
                "INSERT INTO suppressions (value, reason, created_at) VALUES ('@blocked.example', 'manual', {})",
                NOW + 1
            ))
            .await;
            // `drumbeat suppress` also stops the enrollment it covers: the claim is Lost.
            s.suppress("listed@acme.example", "unsubscribed", None, NOW + 1)
                .await
                .expect("suppress");

            let claims: Vec<_> = leased
                .iter()
                .enumerate()
                .map(|(i, (l, e))| email_claim(l, e, i))
                .collect();
            let out = s.claim(ME, &claims, NOW + 2).await.expect("claim");
            assert_eq!(out[0], Claimed::Suppressed, "{}", s.engine);
            assert_eq!(out[1], Claimed::Suppressed, "{}", s.engine);
            assert_eq!(out[2], Claimed::Lost, "{}", s.engine);
            assert!(
                matches!(out[3], Claimed::Go { .. }),
                "{}: {:?}",
                s.engine,
                out[3]
            );
            for (l, _) in &leased[..3] {
                assert!(
                    touches_of(&s, l.enrollment).await.is_empty(),
                    "{}: no touch, nothing to send",
                    s.engine
                );
                assert_eq!(
                    enrollment_state(&s, l.enrollment).await,
                    ("stopped".to_string(), Some("suppressed".to_string())),
                    "{}",
                    s.engine
                );
            }
            // Nothing left due for those three: a later lease does not bring them back.
            let again = s
                .lease_due(ME, NOW + 2 * drumbeat::store::LEASE_SECONDS, 100)
                .await
                .expect("lease");
            assert!(
                again
                    .iter()
                    .all(|l| leased[..3].iter().all(|(x, _)| x.enrollment != l.enrollment)),
                "{}",
                s.engine
            );
            s.close().await;
        },
    )
    .await;
}

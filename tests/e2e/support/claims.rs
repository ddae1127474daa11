//! Helpers of the claim tests: enrollments leased by one daemon, and an email claim.

use crate::support::{NOW, StoreCase, email, lead};
use drumbeat::lead::Email;
use drumbeat::store::{Claim, ClaimKind, Claimed, EnrollOutcome, EnrollRequest, LeadId, Leased};

pub const ME: &str = "daemon-a";

/// The epoch of `ME`'s lease of the mailbox `rep`, taken by [`enrolled_and_leased`].
pub const EPOCH: i64 = 1;

/// Stores and enrolls leads with these addresses, first step due at NOW; holds the mailbox
/// `rep` and leases them all as `ME`, and returns the leases in address order.
pub async fn enrolled_and_leased(s: &StoreCase, addresses: &[&str]) -> Vec<(Leased, Email)> {
    let records: Vec<_> = addresses.iter().map(|a| lead(a)).collect();
    let ids: Vec<LeadId> = s
        .upsert_leads(&records, "t", NOW, false)
        .await
        .expect("upsert")
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let emails: Vec<Email> = addresses.iter().map(|a| email(a)).collect();
    let requests: Vec<_> = ids
        .iter()
        .zip(&emails)
        .map(|(id, e)| EnrollRequest {
            lead: *id,
            email: e,
            first_step: "intro",
            due_at: NOW,
        })
        .collect();
    let out = s.enroll(SEQ, &requests, NOW, false).await.expect("enroll");
    assert!(out.iter().all(|o| matches!(o, EnrollOutcome::Enrolled(_))));
    let held = s
        .hold_mailboxes(ME, &["rep"], NOW, NOW, NOW + 60)
        .await
        .expect("hold");
    assert_eq!(held.get("rep"), Some(&EPOCH), "{}: rep held", s.engine);
    let leased = s.lease_due(ME, NOW, 100).await.expect("lease");
    assert_eq!(leased.len(), addresses.len(), "{}: all due", s.engine);
    ids.iter()
        .zip(emails)
        .map(|(id, e)| {
            let l = leased
                .iter()
                .find(|l| l.lead == *id)
                .expect("every lead leased")
                .clone();
            (l, e)
        })
        .collect()
}

/// [`enrolled_and_leased`], then their intros claimed as `ME` (Message-ID
/// `<claim-test-N@example.com>`, N the address's index): the leases and the touches, in
/// address order.
pub async fn claimed_intros(s: &StoreCase, addresses: &[&str]) -> (Vec<(Leased, Email)>, Vec<i64>) {
    let leased = enrolled_and_leased(s, addresses).await;
    let claims: Vec<_> = leased
        .iter()
        .enumerate()
        .map(|(n, (l, e))| email_claim(l, e, n))
        .collect();
    let touches = s
        .claim(ME, &claims, NOW)
        .await
        .expect("claim")
        .into_iter()
        .map(|c| match c {
            Claimed::Go { touch, .. } => touch,
            other => panic!("{}: {other:?}", s.engine),
        })
        .collect();
    (leased, touches)
}

pub fn email_claim<'a>(l: &'a Leased, address: &'a Email, n: usize) -> Claim<'a> {
    Claim {
        enrollment: l.enrollment,
        lead: l.lead,
        email: address,
        sequence_id: &l.sequence_id,
        step_id: "intro",
        due_at: l.due_at,
        kind: ClaimKind::Email {
            mailbox: "rep".into(),
            message_id: format!("<claim-test-{n}@example.com>"),
            subject: "Hello".into(),
            variant: "a".into(),
            recipient_domain: address.domain().to_string(),
            handed: true,
            epoch: EPOCH,
        },
    }
}

const SEQ: &str = "cold-outbound";
